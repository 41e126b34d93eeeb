"""Reliability of the job engine: killed workers, a killed driver, thresholds, retries, hangs, zombies."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from .conftest import Env, attempts_csv, read_output, wait_for, worker_pids, write_inputs


def _assert_exactly_once(output: Path, expected: dict[str, int]) -> None:
    rows = read_output(output)
    keys = Counter(k for k, _ in rows)
    duplicates = [k for k, n in keys.items() if n > 1]
    assert not duplicates, f"duplicated rows: {duplicates[:5]}"
    assert dict(rows) == expected


def _no_temp_files(env: Env, job_name: str, output: Path) -> None:
    job_dir = env.job_dir(job_name)
    assert not (job_dir / "parts").exists()
    leftovers = [p for p in output.parent.iterdir() if p.name != output.name]
    assert leftovers == []


def test_killing_workers_loses_and_duplicates_nothing(any_db_jobs: Env) -> None:
    jobs = any_db_jobs
    expected = write_inputs(jobs.root / "data", 1000, rows=2)
    jobs.deploy(mini_batch_size=10, max_concurrency_per_instance=2, environment_variables={"SCORER_SLEEP": "0.004"})
    job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"))
    rng = random.Random(7)
    kills = 0
    while kills < 5:
        current = jobs.client.jobs.get(job.name)
        assert not current.status.terminal, f"job ended after only {kills} kills; make it slower"
        pids = worker_pids(job.name)
        if pids and current.progress.mini_batches.done > kills * 12:
            os.kill(rng.choice(pids), signal.SIGKILL)
            kills += 1
        time.sleep(0.05)
    final = jobs.wait(job)
    assert final.status == "Completed", final.message
    output = Path(final.outputs["score"].file or "")
    _assert_exactly_once(output, expected)
    _no_temp_files(jobs, job.name, output)
    crashed = [r for r in attempts_csv(jobs.job_dir(job)) if r["result"] == "crashed"]
    assert 1 <= len(crashed) <= 5


def test_killed_driver_resumes_with_identical_output(any_db_jobs: Env) -> None:
    jobs = any_db_jobs
    expected = write_inputs(jobs.root / "data", 300, rows=2)
    jobs.deploy(mini_batch_size=5, max_concurrency_per_instance=2, environment_variables={"SCORER_SLEEP": "0.01"})
    baseline = jobs.client.batch_endpoints.invoke(
        "jobs-ep", input=str(jobs.root / "data"), output_path=str(jobs.root / "baseline")
    )
    job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"))
    half = wait_for(lambda: (j := jobs.client.jobs.get(job.name)).progress.mini_batches.done >= 30 and j)
    os.kill(half.driver.pid, signal.SIGKILL)
    lost = wait_for(lambda: (j := jobs.client.jobs.get(job.name)).driver.lost and j, timeout=30)
    assert "driver lost" in (lost.message or "")
    with jobs.client.services.db.read() as s:
        from sqlalchemy import text

        job_id = s.execute(text("SELECT id FROM jobs WHERE name=:n"), {"n": job.name}).scalar_one()
        done_at_kill = s.execute(
            text("SELECT COUNT(*) FROM minibatches WHERE job_id=:j AND state='done'"), {"j": job_id}
        ).scalar_one()
        leased_at_kill = s.execute(
            text("SELECT COUNT(*) FROM minibatches WHERE job_id=:j AND state='leased'"), {"j": job_id}
        ).scalar_one()
    assert leased_at_kill <= 2 * 2  # workers x prefetch
    rows_before = len(attempts_csv(jobs.job_dir(job)))
    jobs.client.jobs.resume(job.name)
    final = jobs.wait(job)
    assert final.status == "Completed", final.message
    log = attempts_csv(jobs.job_dir(job))
    after = log[rows_before:]
    scored_again = [r for r in after if r["result"] == "ok" and "from the ledger" not in r["message"]]
    assert len(scored_again) == final.progress.mini_batches.total - done_at_kill
    # The attempts log agrees with the output after the kill: one successful attempt per mini-batch.
    ok = sorted(int(r["mini_batch"]) for r in log if r["result"] == "ok")
    assert ok == list(range(final.progress.mini_batches.total))
    assert jobs.wait(baseline).status == "Completed"
    output = Path(final.outputs["score"].file or "")
    assert output.read_bytes() == Path(baseline.outputs["score"].file or "").read_bytes()
    _assert_exactly_once(output, expected)


def test_error_threshold(jobs: Env) -> None:
    poisoned = {3: "POISON", 11: "POISON", 17: "POISON"}
    expected = write_inputs(jobs.root / "data", 20, directives=poisoned)
    k = len(poisoned)
    results = {}
    for threshold in (k, k - 1, -1):
        jobs.deploy(mini_batch_size=1, error_threshold=threshold, retry_settings={"max_retries": 1, "timeout": 30})
        job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"))
        results[threshold] = (jobs.wait(job), jobs.job_dir(job))
    ok, ok_dir = results[k]
    assert ok.status == "Completed"
    entries = [json.loads(line) for line in (ok_dir / "logs" / "errors.jsonl").read_text().splitlines()]
    assert sorted(Path(e["file"]).name for e in entries) == ["f00003.csv", "f00011.csv", "f00017.csv"]
    assert all(e["exception"] == "ValueError" and "poisoned input" in e["message"] and e["traceback"] for e in entries)
    _assert_exactly_once(Path(ok.outputs["score"].file or ""), expected)

    failed, failed_dir = results[k - 1]
    assert failed.status == "Failed"
    assert len((failed_dir / "logs" / "errors.jsonl").read_text().splitlines()) == k
    assert "error threshold exceeded" in (failed.failure_reason or "")
    assert "ValueError: poisoned input" in (failed.failure_reason or "")
    assert not Path(failed.outputs["score"].file or "").exists()

    assert results[-1][0].status == "Completed"


def test_transient_failures_are_retried_and_permanent_ones_tried_exactly_max_retries_plus_one(jobs: Env) -> None:
    directives = dict.fromkeys(range(0, 10, 2), "TRANSIENT")
    directives[9] = "POISON"
    write_inputs(jobs.root / "data", 10, directives=directives)
    jobs.deploy(mini_batch_size=1, retry_settings={"max_retries": 2, "timeout": 30})
    final = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    assert final.status == "Completed"
    assert final.progress.retries >= 5
    rows = attempts_csv(jobs.job_dir(final))
    by_mb: dict[str, list[str]] = {}
    for r in rows:
        by_mb.setdefault(r["mini_batch"], []).append(r["result"])
    for i in range(0, 10, 2):
        assert by_mb[str(i)] == ["failed", "ok"]
    assert by_mb["9"] == ["failed", "failed", "failed"]  # max_retries + 1
    assert final.progress.items.failed == 1


def test_hung_run_is_killed_at_the_timeout_and_retried(jobs: Env) -> None:
    expected = write_inputs(jobs.root / "data", 4, directives={1: "HANG"})
    expected.update({f"f00001-r{r}": (10 + r) * 3 + 1 for r in range(3)})
    jobs.deploy(mini_batch_size=1, retry_settings={"max_retries": 2, "timeout": 2})
    started = time.monotonic()
    final = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    assert final.status == "Completed"
    assert time.monotonic() - started < 30
    results = [r["result"] for r in attempts_csv(jobs.job_dir(final)) if r["mini_batch"] == "1"]
    assert results == ["timeout", "ok"]
    _assert_exactly_once(Path(final.outputs["score"].file or ""), expected)


def test_worker_that_exits_is_replaced(jobs: Env) -> None:
    expected = write_inputs(jobs.root / "data", 6, directives={2: "EXIT"})
    expected.update({f"f00002-r{r}": (20 + r) * 3 + 1 for r in range(3)})
    jobs.deploy(mini_batch_size=1, max_concurrency_per_instance=2)
    final = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    assert final.status == "Completed", final.message
    results = [r["result"] for r in attempts_csv(jobs.job_dir(final)) if r["mini_batch"] == "2"]
    # Ray tells the driver of a dead actor asynchronously; on a loaded machine that can come after the
    # worker's lease ran out, and the attempt is then recorded as released. A local worker's exit is seen at once.
    first = {"crashed"} if getattr(jobs, "executor", "local") == "local" else {"crashed", "released"}
    assert results[0] in first and results[1:] == ["ok"], results
    _assert_exactly_once(Path(final.outputs["score"].file or ""), expected)


def test_stopped_worker_late_commit_is_rejected(any_db_jobs: Env) -> None:
    jobs = any_db_jobs
    expected = write_inputs(jobs.root / "data", 150, directives={0: "STOP"})
    expected.update({f"f00000-r{r}": r * 3 + 1 for r in range(3)})
    # Long enough (150 x 30 ms on the remaining worker) that the job still runs when the stopped one wakes up.
    jobs.deploy(mini_batch_size=1, max_concurrency_per_instance=2, environment_variables={"SCORER_SLEEP": "0.03"})
    job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"))
    pid_file = jobs.state / "stop.pid"
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text()))
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(
            lambda: any(r["result"] == "ok" and r["mini_batch"] == "0" for r in attempts_csv(jobs.job_dir(job))),
            timeout=60,
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    final = jobs.wait(job)
    assert final.status == "Completed", final.message
    rows = [r for r in attempts_csv(jobs.job_dir(job)) if r["mini_batch"] == "0"]
    assert [r["result"] for r in rows].count("ok") == 1
    assert "released" in [r["result"] for r in rows]
    assert "rejected" in [r["result"] for r in rows]
    _assert_exactly_once(Path(final.outputs["score"].file or ""), expected)


def test_init_failure_fails_the_job_quickly_with_the_init_error(jobs: Env) -> None:
    write_inputs(jobs.root / "data", 4)
    jobs.deploy(environment_variables={"FAIL_INIT": "model.pkl is missing"}, max_concurrency_per_instance=2)
    started = time.monotonic()
    final = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    assert final.status == "Failed"
    assert time.monotonic() - started < 30
    assert "init()" in (final.failure_reason or "") and "model.pkl is missing" in (final.failure_reason or "")
    assert final.error and final.error["exception"] == "RuntimeError"


def test_cancel_stops_workers_and_publishes_nothing(jobs: Env) -> None:
    write_inputs(jobs.root / "data", 400)
    jobs.deploy(mini_batch_size=2, max_concurrency_per_instance=2, environment_variables={"SCORER_SLEEP": "0.05"})
    job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"))
    wait_for(lambda: jobs.client.jobs.get(job.name).progress.mini_batches.done >= 2)
    jobs.client.jobs.cancel(job.name)
    started = time.monotonic()
    final = jobs.wait(job, timeout=20)
    assert final.status == "Canceled"
    assert time.monotonic() - started < 10
    wait_for(lambda: not worker_pids(job.name), timeout=10)
    assert not Path(final.outputs["score"].file or "").exists()
