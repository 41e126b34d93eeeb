"""Two guards in front of the API: the Host allowlist and the failed-authentication limit.

* ``HostGate`` answers 400 to a request whose ``Host`` header names a server this is not. A web
  page on another site can make a browser send requests to ``127.0.0.1`` through a domain name
  that it re-points there (DNS rebinding); such requests carry the attacker's name as Host.
* ``FailureLimiter`` counts failed authentications per client address in a sliding window; the
  authentication gate refuses that address with 429 (and ``Retry-After``) once it is over the
  limit, before looking at its token, so guessing tokens goes no faster than the limit. Other
  addresses are unaffected. Behind a reverse proxy every client has the proxy's address (the
  server does not trust ``X-Forwarded-For``), so the limit is then shared.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from batchpoint.errors import BadRequest
from batchpoint.server.middleware import PUBLIC, answer_error, header_value

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_ANY_ADDRESS = ("", "0.0.0.0", "::")


def allowed_hosts(setting: str | None, bind_host: str) -> list[str]:
    """The Host names to answer: loopback always, then the setting or this machine's own names."""
    names = set(LOOPBACK_NAMES)
    if setting:
        names.update(h.strip().lower().rstrip(".") for h in setting.split(",") if h.strip())
        return sorted(names)
    for name in (socket.gethostname(), socket.getfqdn()):
        names.add(name.lower())
    if bind_host not in _ANY_ADDRESS:
        names.add(bind_host.lower().strip("[]"))
    else:
        with contextlib.suppress(OSError):
            names.update(str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None))
    return sorted(names)


def host_name(header: str) -> str:
    """The name part of a Host header: ``[::1]:8080`` → ``::1``, ``Example.com.:80`` → ``example.com``."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


class HostGate:
    """400 for a Host this server does not answer to (the health check is exempt, for probes)."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.any = "*" in allowed
        self.exact = frozenset(h for h in allowed if not h.startswith("*."))
        self.suffixes = tuple(h[1:] for h in allowed if h.startswith("*."))

    def accepts(self, header: str | None) -> bool:
        name = host_name(header or "")
        return self.any or name in self.exact or (bool(self.suffixes) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in PUBLIC:
            await self.app(scope, receive, send)
            return
        header = header_value(scope, b"host")
        if self.accepts(header):
            await self.app(scope, receive, send)
            return
        shown = (header or "")[:100] or "none"
        error = BadRequest(
            f"this server does not answer to the host name '{shown}'",
            field="Host",
            hint="an administrator can add it to BATCHPOINT_SERVER_ALLOWED_HOSTS",
        )
        await answer_error(scope, receive, send, error)


class FailureLimiter:
    """Failed authentications per client address within a sliding window."""

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it is under the limit."""
        failures = self._failures.get(client)
        if not failures:
            return 0.0
        now = self.clock()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0.0
        return failures[0] + self.window - now if len(failures) >= self.limit else 0.0

    def failed(self, client: str) -> None:
        failures = self._failures.pop(client, None) or deque(maxlen=self.limit)
        failures.append(self.clock())
        self._failures[client] = failures  # re-inserted last: the dict stays ordered by latest failure
        if len(self._failures) > self.max_clients:
            del self._failures[next(iter(self._failures))]  # forget the address quiet for longest
