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
        self._last_flush = 0.0

    def attempt(self, mb: int, attempt: int, worker: str, elapsed: float | None, result: str, items: int,
                failed: int, message: str = "") -> None:  # fmt: skip
        elapsed_text = "" if elapsed is None else f"{elapsed:.3f}"
        self._attempts.writerow([mb, attempt, worker, elapsed_text, result, items, failed, message[:500]])
        now = time.monotonic()
        if now - self._last_flush > 1.0:
            self._attempts_fh.flush()
            self._last_flush = now

    def user_error(self, worker: str, what: str, error: dict[str, Any]) -> None:
        with open(self.dir / "user" / "error" / f"{worker}.txt", "a") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {what}\n{error.get('traceback') or error}\n")

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
        self._attempts_fh.close()
        self._progress_fh.close()
