"""What each attempt's outcome means for the job: commits, retries, final failures, the error threshold.

The decisions are collected into a ``Batch`` of database writes that the driver applies once per
loop iteration; failed items are recorded per mini-batch (``errors/<mini-batch>.jsonl``) so that
``logs/errors.jsonl`` can be rebuilt exactly once from what was committed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from batchpoint.batch.ledger import Batch, Pending
from batchpoint.batch.scheduler import Attempt, PendingQueue
from batchpoint.endpoints.settings import BatchDeploymentSettings
from batchpoint.executors.messages import TaskResult
from batchpoint.jobs.joblogs import JobLogs
from batchpoint.jobs.schemas import JobState


class JobAbort(Exception):
    """The job must stop now: ``state`` and a reason in plain words."""

    def __init__(self, state: JobState, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


class Accounting:
    """Counters, pending database writes and error records of one driver."""

    def __init__(
        self,
        settings: BatchDeploymentSettings,
        logs: JobLogs,
        pending: PendingQueue,
        parts_dir: Path,
        *,
        mini_batch_threshold: int = -1,
    ) -> None:
        self.settings = settings
        self.mini_batch_threshold = mini_batch_threshold
        self.logs = logs
        self.pending = pending
        self.parts_dir = parts_dir
        self.batch = Batch()
        self.totals: dict[str, int] = {}
        self.retries = 0
        self.first_error: dict[str, Any] | None = None

    def take_batch(self) -> Batch:
        """The writes decided so far (and a fresh, empty batch for what comes next)."""
        batch, self.batch = self.batch, Batch()
        return batch

    def commit(self, worker: str, attempt: Attempt, message: TaskResult) -> None:
        ok = min(message.returned, attempt.count)
        failed = attempt.count - ok
        records = self.item_error_records(attempt, message, failed)
        if records:
            self.logs.write_item_errors(attempt.idx, records)
            self.record_first_error(records[0])
        if ok == 0 and failed > 0:
            # Not one item scored: the mini-batch failed, whatever run() returned (the counts of mini-batches
            # and items never disagree). It is not retried: run() answered, and would answer the same again.
            self.remove_part(attempt.idx, attempt.token)
            self.logs.attempt(
                attempt.idx, attempt.attempt, worker, message.elapsed, "failed", 0, failed, records[0]["message"]
            )
            self.fail_for_good(attempt, message.elapsed)
            return
        self.batch.commits.append(
            {
                "idx": attempt.idx, "token": attempt.token, "worker": worker, "items_ok": ok,
                "items_failed": failed, "part": attempt.part if message.part_size is not None else None,
                "part_size": message.part_size, "elapsed": message.elapsed,
            }
        )  # fmt: skip
        self.totals["mb_done"] += 1
        self.totals["items_ok"] += ok
        self.count_failed_items(failed)
        result = "ok" if failed == 0 else "partial"
        self.logs.attempt(attempt.idx, attempt.attempt, worker, message.elapsed, result, ok, failed)

    def item_error_records(self, attempt: Attempt, message: TaskResult, failed: int) -> list[dict[str, Any]]:
        base = {"mini_batch": attempt.idx, "attempt": attempt.attempt}
        if message.item_errors:
            return [
                {"file": e.get("file"), **base, **{k: v for k, v in e.items() if k != "file"}}
                for e in message.item_errors
            ]
        if not failed:
            return []
        text = f"run() returned {message.returned} result(s) for {attempt.count} input file(s)"
        record = {**base, "exception": "MissingResults", "message": text, "traceback": ""}
        if failed == attempt.count:  # none scored: every file is one of the failed ones
            return [{"file": f, **record} for f in attempt.files]
        return [{"file": None, **record}] * failed  # which files run() left out, it does not say

    def attempt_failed(
        self, worker: str, attempt: Attempt, error: dict[str, Any], elapsed: float | None, *, result: str
    ) -> None:
        attempts = attempt.attempts_before + 1
        self.logs.attempt(attempt.idx, attempt.attempt, worker, elapsed, result, 0, attempt.count, error["message"])
        self.logs.user_error(worker, f"run() failed on mini-batch {attempt.idx} attempt {attempt.attempt}", error)
        file_hint = attempt.files[0] if len(attempt.files) == 1 else None
        self.record_first_error({**error, "file": file_hint, "mini_batch": attempt.idx, "attempt": attempt.attempt})
        self.remove_part(attempt.idx, attempt.token)
        if attempts <= self.settings.retry_settings.max_retries:
            self.retries += 1
            self.batch.retries.append({"idx": attempt.idx, "token": attempt.token, "attempts": attempts})
            self.pending.push_retry(Pending(attempt.idx, attempt.offset, attempt.count, attempts))
            return
        records = [{**error, "file": f, "mini_batch": attempt.idx, "attempt": attempt.attempt} for f in attempt.files]
        self.logs.write_item_errors(attempt.idx, records)
        self.fail_for_good(attempt, elapsed)

    def fail_for_good(self, attempt: Attempt, elapsed: float | None) -> None:
        """The mini-batch is failed, every item of it (its error records are written already)."""
        self.batch.failures.append(
            {"idx": attempt.idx, "token": attempt.token, "attempts": attempt.attempts_before + 1,
             "items_failed": attempt.count, "elapsed": elapsed}
        )  # fmt: skip
        self.totals["mb_failed"] += 1
        limit = self.mini_batch_threshold
        if limit >= 0 and self.totals["mb_failed"] > limit:
            raise JobAbort(
                JobState.failed,
                f"mini-batch error threshold exceeded: {self.totals['mb_failed']} failed mini-batch(es) > "
                f"mini_batch_error_threshold {limit}; first error: {self.first_error_words()}",
            )
        self.count_failed_items(attempt.count)

    def count_failed_items(self, failed: int) -> None:
        if not failed:
            return
        self.totals["items_failed"] += failed
        threshold = self.settings.error_threshold
        if threshold >= 0 and self.totals["items_failed"] > threshold:
            raise JobAbort(
                JobState.failed,
                f"error threshold exceeded: {self.totals['items_failed']} failed item(s) > error_threshold "
                f"{threshold}; first error: {self.first_error_words()}",
            )

    def release(self, attempt: Attempt, worker: str, why: str) -> None:
        """Give a mini-batch back without counting an attempt (its worker died or was lost first)."""
        self.batch.releases.append({"idx": attempt.idx, "token": attempt.token})
        self.pending.push_retry(Pending(attempt.idx, attempt.offset, attempt.count, attempt.attempts_before))
        self.logs.attempt(attempt.idx, attempt.attempt, worker, None, "released", 0, 0, why)

    def record_first_error(self, error: dict[str, Any]) -> None:
        if self.first_error is None:
            self.first_error = error
            self.logs.first_error(error)

    def first_error_words(self) -> str:
        err = self.first_error or {}
        where = f" (file {err['file']})" if err.get("file") else ""
        return f"{err.get('exception', 'error')}: {err.get('message', '')}{where}"

    def remove_part(self, idx: int, token: str) -> None:
        for suffix in ("", ".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(self.part_path(idx, token) + suffix)

    def part_path(self, idx: int, token: str) -> str:
        return str(self.parts_dir / f"{idx:010d}.{token}.part")
