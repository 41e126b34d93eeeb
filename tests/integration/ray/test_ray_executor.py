"""The job engine's semantics on both executors: local worker processes and Ray actors on a two-node cluster.

The engine's own scenarios (``tests/integration/jobs``) run here once per executor, unchanged: retries,
the error threshold and ``errors.jsonl``, a hung ``run()`` killed at the timeout, a worker that exits,
a frozen worker whose late result is rejected, ``init()`` failures, cancel, a killed driver and resume,
output formats and logs. The scenarios that need to find or break a worker's process are written here:
killing workers (an actor process on Ray) and, on Ray only, removing a node during a job.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from .conftest import (
    ExecutorEnv,
    RayCluster,
    cleanup,
    descendants,
    listening_sockets,
    load_suite,
    make_env,
    suite,
)

reliability = load_suite("test_job_reliability")
outputs = load_suite("test_job_outputs")

SCENARIOS = [
    (reliability, "test_killed_driver_resumes_with_identical_output"),
    (reliability, "test_error_threshold"),
    (reliability, "test_transient_failures_are_retried_and_permanent_ones_tried_exactly_max_retries_plus_one"),
    (reliability, "test_hung_run_is_killed_at_the_timeout_and_retried"),
    (reliability, "test_worker_that_exits_is_replaced"),
    (reliability, "test_stopped_worker_late_commit_is_rejected"),
    (reliability, "test_init_failure_fails_the_job_quickly_with_the_init_error"),
    (reliability, "test_cancel_stops_workers_and_publishes_nothing"),
    (outputs, "test_dataframe_output_is_real_csv_with_header_in_stable_order"),
    (outputs, "test_job_logs_layout"),
    (outputs, "test_data_asset_and_datastore_uris"),
]


@pytest.mark.parametrize(("module", "scenario"), SCENARIOS, ids=[name.removeprefix("test_") for _, name in SCENARIOS])
def test_engine_scenario(jobs: ExecutorEnv, module: object, scenario: str) -> None:
    getattr(module, scenario)(jobs)


def _assert_exactly_once(output: Path, expected: dict[str, int]) -> None:
    rows = suite.read_output(output)
    duplicates = [k for k, n in Counter(k for k, _ in rows).items() if n > 1]
    assert not duplicates, f"duplicated rows: {duplicates[:5]}"
    assert dict(rows) == expected


def test_happy_path_is_exactly_once_and_identical_across_executors(jobs: ExecutorEnv, tmp_path: Path) -> None:
    expected = suite.write_inputs(jobs.root / "data", 60, rows=2)
    jobs.deploy(mini_batch_size=4, max_concurrency_per_instance=2)
    final = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    assert final.status == "Completed", final.message
    output = Path(final.outputs["score"].file or "")
    _assert_exactly_once(output, expected)
    # The merged output is in input order whoever scored it: the same bytes from either executor.
    assert output.read_bytes() == b"".join(
        f"{k},{v}\n".encode() for k, v in sorted(expected.items(), key=lambda kv: kv[0])
    )
    assert final.progress.mini_batches.done == 15 and final.progress.items.succeeded == 60
    assert not (jobs.job_dir(final) / "parts").exists()


def test_killing_workers_loses_and_duplicates_nothing(jobs: ExecutorEnv) -> None:
    expected = suite.write_inputs(jobs.root / "data", 600, rows=2)
    jobs.deploy(mini_batch_size=10, max_concurrency_per_instance=2, environment_variables={"SCORER_SLEEP": "0.01"})
    job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"))
    rng = random.Random(7)
    kills = 0
    while kills < 3:
        current = jobs.client.jobs.get(job.name)
        assert not current.status.terminal, f"job ended after only {kills} kills; make it slower"
        pids = jobs.worker_pids(job.name)
        if pids and current.progress.mini_batches.done > kills * 8 + 4:
            os.kill(rng.choice(pids), signal.SIGKILL)
            kills += 1
        time.sleep(0.05)
    final = jobs.wait(job)
    assert final.status == "Completed", final.message
    output = Path(final.outputs["score"].file or "")
    _assert_exactly_once(output, expected)
    assert not (jobs.job_dir(job) / "parts").exists()
    results = [r["result"] for r in suite.attempts_csv(jobs.job_dir(job))]
    # A killed worker costs only what it held: at most its head mini-batch (crashed) and one prefetched (released).
    assert 1 <= results.count("crashed") <= 3
    assert results.count("ok") == 60


@pytest.mark.ray
def test_removing_a_node_during_a_job_costs_only_its_mini_batches(
    ray_jobs: ExecutorEnv, ray_cluster: RayCluster
) -> None:
    expected = suite.write_inputs(ray_jobs.root / "data", 300, rows=2)
    ray_jobs.deploy(mini_batch_size=2, max_concurrency_per_instance=2, environment_variables={"SCORER_SLEEP": "0.02"})
    job = ray_jobs.client.batch_endpoints.invoke("jobs-ep", input=str(ray_jobs.root / "data"))
    # Both actors up (one per node: each takes the node's only CPU), and the job well under way.
    suite.wait_for(lambda: len(ray_jobs.worker_pids(job.name)) == 2, timeout=60)
    suite.wait_for(lambda: ray_jobs.client.jobs.get(job.name).progress.mini_batches.done >= 10, timeout=60)
    (node,) = ray_cluster.worker_nodes()
    ray_cluster.cluster.remove_node(node, allow_graceful=False)
    try:
        final = ray_jobs.wait(job)
        assert final.status == "Completed", final.message
        _assert_exactly_once(Path(final.outputs["score"].file or ""), expected)
        results = Counter(r["result"] for r in suite.attempts_csv(ray_jobs.job_dir(job)))
        assert results["ok"] == 150
        # What the lost actor held came back: as a crash (Ray said it died) or a release (it fell silent first).
        assert 1 <= results["crashed"] + results["released"] <= 2, results
    finally:
        ray_cluster.restore()


@pytest.mark.ray
def test_ray_client_address(ray_jobs: ExecutorEnv, ray_cluster: RayCluster) -> None:
    """A compute whose address is ray://HOST:PORT (Ray Client) runs jobs like one on the cluster itself."""
    ray_jobs.client.computes.create("ray-client", type="ray", address=ray_cluster.client_address, max_instances=2)
    ray_jobs.compute = "ray-client"
    expected = suite.write_inputs(ray_jobs.root / "data", 20, rows=2, directives={3: "TRANSIENT"})
    ray_jobs.deploy(mini_batch_size=2, max_concurrency_per_instance=2)
    final = ray_jobs.wait(ray_jobs.client.batch_endpoints.invoke("jobs-ep", input=str(ray_jobs.root / "data")))
    assert final.status == "Completed", final.message
    expected.update({f"f00003-r{r}": (30 + r) * 3 + 1 for r in range(2)})
    _assert_exactly_once(Path(final.outputs["score"].file or ""), expected)
    assert final.progress.retries == 1


@pytest.mark.ray
def test_worker_resources_no_node_can_hold_fail_the_job_plainly(ray_jobs: ExecutorEnv) -> None:
    """A worker that needs a GPU on a cluster without one (and that may not grow) fails fast, saying why."""
    ray_jobs.client.computes.create("gpu", type="ray", address="auto", resources={"GPU": 1}, max_instances=2)
    ray_jobs.compute = "gpu"
    suite.write_inputs(ray_jobs.root / "data", 4)
    ray_jobs.deploy(max_concurrency_per_instance=2)
    started = time.monotonic()
    final = ray_jobs.wait(ray_jobs.client.batch_endpoints.invoke("jobs-ep", input=str(ray_jobs.root / "data")))
    assert final.status == "Failed"
    assert time.monotonic() - started < 60
    assert "InsufficientResources" in (final.failure_reason or "")
    assert "'GPU': 1.0" in (final.failure_reason or "")


@pytest.mark.ray
def test_local_address_starts_a_private_loopback_ray_with_token_auth(tmp_path: Path, engine_env: None) -> None:
    """``--address local``: a Ray of the job's own, every port on loopback, the dashboard behind a token, gone after."""
    pytest.importorskip("ray", reason="needs the ray extra: pip install -e '.[ray]'")
    env = make_env(tmp_path, "ray", address="local")
    try:
        expected = suite.write_inputs(env.root / "data", 60, rows=1)
        env.deploy(mini_batch_size=1, max_concurrency_per_instance=2, environment_variables={"SCORER_SLEEP": "0.15"})
        job = env.client.batch_endpoints.invoke("jobs-ep", input=str(env.root / "data"))
        running = suite.wait_for(
            lambda: (j := env.client.jobs.get(job.name)).progress.mini_batches.done >= 2 and j, timeout=120
        )
        tree = descendants(running.driver.pid)
        sockets = listening_sockets(tree | {running.driver.pid})
        assert len(sockets) >= 5, sockets  # GCS, raylet, object manager, workers, dashboard...
        exposed = [s for s in sockets if not s[3]]
        assert not exposed, f"Ray ports not on loopback: {exposed}"
        session = [c for pid in tree if "--session-dir=" in (c := suite_cmdline(pid))]
        assert session, "no Ray process of the private cluster found"
        temp_dir = re.search(r"--session-dir=(/\S+?/)session_", session[0])
        assert temp_dir and "bp-ray-" in temp_dir.group(1)
        dashboards = [m for pid in tree if (m := re.search(r"dashboard\.py .*--port=(\d+)", suite_cmdline(pid)))]
        assert dashboards, "the private Ray has no dashboard"
        port = int(dashboards[0].group(1))
        assert any(s[2] == port and s[3] for s in sockets)
        with pytest.raises(urllib.error.HTTPError) as refused:  # no token, no entry (ShadowRay)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/jobs/", timeout=10)
        assert refused.value.code == 401
        final = env.wait(job)
        assert final.status == "Completed", final.message
        _assert_exactly_once(Path(final.outputs["score"].file or ""), expected)
        suite.wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in tree), timeout=30)
        assert not Path(temp_dir.group(1)).exists()
    finally:
        cleanup(env)


def suite_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
