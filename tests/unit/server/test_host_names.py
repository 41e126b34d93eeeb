"""The Host allowlist reads every spelling of a loopback Host header, IPv6 with a port included."""

from __future__ import annotations

import pytest

from batchpoint.server.guards import allowed_hosts, host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [("[::1]:8080", "::1"), ("[::1]", "::1"), ("127.0.0.1:80", "127.0.0.1"), ("LocalHost.:8080", "localhost")],
)
def test_host_names(header: str, name: str) -> None:
    assert host_name(header) == name
    assert name in allowed_hosts(None, "127.0.0.1")
