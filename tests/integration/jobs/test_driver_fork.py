"""An embedded job's driver forked from the invoking process: when it happens, and what it must not keep.

The fork saves a fresh interpreter's imports; these tests make sure it is taken only when safe and
that the driver lets go of everything of the caller's (sockets, pipes, stdout of a CLI call).
"""

from __future__ import annotations

import os
import select
import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from batchpoint import Client
from batchpoint.launcher import forking
from batchpoint.store.db import Database, sqlite_url

from .conftest import Env, read_output, wait_for, write_inputs


def _driver_origin(env: Env, job: str) -> str:
    log = env.job_dir(job) / "logs" / "driver.log"
    line = wait_for(lambda: next((ln for ln in _lines(log) if "started (" in ln), None), timeout=30)
    return str(line.split("started (", 1)[1].rstrip(")"))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def large_callers_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pytest process grows to about 500 MiB over the whole suite: lift the size limit here."""
    monkeypatch.setattr(forking, "MAX_RSS_BYTES", 8 << 30)


def test_a_single_threaded_caller_is_forked_and_keeps_working(jobs: Env, large_callers_fork: None) -> None:
    assert threading.active_count() == 1, "the test process itself must be single-threaded"
    jobs.deploy(mini_batch_size=2, max_concurrency_per_instance=2)
    expected = write_inputs(jobs.root / "in", 6)
    job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "in"))
    assert _driver_origin(jobs, job.name) == f"forked from pid {os.getpid()}"
    final = jobs.wait(job)
    assert final.status.value == "Completed", final.message
    assert dict(read_output(Path(final.outputs["score"].path) / "predictions.csv")) == expected
    # The caller's database connections were closed before the fork and open again on demand.
    assert [j.name for j in jobs.client.jobs.list()] == [job.name]


def test_the_driver_keeps_none_of_the_callers_sockets_or_pipes(jobs: Env, large_callers_fork: None) -> None:
    jobs.deploy(mini_batch_size=1, max_concurrency_per_instance=1, environment_variables={"SCORER_SLEEP": "0.5"})
    write_inputs(jobs.root / "in", 6)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    read_end, write_end = os.pipe()
    job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "in"))
    assert _driver_origin(jobs, job.name).startswith("forked")
    driver_pid = wait_for(lambda: jobs.client.jobs.get(job.name).driver.pid)
    listener.close()
    os.close(write_end)
    try:
        # With the driver holding no copy, the pipe reports end-of-file and the port is free again.
        assert select.select([read_end], [], [], 5)[0] and os.read(read_end, 1) == b""
        socket.create_server(("127.0.0.1", port)).close()
        assert not jobs.client.jobs.get(job.name).status.terminal, "the checks must run while the driver runs"
        assert Path(f"/proc/{driver_pid}/comm").read_text().strip() == "batchpoint-drv"
        # ps shows what a fresh driver's command line would be, not the caller's.
        cmdline = Path(f"/proc/{driver_pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert f"batchpoint.jobs.driver --workspace {jobs.client.workspace_path} --job {job.name}" in cmdline
        assert os.getsid(driver_pid) != os.getsid(0), "the driver has a session of its own"
    finally:
        os.close(read_end)
    assert jobs.wait(job).status.value == "Completed"


def test_a_threaded_caller_gets_a_fresh_interpreter(jobs: Env) -> None:
    jobs.deploy(mini_batch_size=2)
    write_inputs(jobs.root / "in", 2)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "in"))
    finally:
        stop.set()
        thread.join()
    assert _driver_origin(jobs, job.name) == "fresh interpreter"
    assert jobs.wait(job).status.value == "Completed"


def test_a_large_caller_gets_a_fresh_interpreter(jobs: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs.deploy(mini_batch_size=2)
    write_inputs(jobs.root / "in", 2)
    monkeypatch.setattr(forking, "MAX_RSS_BYTES", 1 << 20)  # this test process is far larger than 1 MiB
    job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "in"))
    assert _driver_origin(jobs, job.name) == "fresh interpreter"
    assert jobs.wait(job).status.value == "Completed"


def test_forking_can_be_turned_off(jobs: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs.deploy(mini_batch_size=2)
    write_inputs(jobs.root / "in", 2)
    monkeypatch.setenv("BATCHPOINT_ENGINE_FORK_DRIVER", "false")
    with Client(jobs.root) as client:
        job = client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "in"))
    assert _driver_origin(jobs, job.name) == "fresh interpreter"
    assert jobs.wait(job).status.value == "Completed"


def test_no_fork_while_a_database_session_is_open(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "meta.db"))
    try:
        with db.read() as session:
            session.execute(text("SELECT 1"))  # the session holds a connection from here on
            assert Database.release_all_for_fork() is False
        assert Database.release_all_for_fork() is True
        with db.read():  # and the database reconnects afterwards
            pass
    finally:
        db.dispose()
