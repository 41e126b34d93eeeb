"""A driver's fenced writes to its own job row: the part of the lifecycle every job kind shares.

State changes go through the state machine (``jobs/lifecycle.py``) as the driver actor, naming the
epoch the driver was started with; other writes (counters, heartbeat) name it too
(``WHERE driver_epoch = :epoch``). A driver that was replaced (``job resume``, or the supervisor
restarting a lost driver) therefore cannot write: it finds out and exits (``Superseded``). Kinds
with more state of their own extend this (the batch engine's ``batch/ledger.py`` adds its
mini-batch rows).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text

from batchpoint.jobs.lifecycle import TRANSITIONS, Actor, CancelPending, Change, Superseded, transition
from batchpoint.jobs.schemas import JobState
from batchpoint.store import Database

__all__ = ["CancelPending", "JobRecord", "Superseded"]


class JobRecord:
    """One driver's view of one job row."""

    def __init__(self, db: Database, job_id: int, epoch: int) -> None:
        self.db = db
        self.job_id = job_id
        self.epoch = epoch

    def advance(
        self, action: str, values: Mapping[str, Any] | None = None, *, detail: str | None = None, **more: Any
    ) -> Change:
        """Make the driver transition ``action`` (``prepare``, ``run``, ``finalize``, ``publish``, ``complete``).

        Raises ``CancelPending`` when a cancel was requested (the driver then ends the job Canceled)
        and ``Superseded`` when a newer driver owns the job.
        """
        with self.db.session(durable=TRANSITIONS[action].durable) as s:
            sets = {**(values or {}), **more}
            return transition(s, self.job_id, action, Actor.driver, epoch=self.epoch, values=sets, detail=detail)

    def complete(self, publication: Mapping[str, Any] | None = None, **values: Any) -> JobState:
        """Walk the last steps to Completed (run, finalize, publish, complete) for a kind with nothing to merge."""
        self.advance("run")
        self.advance("finalize")
        self.advance("publish", publication=json.dumps(dict(publication or {"files": []})))
        self.advance("complete", ended_at=time.time(), heartbeat_at=time.time(), **values)
        return JobState.completed

    def end(self, state: JobState, reason: str, **values: Any) -> JobState:
        """End the job Failed or Canceled with ``reason``; a pending cancel wins over a failure."""
        values = {"ended_at": time.time(), "heartbeat_at": time.time(), **values}
        if state is JobState.canceled:
            self.advance("honour-cancel", detail=reason, failure_reason=reason, **values)
            return JobState.canceled
        try:
            self.advance("fail", detail=reason, failure_reason=reason, **values)
            return JobState.failed
        except CancelPending:
            why = f"canceled by request (the job was failing: {reason})"
            self.advance("honour-cancel", detail=why, failure_reason=why, **values)
            return JobState.canceled

    def update(self, **values: Any) -> None:
        """Write columns other than the state (counters, the environment), fenced by the epoch."""
        with self.db.session() as s:
            sets = ", ".join(f"{k}=:{k}" for k in values)
            result = s.execute(
                text(f"UPDATE jobs SET {sets} WHERE id=:job AND driver_epoch=:epoch"),
                {**values, "job": self.job_id, "epoch": self.epoch},
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

    def publication(self) -> dict[str, Any] | None:
        """What the job recorded it publishes (``batch/publish.py``), or None before that point."""
        with self.db.read() as s:
            value = s.execute(text("SELECT publication FROM jobs WHERE id=:job"), {"job": self.job_id}).scalar_one()
        return json.loads(value) if isinstance(value, str) else value
