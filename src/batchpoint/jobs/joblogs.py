"""The job folder's ``logs/``: what happened, in files a person can read.

logs/readme.txt                    this layout
logs/driver.log                    the driver's own log
logs/job_progress_overview.txt     one line every few seconds: mini-batches and items done/failed, rate
logs/job_result.txt                the final state and, if it failed, the reason in plain words
logs/job_error.txt                 the first real error: file, mini-batch, exception, message, traceback
logs/processed_mini-batches.csv    one row per attempt: mini_batch, attempt, worker, elapsed, result, ...
logs/errors.jsonl                  one JSON object per failed item (file, mini_batch, attempt, exception, message, traceback)
logs/user/stdout/<worker>.stdout.txt, logs/user/stderr/<worker>.stderr.txt   the scoring script's output
logs/user/error/<worker>.txt       tracebacks of init()/run() failures, per worker
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from batchpoint.common.redact import redact

README = __doc__ or ""
ATTEMPT_COLUMNS = ["mini_batch", "attempt", "worker", "elapsed_seconds", "result", "items", "failed_items", "message"]


class JobLogs:
    """Append-only writers for one job's logs folder."""

    def __init__(self, job_dir: Path) -> None:
        self.dir = job_dir / "logs"
        self.errors_dir = job_dir / "errors"
        (self.dir / "user" / "error").mkdir(parents=True, exist_ok=True)
        self.errors_dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "readme.txt").write_text(README.strip() + "\n")
        attempts = self.dir / "processed_mini-batches.csv"
        is_new = not attempts.exists()
        self._attempts_fh: IO[str] = open(attempts, "a", newline="")  # noqa: SIM115 - closed by close()
        self._attempts = csv.writer(self._attempts_fh)
        if is_new:
            self._attempts.writerow(ATTEMPT_COLUMNS)
        self._progress_fh: IO[str] = open(self.dir / "job_progress_overview.txt", "a")  # noqa: SIM115
        self._unwritten: list[list[Any]] = []

    def attempt(self, mb: int, attempt: int, worker: str, elapsed: float | None, result: str, items: int,
                failed: int, message: str = "") -> None:  # fmt: skip
        """Note an attempt; it reaches the file at ``flush_attempts``, after the driver committed it."""
        elapsed_text = "" if elapsed is None else f"{elapsed:.3f}"
        self._unwritten.append([mb, attempt, worker, elapsed_text, result, items, failed, message[:500]])

    def flush_attempts(self) -> None:
        """Write the noted attempts and hand them to the OS: a killed driver loses none of them."""
        if self._unwritten:
            self._attempts.writerows(self._unwritten)
            self._unwritten.clear()
            self._attempts_fh.flush()

    def reconcile_attempts(self, finished: list[Any]) -> int:
        """After a driver was lost: add the final attempts the ledger has and the log lacks; returns how many.

        A driver that is killed between committing a mini-batch and writing its line leaves the
        log one line short; the ledger (``batch/ledger.py: Finished``) has the outcome.
        """
        self.flush_attempts()
        kinds = {"ok": "done", "partial": "done", "failed": "failed", "timeout": "failed", "crashed": "failed"}
        logged: set[tuple[int, int, str]] = set()
        with open(self.dir / "processed_mini-batches.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["result"] in kinds:
                    logged.add((int(row["mini_batch"]), int(row["attempt"]), kinds[row["result"]]))
        missing = [f for f in finished if (f.idx, f.attempt, f.state) not in logged]
        for f in missing:
            result = ("ok" if f.items_failed == 0 else "partial") if f.state == "done" else "failed"
            elapsed = "" if f.elapsed is None else f"{f.elapsed:.3f}"
            note = "from the ledger: the driver stopped before logging this attempt"
            self._attempts.writerow(
                [f.idx, f.attempt, f.worker or "", elapsed, result, f.items_ok, f.items_failed, note]
            )
        self._attempts_fh.flush()
        return len(missing)

    def user_error(self, worker: str, what: str, error: dict[str, Any]) -> None:
        with open(self.dir / "user" / "error" / f"{worker}.txt", "a") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {what}\n{error.get('traceback') or error}\n")

    def stderr_tail(self, worker: str, lines: int = 5, width: int = 300) -> list[str]:
        """The last non-empty lines a worker wrote to stderr (each cut to ``width``, secrets masked)."""
        path = self.dir / "user" / "stderr" / f"{worker}.stderr.txt"
        try:
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 8192))
                data = fh.read()
        except OSError:
            return []
        found = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
        return [redact(line)[:width] for line in found[-lines:]]

    def progress(self, line: str) -> None:
        self._progress_fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
        self._progress_fh.flush()

    def write_item_errors(self, mb: int, records: list[dict[str, Any]]) -> None:
        """Failed items of one mini-batch, replacing any earlier record for it (idempotent on retries)."""
        path = self.errors_dir / f"{mb:010d}.jsonl"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            for record in records:
                fh.write(json.dumps(record, default=str) + "\n")
        os.replace(tmp, path)

    def rebuild_errors(self, mini_batches: list[int]) -> int:
        """Write ``errors.jsonl`` from the committed mini-batches' error records, in mini-batch order."""
        target = self.dir / "errors.jsonl"
        tmp = target.with_suffix(".tmp")
        count = 0
        with open(tmp, "w") as out:
            for mb in mini_batches:
                path = self.errors_dir / f"{mb:010d}.jsonl"
                if path.exists():
                    text = path.read_text()
                    out.write(text)
                    count += text.count("\n")
        os.replace(tmp, target)
        return count

    def result(self, state: str, reason: str | None, summary: dict[str, Any]) -> None:
        lines = [f"state: {state}"]
        if reason:
            lines.append(f"reason: {reason}")
        lines += [f"{k}: {v}" for k, v in summary.items()]
        (self.dir / "job_result.txt").write_text("\n".join(lines) + "\n")

    def first_error(self, error: dict[str, Any]) -> None:
        path = self.dir / "job_error.txt"
        if path.exists():
            return
        head = {k: v for k, v in error.items() if k != "traceback"}
        path.write_text(json.dumps(head, indent=2, default=str) + "\n\n" + str(error.get("traceback", "")) + "\n")

    def close(self) -> None:
        self.flush_attempts()
        self._attempts_fh.close()
        self._progress_fh.close()
