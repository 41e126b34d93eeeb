"""The server's job queue: a concurrency limit per compute, cancel while queued, and no lost job after a crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from batchpoint.jobs.schemas import JobState

from .conftest import Server, ServerFactory, deploy, kill_tree_of, read_predictions, wait_for, write_inputs

ACTIVE = {JobState.preparing, JobState.running, JobState.finalizing, JobState.cancel_requested}


@pytest.fixture(scope="module")
def server(server_factory: ServerFactory) -> Server:
    server = server_factory({"BATCHPOINT_SERVER_JOBS_PER_COMPUTE": "1"})
    client = server.client()
    client.batch_endpoints.create_from_file(None, name="queue-ep")
    deploy(
        client,
        server.project.parent / "local",
        "queue-ep",
        "slow",
        mini_batch_size=1,
        environment_variables={"SCORER_SLEEP": "0.25"},
    )
    return server


def _inputs(server: Server, name: str, n_files: int) -> tuple[Path, dict[str, int]]:
    folder = server.project.parent / name
    return folder, write_inputs(folder, n_files)


def _outputs(server: Server, job_name: str) -> dict[str, int]:
    path = server.workspace / "jobs" / job_name / "outputs" / "score" / "predictions.csv"
    rows = read_predictions(path)
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), "duplicated rows"
    return {r[0]: int(r[1]) for r in rows}


def test_one_job_at_a_time_per_compute_and_waiting_jobs_are_not_lost(server: Server) -> None:
    client = server.client()
    # 16 files of 0.25 s: each job takes 2 s or more on two workers, so the third waits longer than
    # driver_stale_seconds (3 s) in the queue, which is what the keep-alive check below needs to see.
    folder, expected = _inputs(server, "limit-data", 16)
    jobs = [client.batch_endpoints.invoke("queue-ep", input=str(folder)).name for _ in range(3)]
    most_active = 0
    seen_waiting_alive = False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        views = [client.jobs.get(name) for name in jobs]
        most_active = max(most_active, sum(v.status in ACTIVE for v in views))
        for view in views:
            if view.status is JobState.queued:
                assert not view.driver.lost, f"a queued job looks lost: {view.message}"
                age = time.time() - view.created_at.timestamp() if view.created_at else 0
                seen_waiting_alive |= age > 3.5  # older than driver_stale_seconds, still alive
        if all(v.status.terminal for v in views):
            break
        time.sleep(0.1)
    finals = [client.jobs.get(name) for name in jobs]
    assert [f.status for f in finals] == [JobState.completed] * 3, [f.message for f in finals]
    assert most_active == 1
    assert seen_waiting_alive
    starts = [f.started_at for f in finals]
    assert starts == sorted(starts), "jobs did not start in the order they were queued"
    for name in jobs:
        assert _outputs(server, name) == expected


def test_cancel_a_queued_job_before_it_starts(server: Server) -> None:
    client = server.client()
    folder, _ = _inputs(server, "cancel-data", 8)
    first = client.batch_endpoints.invoke("queue-ep", input=str(folder))
    second = client.batch_endpoints.invoke("queue-ep", input=str(folder))
    wait_for(lambda: client.jobs.get(first.name).status in ACTIVE, timeout=60)
    assert client.jobs.get(second.name).status is JobState.queued
    client.jobs.cancel(second.name)
    final = wait_for(lambda: (j := client.jobs.get(second.name)).status.terminal and j, timeout=30)
    assert final.status is JobState.canceled and final.started_at is None
    client.jobs.cancel(first.name)
    assert wait_for(lambda: client.jobs.get(first.name).status.terminal, timeout=60)


def test_server_crash_loses_no_job(server: Server) -> None:
    """kill -9 the server and every driver and worker mid-job: after a restart both jobs complete, exactly once."""
    client = server.client()
    folder, expected = _inputs(server, "crash-data", 12)
    running = client.batch_endpoints.invoke("queue-ep", input=str(folder)).name
    queued = client.batch_endpoints.invoke("queue-ep", input=str(folder)).name
    wait_for(lambda: client.jobs.get(running).progress.mini_batches.done >= 3, timeout=120)
    server.kill9()
    kill_tree_of(server.workspace)  # the machine went down: drivers and workers too
    server.start()
    client = server.client()
    for name in (running, queued):
        final = wait_for(lambda n=name: (j := client.jobs.get(n)).status.terminal and j, timeout=180)
        assert final.status is JobState.completed, final.message
        assert _outputs(server, name) == expected
    resumed = client.jobs.get(running)
    assert resumed.driver.epoch >= 3  # started by the first server, restarted by the second
