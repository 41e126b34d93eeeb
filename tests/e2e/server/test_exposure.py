"""Default exposure: after a default start only loopback listens, and every listener refuses anonymous calls."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import httpx
import pytest

from .conftest import Server, ServerFactory


@pytest.fixture(scope="module")
def server(server_factory: ServerFactory) -> Server:
    return server_factory()  # no --host: the default


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _decode(address: str, v6: bool) -> tuple[str, int]:
    host_hex, port_hex = address.split(":")
    raw = bytes.fromhex(host_hex)
    if v6:
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        host = str(ipaddress.IPv6Address(words))
    else:
        host = socket.inet_ntoa(raw[::-1])
    return host, int(port_hex, 16)


def listeners(pid: int) -> list[tuple[str, int]]:
    """(address, port) of the TCP sockets in LISTEN state that process ``pid`` holds."""
    mine = _socket_inodes(pid)
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in mine:
                found.append(_decode(local, v6))
    return found


def test_default_start_listens_on_loopback_only(server: Server) -> None:
    found = listeners(server.pid)
    assert found, "the server holds no listening socket"
    for host, _port in found:
        assert ipaddress.ip_address(host).is_loopback, f"listening on {host}"


def test_every_listener_refuses_unauthenticated_calls(server: Server) -> None:
    for host, port in listeners(server.pid):
        base = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        assert httpx.get(f"{base}/health").status_code == 200
        for method, path in [
            ("GET", "/"),
            ("GET", "/api/v1/models"),
            ("GET", "/metrics"),
            ("GET", "/docs"),
            ("GET", "/openapi.json"),
            ("POST", "/api/v1/batch-endpoints/x-ep/jobs"),
            ("POST", "/endpoints/batch/x-ep/jobs"),
            ("DELETE", "/api/v1/batch-endpoints/x-ep"),
            ("PUT", "/health"),
            ("OPTIONS", "/api/v1/models"),
        ]:
            response = httpx.request(method, f"{base}{path}", json={} if method in ("POST", "PUT") else None)
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["www-authenticate"] == "Bearer"


def test_a_fresh_server_has_no_default_password(server: Server) -> None:
    """Only the bootstrap token works; the common defaults do not."""
    for guess in ("admin", "password", "password1234", "changeme", "token", "bp_", "null"):
        response = httpx.get(f"{server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {guess}"})
        assert response.status_code == 401
    assert server.http(server.token).get("/api/v1/whoami").json()["role"] == "owner"


def test_a_generated_owner_token_is_printed_once(server_factory: ServerFactory) -> None:
    server = server_factory(start=False)
    del server.env["BATCHPOINT_BOOTSTRAP_TOKEN"]
    server.start()
    log = server.log.read_text()
    tokens = [word for word in log.split() if word.startswith("bp_")]
    assert len(tokens) == 1
    assert server.http(tokens[0]).get("/api/v1/whoami").json()["role"] == "owner"
    server.stop()
    server.start()
    assert len([w for w in server.log.read_text().split() if w.startswith("bp_")]) == 1
