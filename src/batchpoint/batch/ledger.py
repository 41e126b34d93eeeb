"""The driver's writes to the metadata database: leases, compare-and-set commits, job counters.

Every mini-batch change names the attempt token it expects (``WHERE token = :token``), so a late
or duplicated attempt changes nothing. Every job change names the driver epoch it expects
(``WHERE driver_epoch = :epoch``), so a driver that was replaced by ``job resume`` cannot write
either: it finds out and exits (``Superseded``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from batchpoint.jobs.record import CancelPending, JobRecord, Superseded

__all__ = ["Batch", "CancelPending", "Finished", "Ledger", "Pending", "Superseded"]


@dataclass(frozen=True)
class Pending:
    idx: int
    offset: int
    count: int
    attempts: int


@dataclass(frozen=True)
class Finished:
    """A mini-batch's final outcome as the ledger has it (to reconcile the attempts log on resume)."""

    idx: int
    state: str
    attempt: int
    worker: str | None
    elapsed: float | None
    items_ok: int
    items_failed: int


@dataclass
class Batch:
    """The writes of one loop iteration, applied in one transaction."""

    leases: list[dict[str, Any]] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    retries: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.leases or self.commits or self.retries or self.failures or self.releases)


_LEASE = text(
    "UPDATE minibatches SET state='leased', token=:token, worker=:worker "
    "WHERE job_id=:job AND idx=:idx AND state='pending'"
)
_COMMIT = text(
    "UPDATE minibatches SET state='done', token=:token, worker=:worker, items_ok=:items_ok, "
    "items_failed=:items_failed, part=:part, part_size=:part_size, elapsed=:elapsed "
    "WHERE job_id=:job AND idx=:idx AND token=:token AND state='leased'"
)
_RETRY = text(
    "UPDATE minibatches SET state='pending', token=NULL, attempts=:attempts "
    "WHERE job_id=:job AND idx=:idx AND token=:token AND state='leased'"
)
_FAIL = text(
    "UPDATE minibatches SET state='failed', attempts=:attempts, items_ok=0, items_failed=:items_failed, "
    "elapsed=:elapsed WHERE job_id=:job AND idx=:idx AND token=:token AND state='leased'"
)
_RELEASE = text(
    "UPDATE minibatches SET state='pending', token=NULL WHERE job_id=:job AND idx=:idx AND token=:token "
    "AND state='leased'"
)


class Ledger(JobRecord):
    """Database access of one driver for one job: the job row (``JobRecord``) and its mini-batch rows."""

    def _job(self, values: dict[str, Any]) -> dict[str, Any]:
        return {"job": self.job_id, **values}

    def reset_in_flight(self) -> int:
        """At driver start: leases of a previous driver are void; their mini-batches are pending again."""
        with self.db.session() as s:
            result = s.execute(
                text("UPDATE minibatches SET state='pending', token=NULL WHERE job_id=:job AND state='leased'"),
                {"job": self.job_id},
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def fetch_pending(self, after: int, limit: int = 2000) -> list[Pending]:
        with self.db.read() as s:
            rows = s.execute(
                text(
                    'SELECT idx, "offset", count, attempts FROM minibatches '
                    "WHERE job_id=:job AND state='pending' AND idx>:after ORDER BY idx LIMIT :limit"
                ),
                {"job": self.job_id, "after": after, "limit": limit},
            ).all()
        return [Pending(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def apply(self, batch: Batch, job_values: dict[str, Any]) -> set[str]:
        """Apply one iteration's writes; returns the tokens whose commit was rejected."""
        rejected: set[str] = set()
        with self.db.session() as s:
            guard = s.execute(
                text(
                    f"UPDATE jobs SET {', '.join(f'{k}=:{k}' for k in job_values)} WHERE id=:job AND driver_epoch=:epoch"
                ),
                {**job_values, "job": self.job_id, "epoch": self.epoch},
            )
            if not guard.rowcount:  # type: ignore[attr-defined]
                raise Superseded(f"job {self.job_id} is driven by a newer driver")
            for values in batch.commits:
                if not s.execute(_COMMIT, self._job(values)).rowcount:  # type: ignore[attr-defined]
                    rejected.add(values["token"])
            for stmt, rows in ((_RETRY, batch.retries), (_FAIL, batch.failures), (_RELEASE, batch.releases)):
                for values in rows:
                    if not s.execute(stmt, self._job(values)).rowcount:  # type: ignore[attr-defined]
                        rejected.add(values["token"])
            # NOTE: leases last: a mini-batch retried in this iteration may be leased again in it too.
            if batch.leases:
                s.execute(_LEASE, [self._job(v) for v in batch.leases])
        return rejected

    def totals(self) -> dict[str, int]:
        """Counters recomputed from the mini-batch rows (after a resume)."""
        with self.db.read() as s:
            row = s.execute(
                text(
                    "SELECT COALESCE(SUM(CASE WHEN state='done' THEN 1 ELSE 0 END),0), "
                    "COALESCE(SUM(CASE WHEN state='failed' THEN 1 ELSE 0 END),0), "
                    "COALESCE(SUM(items_ok),0), COALESCE(SUM(items_failed),0), COUNT(*), COALESCE(SUM(count),0) "
                    "FROM minibatches WHERE job_id=:job"
                ),
                {"job": self.job_id},
            ).one()
        keys = ["mb_done", "mb_failed", "items_ok", "items_failed", "mb_total", "items_total"]
        return {k: int(v) for k, v in zip(keys, row, strict=True)}

    def committed_parts(self) -> list[tuple[int, str, int | None]]:
        with self.db.read() as s:
            rows = s.execute(
                text(
                    "SELECT idx, part, part_size FROM minibatches WHERE job_id=:job AND state='done' "
                    "AND part IS NOT NULL ORDER BY idx"
                ),
                {"job": self.job_id},
            ).all()
        return [(int(r[0]), str(r[1]), None if r[2] is None else int(r[2])) for r in rows]

    def finished(self) -> list[Finished]:
        """The mini-batches that are done or failed for good, in order."""
        with self.db.read() as s:
            rows = s.execute(
                text(
                    "SELECT idx, state, attempts, worker, elapsed, items_ok, items_failed FROM minibatches "
                    "WHERE job_id=:job AND state IN ('done', 'failed') ORDER BY idx"
                ),
                {"job": self.job_id},
            ).all()
        # A done mini-batch's successful attempt is the one after its failed ones; a failed one's is its last.
        return [
            Finished(int(r[0]), str(r[1]), int(r[2]) + (1 if r[1] == "done" else 0), r[3], r[4], int(r[5]), int(r[6]))
            for r in rows
        ]

    def with_errors(self) -> list[int]:
        with self.db.read() as s:
            rows = s.execute(
                text("SELECT idx FROM minibatches WHERE job_id=:job AND items_failed>0 ORDER BY idx"),
                {"job": self.job_id},
            ).all()
        return [int(r[0]) for r in rows]

    def reset(self, mini_batches: list[int]) -> None:
        """Send committed mini-batches back to pending (their part file was lost)."""
        with self.db.session() as s:
            s.execute(
                text("UPDATE minibatches SET state='pending', token=NULL, part=NULL WHERE job_id=:job AND idx=:idx"),
                [{"job": self.job_id, "idx": i} for i in mini_batches],
            )

    @staticmethod
    def now() -> float:
        return time.time()
