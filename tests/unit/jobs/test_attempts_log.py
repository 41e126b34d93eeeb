"""The attempts log (``logs/processed_mini-batches.csv``) agrees with the ledger after any kill."""

from __future__ import annotations

import csv
from pathlib import Path

from batchpoint.batch.ledger import Finished
from batchpoint.jobs.joblogs import JobLogs


def _rows(job_dir: Path) -> list[dict[str, str]]:
    with open(job_dir / "logs" / "processed_mini-batches.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_attempts_reach_the_file_only_when_flushed_after_the_commit(tmp_path: Path) -> None:
    logs = JobLogs(tmp_path)
    logs.attempt(0, 1, "w0", 0.1, "ok", 2, 0)
    assert _rows(tmp_path) == []  # not committed yet: a killed driver leaves no line for it
    logs.flush_attempts()
    assert [r["mini_batch"] for r in _rows(tmp_path)] == ["0"]
    logs.close()


def test_a_resumed_driver_adds_the_committed_attempts_the_killed_one_had_not_logged(tmp_path: Path) -> None:
    first = JobLogs(tmp_path)
    first.attempt(0, 1, "w0", 0.1, "ok", 2, 0)
    first.attempt(1, 1, "w1", 0.2, "failed", 0, 2, "boom")
    first.flush_attempts()
    first.close()
    # Killed after the ledger committed mini-batches 1 (second try) and 2, before their lines were written.
    finished = [
        Finished(0, "done", 1, "w0", 0.1, 2, 0),
        Finished(1, "done", 2, "w0", 0.3, 2, 0),
        Finished(2, "failed", 3, "w1", 0.4, 0, 2),
    ]
    second = JobLogs(tmp_path)
    assert second.reconcile_attempts(finished) == 2
    assert second.reconcile_attempts(finished) == 0  # idempotent
    second.close()
    rows = _rows(tmp_path)
    assert [(r["mini_batch"], r["attempt"], r["result"]) for r in rows] == [
        ("0", "1", "ok"), ("1", "1", "failed"), ("1", "2", "ok"), ("2", "3", "failed"),
    ]  # fmt: skip
    assert "from the ledger" in rows[-1]["message"]
