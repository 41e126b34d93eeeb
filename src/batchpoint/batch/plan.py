"""Planning: list the input once, cut it into mini-batches, persist the plan.

The plan file holds one JSON-encoded path per line; a mini-batch row records the byte offset of
its first line and its file count. Rows are inserted in chunks as the listing streams, so driver
memory does not grow with the number of files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import delete, insert

from batchpoint.store import Database
from batchpoint.store.tables import MiniBatchRow

CHUNK = 5000


def write_plan(
    db: Database, job_id: int, files: Iterable[str], plan_file: Path, mini_batch_size: int
) -> tuple[int, int]:
    """Write the plan and its mini-batch rows; returns (mini-batches, files)."""
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    with db.session() as s:
        s.execute(delete(MiniBatchRow).where(MiniBatchRow.job_id == job_id))
    rows: list[dict[str, int]] = []
    n_files = 0
    n_batches = 0
    offset = 0
    batch_start = 0
    with open(plan_file, "wb") as out:
        for path in files:
            if n_files % mini_batch_size == 0:
                batch_start = offset
            line = (json.dumps(path) + "\n").encode()
            out.write(line)
            offset += len(line)
            n_files += 1
            if n_files % mini_batch_size == 0:
                rows.append({"job_id": job_id, "idx": n_batches, "offset": batch_start, "count": mini_batch_size})
                n_batches += 1
            if len(rows) >= CHUNK:
                _insert(db, rows)
                rows = []
        remainder = n_files % mini_batch_size
        if remainder:
            rows.append({"job_id": job_id, "idx": n_batches, "offset": batch_start, "count": remainder})
            n_batches += 1
        out.flush()
    if rows:
        _insert(db, rows)
    return n_batches, n_files


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
