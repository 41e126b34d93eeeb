"""The MLflow REST paths of the team server, in front of MLflow's own handlers (``mlflow_backend.py``).

``MlflowPaths`` is an ASGI middleware just inside the Host allowlist: requests under
``/api/2.0/mlflow/``, ``/ajax-api/2.0/mlflow/`` and ``/api/2.0/mlflow-artifacts/`` never reach the
FastAPI routes; every other request passes through untouched. For the MLflow paths it

1. authenticates the bearer token as the rest of the API does (same tokens, same failure limit),
   answering in MLflow's error form (``UNAUTHENTICATED``, ``PERMISSION_DENIED``, ...);
2. authorizes by role (``mlflow_auth.action_of``): readers read, contributors and owners write,
   endpoint-scoped and invoke-only tokens are refused;
3. caps bodies (the API's limit, the upload limit for artifact uploads, which must say their length),
   and refuses a client-chosen ``artifact_location`` (the server decides where artifacts are written);
4. hands the request to MLflow's handlers, in a process of their own (``mlflow_backend.py``,
   ``mlflow_child.py``), without the ``Authorization`` header (MLflow never sees tokens);
5. rewrites answers: the artifact root's ``file://`` URIs become ``mlflow-artifacts:/`` URIs, so a
   remote client uploads and downloads through this server's artifact proxy (as with
   ``mlflow server --serve-artifacts``), and server paths are scrubbed as on every other route.
   Artifact contents are never rewritten.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchpoint.errors import Unauthorized
from batchpoint.server.guards import FailureLimiter
from batchpoint.server.middleware import _replay, header_value, read_body
from batchpoint.server.mlflow_auth import MlflowError, action_of, is_artifacts, is_mlflow, refusal
from batchpoint.server.mlflow_backend import ChildProxy, MlflowBackend, MlflowUnavailable, connect_error
from batchpoint.server.scrub import Scrubber
from batchpoint.tokens import auth

log = logging.getLogger("batchpoint.server.mlflow")


class _Route:
    """Stands in scope["route"] so the request metrics name MLflow requests by service."""


TRACKING_ROUTE, ARTIFACTS_ROUTE = _Route(), _Route()
ROUTE_TEMPLATES = {id(TRACKING_ROUTE): "/api/2.0/mlflow/*", id(ARTIFACTS_ROUTE): "/api/2.0/mlflow-artifacts/*"}
_CREATE_EXPERIMENT = "/mlflow/experiments/create"
_UNAVAILABLE = MlflowError(503, "TEMPORARILY_UNAVAILABLE", "the MLflow process is not running; try again")
_REWRITTEN = (b"application/json", b"text/plain")


class MlflowPaths:
    """ASGI middleware: the MLflow paths, authenticated and authorized; everything else passes through."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        backend: MlflowBackend,
        verify: Callable[[str], auth.Principal],
        on_failure: Callable[[], None],
        limiter: FailureLimiter | None,
        max_body: int,
        max_upload: int,
        scrubber: Callable[[], Scrubber],
    ) -> None:
        self.app = app
        self.backend = backend
        self.verify = verify
        self.on_failure = on_failure
        self.limiter = limiter
        self.max_body = max_body
        self.max_upload = max_upload
        self.make_scrubber = scrubber
        self._scrubber: tuple[float, Scrubber] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_mlflow(scope["path"]):
            await self.app(scope, receive, send)
            return
        scope["route"] = ARTIFACTS_ROUTE if is_artifacts(scope["path"]) else TRACKING_ROUTE
        principal = await self._authenticate(scope)
        if isinstance(principal, MlflowError):
            await _answer(send, principal)
            return
        error = refusal(principal, action_of(scope["method"], scope["path"]))
        if error is None:
            error, receive = await self._checked_body(scope, receive)
        proxy = self.backend.built
        if error is None and proxy is None:
            try:  # the first request starts the MLflow process: seconds, off the event loop
                proxy = await anyio.to_thread.run_sync(self.backend.app)
            except MlflowUnavailable as exc:
                error = exc.error
        if error is not None or proxy is None:
            await _answer(send, error or _UNAVAILABLE)
            return
        await self._pass_on(proxy, scope, receive, send)

    async def _pass_on(self, proxy: ChildProxy, scope: Scope, receive: Receive, send: Send) -> None:
        """The MLflow process answers (the proxy drops the ``Authorization`` header: MLflow never sees tokens)."""
        started = False
        rewriting = self._rewriting(scope, send)

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await rewriting(message)

        try:
            await proxy(scope, receive, tracked)
        except connect_error():
            log.warning("the MLflow process is gone; the next MLflow request starts another")
            self.backend.lost(proxy)
            if not started:
                await _answer(send, _UNAVAILABLE)

    async def _authenticate(self, scope: Scope) -> auth.Principal | MlflowError:
        client = (scope.get("client") or ("unknown",))[0]
        wait = self.limiter.retry_after(client) if self.limiter else 0.0
        if wait > 0:
            message = f"too many failed authentications from {client}; try again in {math.ceil(wait)} s"
            return MlflowError(429, "REQUEST_LIMIT_EXCEEDED", message, retry_after=math.ceil(wait))
        try:
            token = auth.bearer(header_value(scope, b"authorization"))
            return await anyio.to_thread.run_sync(self.verify, token)
        except Unauthorized as exc:
            self.on_failure()
            if self.limiter:
                self.limiter.failed(client)
            hint = "set MLFLOW_TRACKING_TOKEN to a batchpoint token ('batchpoint token create')"
            return MlflowError(401, "UNAUTHENTICATED", f"{exc.message}; {hint}")

    async def _checked_body(self, scope: Scope, receive: Receive) -> tuple[MlflowError | None, Receive]:
        """The body's size checked (and, but for artifact uploads, read and replayed); the request's refusal."""
        upload = is_artifacts(scope["path"]) and scope["method"] == "PUT"
        cap = self.max_upload if upload else self.max_body
        length = header_value(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            return MlflowError(413, "RESOURCE_LIMIT_EXCEEDED", f"request body over the limit of {cap} bytes"), receive
        if upload:
            if length is None:  # counted chunks could only cut a half-written artifact short
                return MlflowError(411, "BAD_REQUEST", "an artifact upload must send Content-Length"), receive
            return None, receive
        body = await read_body(receive, cap)
        if body is None:
            return MlflowError(413, "RESOURCE_LIMIT_EXCEEDED", f"request body over the limit of {cap} bytes"), receive
        if scope["path"].rstrip("/").endswith(_CREATE_EXPERIMENT) and _names_location(body):
            message = "artifact_location is chosen by the server; leave it unset"
            return MlflowError(400, "INVALID_PARAMETER_VALUE", message), receive
        return None, _replay(body, receive)

    def scrubber(self) -> Scrubber:
        now = time.monotonic()
        if self._scrubber is None or now - self._scrubber[0] > 5.0:
            self._scrubber = (now, self.make_scrubber())
        return self._scrubber[1]

    def _rewriting(self, scope: Scope, send: Send) -> Send:
        """``send``, rewriting JSON and text answers (for the artifact proxy: only its errors)."""
        only_errors = is_artifacts(scope["path"])
        held: dict[str, Message] = {}
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                media = dict(message.get("headers", [])).get(b"content-type", b"").split(b";")[0].strip()
                if media in _REWRITTEN and (message["status"] >= 400 or not only_errors):
                    held["start"] = message
                    return
            if message["type"] != "http.response.body" or "start" not in held:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start = held.pop("start")
            body = self.scrubber().bytes(self._proxied(b"".join(chunks)))
            if start["status"] >= 400:
                body = _capped(body)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        return wrapped

    def _proxied(self, body: bytes) -> bytes:
        """The artifact root's file URIs (as JSON writes them) as ``mlflow-artifacts:`` URIs."""
        root = self.backend.artifact_root
        prefix = json.dumps(root.as_uri())[1:-1].encode()
        return body.replace(prefix + b"/", b"mlflow-artifacts:/").replace(prefix + b'"', b'mlflow-artifacts:/"')


def _capped(body: bytes, limit: int = 1000) -> bytes:
    """An error answer with its message cut short: MLflow passes database errors on whole (SQL included)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:limit]
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, str) or len(message) <= limit:
        return body
    data["message"] = message[:limit] + " [...]"
    return json.dumps(data).encode()


def _names_location(body: bytes) -> bool:
    try:
        data: Any = json.loads(body or b"{}")
    except ValueError:
        return False  # MLflow's own handler answers malformed JSON
    return isinstance(data, dict) and bool(data.get("artifact_location"))


async def _answer(send: Send, error: MlflowError) -> None:
    body = error.body()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if error.retry_after is not None:
        headers.append((b"retry-after", str(error.retry_after).encode()))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = ["ROUTE_TEMPLATES", "MlflowPaths"]
