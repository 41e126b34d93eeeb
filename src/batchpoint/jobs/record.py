"""A driver's fenced writes to its own job row: the part of the lifecycle every job kind shares.

Every change names the driver epoch it expects (``WHERE driver_epoch = :epoch``), so a driver that
was replaced (``job resume``, or the supervisor restarting a lost driver) cannot write: it finds out
and exits (``Superseded``). Kinds with more state of their own extend this (the batch engine's
``batch/ledger.py`` adds its mini-batch rows).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from batchpoint.store import Database


class Superseded(Exception):
    """Another driver (a newer epoch) owns this job now."""


class JobRecord:
    """One driver's view of one job row."""

    def __init__(self, db: Database, job_id: int, epoch: int) -> None:
        self.db = db
        self.job_id = job_id
        self.epoch = epoch

    def set_state(self, state: str, **values: Any) -> None:
        with self.db.session() as s:
            sets = ", ".join(f"{k}=:{k}" for k in ["state", *values])
            result = s.execute(
                text(f"UPDATE jobs SET {sets} WHERE id=:job AND driver_epoch=:epoch"),
                {"state": state, **values, "job": self.job_id, "epoch": self.epoch},
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise Superseded(f"job {self.job_id} is driven by a newer driver")

    def heartbeat(self) -> bool:
        """Write the driver's heartbeat alone; False when a newer driver owns the job.

        For a helper thread that keeps the heartbeat fresh while the driver waits (an executor's slow
        start): it does not raise ``Superseded``, the driver's own next write does.
        """
        with self.db.session() as s:
            result = s.execute(
                text("UPDATE jobs SET heartbeat_at=:t WHERE id=:job AND driver_epoch=:epoch"),
                {"t": time.time(), "job": self.job_id, "epoch": self.epoch},
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def read_state(self) -> str:
        with self.db.read() as s:
            return str(s.execute(text("SELECT state FROM jobs WHERE id=:job"), {"job": self.job_id}).scalar_one())
