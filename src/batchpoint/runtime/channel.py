"""A JSON-lines message channel over a socket, shared by the driver and its workers.

Each message is one JSON object on one line. Writes are serialised with a lock because a worker
sends heartbeats from a second thread.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import Any


class Channel:
    """Send and receive JSON messages over a connected stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self._buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            self.sock.sendall(data)

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive_available(self) -> list[dict[str, Any]] | None:
        """Read what is there (one ``recv``); returns the complete messages, or None at end of stream."""
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            return None
        self._buffer += chunk
        if b"\n" not in self._buffer:
            return []
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line]

    def receive(self) -> dict[str, Any] | None:
        """Block until one message arrives (worker side); None at end of stream."""
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
