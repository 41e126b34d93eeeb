"""The Host allowlist (DNS rebinding), no CORS for other origins, and 429 after failed authentications.

Against a real ``batchpoint server`` subprocess on loopback.
"""

from __future__ import annotations

import httpx
import pytest

from batchpoint.errors import TooManyRequests
from batchpoint.server.guards import FailureLimiter, host_name

from .conftest import ServerFactory, wait_for

JOBS = "/api/v1/jobs"


def test_requests_for_a_foreign_host_name_get_400(server_factory: ServerFactory) -> None:
    server = server_factory()
    with server.http(server.token) as http:
        assert http.get(JOBS).status_code == 200
        for name in (f"localhost:{server.port}", f"[::1]:{server.port}", "127.0.0.1"):
            assert http.get(JOBS, headers={"Host": name}).status_code == 200, name
        for name in ("attacker.example", f"attacker.example:{server.port}", "127.0.0.1.attacker.example", ""):
            answer = http.get(JOBS, headers={"Host": name})
            assert answer.status_code == 400, name
            assert answer.json()["error"]["code"] == "bad_request" and answer.json()["error"]["field"] == "Host"
        # DELETE like GET (a rebinding page can send any method).
        assert http.delete(f"{JOBS}/x", headers={"Host": "attacker.example"}).status_code == 400
        assert http.get("/health", headers={"Host": "probe.internal"}).status_code == 200  # probes


def test_configured_host_names_and_wildcards(server_factory: ServerFactory) -> None:
    server = server_factory({"BATCHPOINT_SERVER_ALLOWED_HOSTS": "ml.example.com, *.corp.example"})
    with server.http(server.token) as http:
        for name in ("ml.example.com", "ML.Example.com.:443", "team.corp.example", "127.0.0.1"):
            assert http.get(JOBS, headers={"Host": name}).status_code == 200, name
        for name in ("corp.example", "ml.example.com.evil", "example.com"):
            assert http.get(JOBS, headers={"Host": name}).status_code == 400, name


def test_no_cors_for_other_origins(server_factory: ServerFactory) -> None:
    server = server_factory()
    preflight = {
        "Origin": "https://attacker.example",
        "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "authorization",
    }
    with server.http(server.token) as http:
        for answer in (
            http.options(f"{JOBS}/x", headers=preflight),
            http.get(JOBS, headers={"Origin": "https://attacker.example"}),
        ):
            assert not any(key.lower().startswith("access-control-") for key in answer.headers), answer.headers


def test_too_many_failed_authentications_get_429(server_factory: ServerFactory) -> None:
    server = server_factory(
        {"BATCHPOINT_SERVER_AUTH_FAILURE_LIMIT": "5", "BATCHPOINT_SERVER_AUTH_FAILURE_WINDOW_SECONDS": "3"}
    )
    # Linux answers on all of 127.0.0.0/8: a second client address on the same machine.
    other = httpx.HTTPTransport(local_address="127.0.0.2")
    with server.http("bp_guess_" + "x" * 40) as guesser, server.http(server.token) as owner:
        assert [guesser.get(JOBS).status_code for _ in range(5)] == [401] * 5
        refused = guesser.get(JOBS)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_requests"
        assert 1 <= int(refused.headers["Retry-After"]) <= 3
        # Refused before the token is looked at: from this address even a valid token waits.
        assert owner.get(JOBS).status_code == 429
        with server.http(server.token, transport=other) as elsewhere:
            assert elsewhere.get(JOBS).status_code == 200, "another address is not affected"
        with pytest.raises(TooManyRequests):
            server.client().jobs.list()
        # Once the window has passed, the address is served again.
        wait_for(lambda: owner.get(JOBS).status_code == 200, timeout=10, interval=0.5)


def test_failure_limiter_window_and_memory() -> None:
    now = [0.0]
    limiter = FailureLimiter(3, 10.0, clock=lambda: now[0], max_clients=2)
    for _ in range(3):
        assert limiter.retry_after("a") == 0.0
        limiter.failed("a")
    assert limiter.retry_after("a") == pytest.approx(10.0)
    now[0] = 4.0
    assert limiter.retry_after("a") == pytest.approx(6.0)
    now[0] = 10.5
    assert limiter.retry_after("a") == 0.0  # the failures left the window
    for client in ("a", "b", "c"):  # a third address: the one quiet for longest is forgotten
        limiter.failed(client)
    assert set(limiter._failures) == {"b", "c"}


def test_host_name_parsing() -> None:
    assert host_name("[::1]:8080") == "::1"
    assert host_name("Example.COM.:80") == "example.com"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert host_name("::1") == "::1"
    assert host_name("") == ""
