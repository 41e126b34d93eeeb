"""ASGI middleware, outermost first: metrics, the Host allowlist (``guards.py``), the authentication
gate, request limits.

* ``AuthGate`` authenticates every request but ``GET /health`` before any routing, so an unknown
  path or method answers 401 to an anonymous caller as a known one does (default deny).
* ``RequestLimits`` refuses bodies over the cap (413, from ``Content-Length`` or by counting what
  is streamed), content types outside an allowlist (415: JSON for the API, archives and raw bytes
  for uploads, never pickle), and JSON that is deeper than the limit, not UTF-8, has duplicate
  keys or NaN/Infinity (422 naming ``body``).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchpoint.errors import BatchpointError, PayloadTooLarge, TooManyRequests, Unauthorized, UnsupportedMediaType
from batchpoint.server.errors import error_response, from_exception
from batchpoint.tokens import auth

if TYPE_CHECKING:
    from batchpoint.server.guards import FailureLimiter


PRINCIPAL = "batchpoint.principal"
PUBLIC = frozenset({("GET", "/health"), ("HEAD", "/health")})
UPLOAD_PATHS = ("/api/v1/uploads",)
JSON_TYPES = frozenset({"application/json"})
UPLOAD_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/x-tar",
        "application/gzip",
        "application/x-gzip",
        "application/zip",
        "application/x-zip-compressed",
    }
)
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def header_value(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def answer_error(scope: Scope, receive: Receive, send: Send, exc: BatchpointError) -> None:
    await from_exception(exc)(scope, receive, send)


class AuthGate:
    """Every request but the health check needs a valid bearer token; the principal goes into the scope.

    A client address with too many recent failures gets 429 before its token is even looked at.
    """

    def __init__(
        self,
        app: ASGIApp,
        verify: Callable[[str], auth.Principal],
        on_failure: Callable[[], None],
        limiter: FailureLimiter | None = None,
    ) -> None:
        self.app = app
        self.verify = verify
        self.on_failure = on_failure
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in PUBLIC:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown",))[0]
        wait = self.limiter.retry_after(client) if self.limiter else 0.0
        if wait > 0:
            error = TooManyRequests(
                f"too many failed authentications from {client}; try again in {math.ceil(wait)} s",
                field="Authorization",
            )
            response = error_response(429, error.to_dict(), {"Retry-After": str(math.ceil(wait))})
            await response(scope, receive, send)
            return
        try:
            token = auth.bearer(header_value(scope, b"authorization"))
            principal = await anyio.to_thread.run_sync(self.verify, token)
        except Unauthorized as exc:
            self.on_failure()
            if self.limiter:
                self.limiter.failed(client)
            await answer_error(scope, receive, send, exc)
            return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)


class RequestLimits:
    """Body size caps, a content-type allowlist and JSON sanity checks, before FastAPI parses anything."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int, max_depth: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"].startswith(UPLOAD_PATHS) and scope["method"] == "POST"
        cap = self.max_upload if upload else self.max_body
        try:
            has_body = self._check_length(scope, cap)
            if has_body:
                self._check_type(scope, upload)
        except BatchpointError as exc:
            await answer_error(scope, receive, send, exc)
            return
        if upload or not has_body:
            await self.app(scope, self._counting(receive, cap), send)
            return
        try:
            body = await self._read(receive, cap)
            self._check_json(body)
        except BatchpointError as exc:
            await answer_error(scope, receive, send, exc)
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    def _check_length(scope: Scope, cap: int) -> bool:
        """Whether a body follows; 413 at once when its announced length is over ``cap``."""
        length = header_value(scope, b"content-length")
        chunked = header_value(scope, b"transfer-encoding") is not None
        if length is None:
            return chunked
        try:
            size = int(length)
        except ValueError:
            raise PayloadTooLarge("invalid Content-Length", field="Content-Length") from None
        if size < 0:
            raise PayloadTooLarge("invalid Content-Length", field="Content-Length")
        if size > cap:
            raise PayloadTooLarge(f"request body of {size} bytes is over the limit of {cap} bytes", field="body")
        return size > 0 or chunked

    @staticmethod
    def _check_type(scope: Scope, upload: bool) -> None:
        raw = header_value(scope, b"content-type") or ""
        media = raw.split(";", 1)[0].strip().lower()
        allowed = UPLOAD_TYPES if upload else JSON_TYPES
        if media in allowed and "pickle" not in raw.lower():
            return
        expected = ", ".join(sorted(allowed))
        shown = media[:80] if media else "none"
        raise UnsupportedMediaType(
            f"content type '{shown}' is not accepted here; send {expected}", field="Content-Type"
        )

    @staticmethod
    def _counting(receive: Receive, cap: int) -> Receive:
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise PayloadTooLarge(f"request body is over the limit of {cap} bytes", field="body")
            return message

        return wrapped

    @staticmethod
    async def _read(receive: Receive, cap: int) -> bytes:
        body = await read_body(receive, cap)
        if body is None:
            raise PayloadTooLarge(f"request body is over the limit of {cap} bytes", field="body")
        return body

    def _check_json(self, body: bytes) -> None:
        from batchpoint.errors import InvalidInput

        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the body is not UTF-8 text", field="body") from None
        if text.startswith("\ufeff"):
            raise InvalidInput("the body starts with a byte order mark; send plain UTF-8 JSON", field="body")
        depth = 0
        deepest = 0
        for bracket in _BRACKETS.findall(_STRINGS.sub(b'""', body)):
            depth += 1 if bracket in (b"[", b"{") else -1
            deepest = max(deepest, depth)
            if deepest > self.max_depth:
                raise InvalidInput(f"JSON nested deeper than {self.max_depth} levels", field="body")
        try:
            json.loads(text, parse_constant=_no_constants, parse_float=_finite, object_pairs_hook=_no_duplicates)
        except InvalidInput:
            raise
        except (ValueError, RecursionError) as exc:
            raise InvalidInput(f"malformed JSON: {str(exc)[:200]}", field="body") from None


def _no_constants(value: str) -> Any:
    from batchpoint.errors import InvalidInput

    raise InvalidInput(f"'{value}' is not valid JSON (NaN and Infinity are refused)", field="body")


def _finite(value: str) -> float:
    from batchpoint.errors import InvalidInput

    number = float(value)
    if math.isinf(number):
        raise InvalidInput(f"number '{value[:40]}' is out of range", field="body")
    return number


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    from batchpoint.errors import InvalidInput

    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput(f"duplicate key '{key[:100]}' in the JSON body", field="body")
        result[key] = value
    return result


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped


class MetricsMiddleware:
    """Counts requests by method, route template and status, and times them."""

    def __init__(
        self, app: ASGIApp, observe: Callable[[str, str, int, float], None], templates: dict[int, str]
    ) -> None:
        self.app = app
        self.observe = observe
        self.templates = templates
        """Full path template (with the router's prefix) of each route object, by id."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            template = self.templates.get(id(scope.get("route")), "unmatched")
            self.observe(scope["method"], template, status, time.perf_counter() - started)


__all__ = ["PRINCIPAL", "AuthGate", "MetricsMiddleware", "RequestLimits"]


async def read_body(receive: Receive, cap: int) -> bytes | None:
    """The whole request body, or None as soon as it is over ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
