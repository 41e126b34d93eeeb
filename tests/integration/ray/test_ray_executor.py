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
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from .conftest import EXECUTORS, ExecutorEnv, RayCluster, load_suite, suite

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
