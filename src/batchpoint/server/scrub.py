"""Remote callers never see the server's absolute paths: every JSON and text answer is rewritten.

A job view, a deployment, an error message or a log file can carry paths of the server's machine
(the workspace folder, a datastore's root, the server's interpreter). They say nothing a caller
needs and tell an attacker where things are, so one middleware rewrites them in every answer of
type JSON or plain text, whatever route or error handler produced it:

* a datastore's root becomes its URI, ``azureml://datastores/<name>/paths/...``;
* the workspace folder becomes ``<workspace>``, the folder holding it ``<project>``;
* the server's Python installation and batchpoint's own sources become ``<python>`` and ``<batchpoint>``.

Files handed out as archives (outputs, logs, models) are not touched: their content is the job's.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REWRITTEN = (b"application/json", b"text/plain")
_AFTER = rb"(?![A-Za-z0-9_.\-])"
SRC_ROOT = Path(__file__).resolve().parent.parent.parent


class Scrubber:
    """Replaces known server folders in text by names that mean something to a remote caller."""

    def __init__(self, replacements: list[tuple[Path, str]]) -> None:
        ordered = sorted(
            ((str(path).rstrip("/"), name) for path, name in replacements if str(path) not in ("", "/")),
            key=lambda item: -len(item[0]),
        )
        self.pairs = [(re.compile(re.escape(p.encode()) + _AFTER), name.encode()) for p, name in ordered]

    def bytes(self, data: bytes) -> bytes:
        if b"/" not in data:
            return data
        for pattern, name in self.pairs:
            data = pattern.sub(lambda _m, n=name: n, data)  # type: ignore[misc]
        return data

    def text(self, value: str) -> str:
        return self.bytes(value.encode()).decode()


def server_folders(workspace_root: Path, datastores: list[tuple[str, str]]) -> list[tuple[Path, str]]:
    """What to replace, for one workspace and its datastores ``(name, root)``."""
    pairs = [(Path(root), f"azureml://datastores/{name}/paths") for name, root in datastores]
    for path in {workspace_root, workspace_root.resolve()}:
        pairs += [(path, "<workspace>"), (path.parent, "<project>")]
    pairs += [(SRC_ROOT, "<batchpoint>"), (Path(sys.prefix), "<python>"), (Path(sys.base_prefix), "<python>")]
    return pairs


class ScrubPaths:
    """ASGI middleware: rewrites JSON and text answers with a ``Scrubber`` (refreshed every few seconds)."""

    def __init__(self, app: ASGIApp, make: Callable[[], Scrubber], refresh_seconds: float = 5.0) -> None:
        self.app = app
        self.make = make
        self.refresh_seconds = refresh_seconds
        self._scrubber: Scrubber | None = None
        self._made_at = 0.0

    def scrubber(self) -> Scrubber:
        now = time.monotonic()
        if self._scrubber is None or now - self._made_at > self.refresh_seconds:
            self._scrubber, self._made_at = self.make(), now
        return self._scrubber

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                media = headers.get(b"content-type", b"").split(b";")[0].strip()
                if media not in _REWRITTEN:
                    await send(message)
                    return
                held["start"] = message
                return
            if message["type"] != "http.response.body" or "start" not in held:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = self.scrubber().bytes(b"".join(chunks))
            start = held.pop("start")
            start["headers"] = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"] + [
                (b"content-length", str(len(body)).encode())
            ]
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, rewrite)
