"""The server's side of its MLflow process (``mlflow_child.py``): start it on first use, pass requests on.

MLflow takes seconds to import and brings cloudpickle with it, so the server never imports it: the
first MLflow request (already authenticated and authorized by ``mlflow_api.py``) starts
``python -m batchpoint.server.mlflow_child`` on a Unix socket in a fresh 0700 folder, waits for it,
and from then on every MLflow request is streamed to it and its answer streamed back. The child
exits with the server (it watches its parent) and is stopped by the app's shutdown; if it dies, the
next request starts another. Without the ``mlflow`` extra (mlflow, flask, flask-cors, a2wsgi)
``MlflowUnavailable`` says so and the paths answer 501.

The socket has no authentication of its own: only the server's OS user can reach its folder, and a
process running as that user could read the tracking store directly anyway.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpcore
from starlette.types import Receive, Scope, Send

from batchpoint.server.mlflow_auth import MlflowError
from batchpoint.server.mlflow_child import REQUIRED

_START_TIMEOUT = 120.0
_HOP_HEADERS = frozenset({b"authorization", b"host", b"connection", b"keep-alive", b"transfer-encoding", b"te"})
_HOP_ANSWER = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"date", b"server"})


class MlflowUnavailable(Exception):
    """The MLflow process cannot serve: the extra is not installed, or it did not start."""

    def __init__(self, error: MlflowError) -> None:
        super().__init__(error.message)
        self.error = error


class MlflowBackend:
    """The MLflow process of one server: started once, on first use (thread-safe), stopped by ``close``."""

    def __init__(self, workspace: Path, artifact_root: Path) -> None:
        self.workspace = workspace
        self.artifact_root = artifact_root
        """Where the proxied artifacts are (``<workspace>/mlruns``): answers' ``file://`` URIs under it are rewritten."""
        self._proxy: ChildProxy | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> ChildProxy | None:
        """The proxy if the process is up already (no thread hop on every request), else None."""
        return self._proxy

    def app(self) -> ChildProxy:
        """The proxy to the process, starting it first (seconds); ``MlflowUnavailable`` when it cannot be."""
        with self._lock:
            if self._proxy is None or not self._proxy.alive():
                if self._proxy is not None:
                    self._proxy.close()
                self._proxy = None
                self._proxy = ChildProxy.start(self.workspace)
            return self._proxy

    def lost(self, proxy: ChildProxy) -> None:
        """A request found the process gone: the next one starts another."""
        with self._lock:
            if self._proxy is proxy:
                proxy.close()
                self._proxy = None

    def close(self) -> None:
        with self._lock:
            if self._proxy is not None:
                self._proxy.close()
                self._proxy = None


def _missing() -> str | None:
    for name in REQUIRED:
        if importlib.util.find_spec(name) is None:
            return name.replace("_", "-")
    return None


class ChildProxy:
    """An ASGI app that passes each request to the MLflow process over its socket, streaming both ways."""

    def __init__(self, proc: subprocess.Popen[bytes], folder: Path, sock: Path) -> None:
        self.proc = proc
        self.folder = folder
        self.sock = sock
        # httpcore rather than httpx: the request is passed on as it is, and a layer less costs less per call.
        self.pool = httpcore.AsyncConnectionPool(uds=str(sock))

    @classmethod
    def start(cls, workspace: Path) -> ChildProxy:
        missing = _missing()
        if missing:
            raise MlflowUnavailable(
                MlflowError(
                    501,
                    "NOT_IMPLEMENTED",
                    f"this server has no MLflow tracking API: {missing} is not installed "
                    "(install batchpoint[mlflow] on the server)",
                )
            )
        folder = Path(tempfile.mkdtemp(prefix="bp-mlflow-"))  # 0700; short, for the 108-byte socket path limit
        sock = folder / "mlflow.sock"
        command = [sys.executable, "-m", "batchpoint.server.mlflow_child", "--workspace", str(workspace)]
        proc = subprocess.Popen([*command, "--socket", str(sock)], stdin=subprocess.DEVNULL, env=dict(os.environ))
        proxy = cls(proc, folder, sock)
        if not proxy._wait_ready():
            proxy.close()
            raise MlflowUnavailable(
                MlflowError(503, "TEMPORARILY_UNAVAILABLE", "the MLflow process did not start (see the server's log)")
            )
        return proxy

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(str(self.sock))
                return True
            time.sleep(0.05)
        return False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on as it came (its raw target, so MLflow judges the path as sent)."""
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_HEADERS]
        headers.append((b"host", b"mlflow"))
        names = {k.lower() for k, _ in scope["headers"]}
        content: bytes | AsyncIterator[bytes] = b""  # a GET goes on without a body
        if b"content-length" in names:
            content = _body(receive)
        elif b"transfer-encoding" in names:
            content = _body(receive)
            headers.append((b"transfer-encoding", b"chunked"))
        url = httpcore.URL(scheme=b"http", host=b"mlflow", port=None, target=target)
        answer = await self.pool.handle_async_request(
            httpcore.Request(scope["method"].encode(), url, headers=headers, content=content)
        )
        try:
            kept = [(k.lower(), v) for k, v in answer.headers if k.lower() not in _HOP_ANSWER]
            await send({"type": "http.response.start", "status": answer.status, "headers": kept})
            async for chunk in answer.stream:  # type: ignore[union-attr]
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await answer.aclose()


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def connect_error() -> tuple[type[Exception], ...]:
    """What a request to a dead process raises."""
    return (httpcore.ConnectError, httpcore.RemoteProtocolError, httpcore.ReadError, FileNotFoundError)


__all__ = ["ChildProxy", "MlflowBackend", "MlflowUnavailable", "connect_error"]
