"""The server's supervisor: ``GET /api/v1/supervisor`` shows its duties to owners; ``/health`` stays plain."""

from __future__ import annotations

from .conftest import Server, ServerFactory


def test_owner_sees_the_job_queue_duty_and_health_says_nothing_more(server_factory: ServerFactory) -> None:
    server: Server = server_factory()
    with server.http(server.token) as owner:
        report = owner.get("/api/v1/supervisor")
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["mode"] == "server"
        queue = next(d for d in body["duties"] if d["name"] == "job-queue")
        assert queue["state"] == "running"
        reader_token = owner.post("/api/v1/tokens", json={"role": "reader", "expires": "1d"}).json()["token"]
        assert owner.get("/health").json() == {"status": "ok"}  # even with an owner token
    with server.http(reader_token) as reader:
        assert reader.get("/api/v1/supervisor").status_code == 403
    with server.http() as anonymous:
        assert anonymous.get("/api/v1/supervisor").status_code == 401
        assert anonymous.get("/health").json() == {"status": "ok"}
