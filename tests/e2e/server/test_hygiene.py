"""Security hygiene of the team server, against a real server process.

* a tar made with ``tar -C dir .`` (first member ``.``) uploads;
* ``HEAD /health`` answers like ``GET /health``, without a token and without a body;
* tokens never reach the server's log, also when a client puts one in the query string;
* error answers never echo a huge rejected value back whole.
"""

from __future__ import annotations

import io
import socket
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Server, ServerFactory, wait_for

MAX_ERROR_BODY = 5000


@pytest.fixture(scope="module")
def server(server_factory: ServerFactory) -> Server:
    return server_factory()


# -- archives ------------------------------------------------------------------------------------------
def _tar_c_dot(folder: Path) -> bytes:
    """The archive ``tar -C folder -czf - .`` writes: ``.`` first, then ``./a.csv``, ``./sub``, ``./sub/b.csv``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
        assert tar.getnames()[0] == "."
        assert {"./a.csv", "./sub/b.csv"} <= set(tar.getnames())
    return buffer.getvalue()


def test_a_tar_made_with_tar_c_dir_dot_uploads(server: Server, tmp_path: Path) -> None:
    folder = tmp_path / "inputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("key,x\na,1\n")
    (folder / "sub" / "b.csv").write_text("key,x\nb,2\n")
    with server.http(server.token) as http:
        answer = http.post(
            "/api/v1/uploads",
            params={"name": "inputs"},
            content=_tar_c_dot(folder),
            headers={"Content-Type": "application/gzip"},
        )
    assert answer.status_code == 201, answer.text
    upload = answer.json()
    assert upload["files"] == 2
    stored = server.workspace / "datastores" / "workspaceblobstore" / "uploads" / upload["id"] / "inputs"
    assert sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file()) == [
        "a.csv",
        "sub/b.csv",
    ]
    assert (stored / "sub" / "b.csv").read_text() == "key,x\nb,2\n"


def test_a_root_member_that_climbs_is_still_refused(server: Server) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(tarfile.TarInfo("."), None)
        evil = tarfile.TarInfo("./../evil.py")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    with server.http(server.token) as http:
        answer = http.post(
            "/api/v1/uploads",
            params={"name": "evil"},
            content=buffer.getvalue(),
            headers={"Content-Type": "application/gzip"},
        )
    assert answer.status_code == 422, answer.text
    assert not (server.workspace / "datastores" / "workspaceblobstore" / "uploads" / "evil.py").exists()


# -- HEAD /health --------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_head_health_answers_like_get_without_a_body(server: Server, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        head = http.head("/health", headers=headers)
        get = http.get("/health", headers=headers)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert get.json() == {"status": "ok"}


def test_head_is_public_on_health_only(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.head("/api/v1/whoami").status_code == 401
        assert http.head("/metrics").status_code == 401


def test_head_health_is_not_in_the_openapi_document(server: Server) -> None:
    """The document marks GET /health as public; a HEAD operation there would be declared as needing a token."""
    with server.http(server.token) as http:
        paths = http.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/health"]) == {"get"}


# -- secrets in the log --------------------------------------------------------------------------------
def test_tokens_in_the_query_string_do_not_reach_the_log(server: Server) -> None:
    reader = server.client().tokens.create("reader").token
    reader_id, reader_secret = reader[3:19], reader[20:]
    owner_secret = server.token  # the bootstrap token: free-form, so masked by its value
    with server.http(server.token) as http:
        answer = http.get("/api/v1/whoami", params={"token": server.token})
        assert answer.status_code == 200, answer.text
        assert http.get("/api/v1/whoami", params={"access_token": reader, "sig": "s3cr3t-sig"}).status_code == 200
        # a token where no parameter name gives it away: the id stays, the secret goes
        assert http.get(f"/api/v1/models/{reader}").status_code == 404
    log_of = server.log.read_text
    wait_for(lambda: f"/api/v1/models/bp_{reader_id}_***" in log_of(), timeout=10)
    log = log_of()
    assert '"GET /api/v1/whoami?token=*** HTTP/1.1" 200' in log
    assert "/api/v1/whoami?access_token=***&sig=*** HTTP/1.1" in log
    for secret in (owner_secret, reader_secret, "s3cr3t-sig"):
        assert secret not in log


# -- echoed values -------------------------------------------------------------------------------------
def _small_error(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code < 500, answer.text[:500]
    assert len(answer.content) < MAX_ERROR_BODY, len(answer.content)
    return dict(answer.json()["error"]) if answer.content else {}


@pytest.mark.parametrize("name", ["a" * 100_000, "a" * 100_000 + "/x", "-" + "a" * 100_000])
def test_a_huge_name_in_a_body_is_not_echoed_whole(server: Server, name: str) -> None:
    with server.http(server.token) as http:
        answer = http.post("/api/v1/models", json={"name": name, "version": "1", "path": "azureml://x"})
    assert answer.status_code == 422, answer.text[:500]
    error = _small_error(answer)
    assert len(error["message"]) <= 2000 and len(error.get("field") or "") <= 200


def test_a_long_name_in_a_path_is_not_echoed_whole(server: Server) -> None:
    """60,000 characters: as long as httpx lets a URL be."""
    with server.http(server.token) as http:
        answer = http.get("/api/v1/models/" + "a" * 60_000)
    assert answer.status_code in (400, 404, 414, 422, 431), answer.status_code
    _small_error(answer)


def _raw_get(server: Server, path: str) -> bytes:
    """The whole answer to a GET sent over a plain socket (httpx refuses URLs over 64 KB)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token}\r\nConnection: close\r\n\r\n"
    )
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        try:
            sock.sendall(request.encode())
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionError:
            pass  # the HTTP layer may drop a request line this long: nothing is echoed then
    return received


def test_a_huge_name_in_a_path_is_not_echoed_whole(server: Server) -> None:
    answer = _raw_get(server, "/api/v1/models/" + "a" * 100_000)
    assert len(answer) < MAX_ERROR_BODY, answer[:500]
    if answer:
        status = int(answer.split(b" ", 2)[1])
        assert status in (400, 404, 414, 422, 431), answer[:500]
