"""Planning: list the input once, cut it into mini-batches, persist the plan.

The plan file holds one JSON-encoded path per line; a mini-batch row records the byte offset of
its first line and its file count. Rows are inserted in chunks as the listing streams, so driver
memory does not grow with the number of files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import delete, insert

from batchpoint.store import Database
from batchpoint.store.tables import MiniBatchRow

CHUNK = 5000


def write_plan(
    db: Database,
    job_id: int,
    files: Iterable[str],
    plan_file: Path,
    mini_batch_size: int,
    *,
    max_bytes: int | None = None,
) -> tuple[int, int]:
    """Write the plan and its mini-batch rows; returns (mini-batches, files).

    A mini-batch holds ``mini_batch_size`` files or, with ``max_bytes``, files up to that many bytes
    together (at least one file: a file larger than the budget is a mini-batch of its own).
    """
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    with db.session() as s:
        s.execute(delete(MiniBatchRow).where(MiniBatchRow.job_id == job_id))
    rows: list[dict[str, int]] = []
    n_files = n_batches = offset = batch_start = in_batch = batch_bytes = 0
    with open(plan_file, "wb") as out:
        for path in files:
            size = _size(path) if max_bytes is not None else 0
            if in_batch and max_bytes is not None and batch_bytes + size > max_bytes:
                rows.append({"job_id": job_id, "idx": n_batches, "offset": batch_start, "count": in_batch})
                n_batches, in_batch, batch_bytes = n_batches + 1, 0, 0
            if in_batch == 0:
                batch_start = offset
            line = (json.dumps(path) + "\n").encode()
            out.write(line)
            offset += len(line)
            n_files += 1
            in_batch += 1
            batch_bytes += size
            if max_bytes is None and in_batch == mini_batch_size:
                rows.append({"job_id": job_id, "idx": n_batches, "offset": batch_start, "count": in_batch})
                n_batches, in_batch = n_batches + 1, 0
            if len(rows) >= CHUNK:
                _insert(db, rows)
                rows = []
        if in_batch:
            rows.append({"job_id": job_id, "idx": n_batches, "offset": batch_start, "count": in_batch})
            n_batches += 1
        out.flush()
    if rows:
        _insert(db, rows)
    return n_batches, n_files


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # gone since it was listed: its mini-batch reports it
        return 0


def _insert(db: Database, rows: list[dict[str, int]]) -> None:
    with db.session() as s:
        s.execute(insert(MiniBatchRow), [{**r, "state": "pending", "attempts": 0} for r in rows])


class PlanReader:
    """Random access to a mini-batch's files by byte offset (kept open by the driver)."""

    def __init__(self, plan_file: Path) -> None:
        self._fh = open(plan_file, "rb")  # noqa: SIM115 - closed by close()

    def files(self, offset: int, count: int) -> list[str]:
        self._fh.seek(offset)
        return [json.loads(self._fh.readline()) for _ in range(count)]

    def __iter__(self) -> Iterator[str]:
        self._fh.seek(0)
        for line in self._fh:
            yield json.loads(line)

    def close(self) -> None:
        self._fh.close()
