"""The user's control of a job (``job cancel``, ``job resume``): decisions on the state machine.

Each call locks the job's row, decides from what it reads (the state, whether the driver is alive,
whether the output's publication is recorded) which transition of ``jobs/lifecycle.py`` applies,
and makes it in the same durable transaction, or refuses with a ``Conflict`` that says why and
what to do instead. Starting the new driver after a resume is the caller's (``JobService``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from batchpoint.errors import Conflict, NotFound
from batchpoint.jobs.lifecycle import Actor, refusal, transition
from batchpoint.jobs.schemas import JobState
from batchpoint.jobs.views import StaleAfter, driver_info
from batchpoint.store.tables import JobRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from batchpoint.store import Database


@dataclass(frozen=True)
class Resumed:
    """A resume that was granted: the epoch the new driver must be started with."""

    epoch: int
    compute_type: str | None


def _locked(session: Session, name: str) -> JobRow:
    row = session.scalar(select(JobRow).where(JobRow.name == name).with_for_update())
    if row is None:
        raise NotFound(f"job '{name}' does not exist", field="name")
    return row


def cancel(db: Database, engine: StaleAfter, name: str, who: str | None) -> None:
    """Cancel now when no driver runs the job, else ask its driver; refused once the job is publishing."""
    with db.session(durable=True) as s:
        row = _locked(s, name)
        state = JobState(row.state)
        lost = driver_info(row, engine, time.time()).lost
        if row.publication is not None and not state.terminal:
            hint = f"; its driver is lost: 'batchpoint job resume -n {name}' completes it" if lost else ""
            raise Conflict(f"job '{name}' is publishing its output: the job will complete{hint}")
        if state.terminal:
            raise Conflict(f"job '{name}' has already ended ({state.value}); nothing to cancel")
        detail = f"requested by {who}" if who else None
        if lost:
            transition(
                s, row.id, "cancel", Actor.user, detail=detail,
                values={"ended_at": time.time(), "failure_reason": "canceled by request (its driver was not running)"},
            )  # fmt: skip
        elif state is not JobState.cancel_requested:
            transition(s, row.id, "request-cancel", Actor.user, detail=detail)


def resume(db: Database, engine: StaleAfter, name: str, who: str | None) -> Resumed:
    """Take the job from its lost driver (or reopen a Failed job) for a new driver; or say why not."""
    now = time.time()
    with db.session(durable=True) as s:
        row = _locked(s, name)
        state = JobState(row.state)
        if state in (JobState.completed, JobState.canceled):
            raise refusal("resume", name, state, row.publication is not None)
        if state is JobState.cancel_requested:
            raise Conflict(
                f"job '{name}' has a pending cancel and cannot be resumed; "
                f"'batchpoint job cancel -n {name}' ends it now if its driver is gone"
            )
        if state is not JobState.failed and not driver_info(row, engine, now).lost:
            raise Conflict(_still_running(row, now))
        action = "resume-failed" if state is JobState.failed else "resume"
        detail = f"after: {row.failure_reason}" if state is JobState.failed else "its driver was lost"
        values = {
            "heartbeat_at": now, "ended_at": None, "failure_reason": None, "driver_pid": None, "driver_host": None,
        }  # fmt: skip
        change = transition(s, row.id, action, Actor.user, values=values, detail=f"{detail} (by {who or 'user'})")
        return Resumed(change.epoch, (row.spec or {}).get("compute", {}).get("type"))


def _still_running(row: JobRow, now: float) -> str:
    age = now - (row.heartbeat_at or row.created_at)
    if row.driver_pid is None:
        return (
            f"job '{row.name}' has a driver starting (epoch {row.driver_epoch}, started {age:.0f} s ago) "
            "that has not reported yet; nothing to resume"
        )
    return (
        f"job '{row.name}' is still running (driver pid {row.driver_pid}, heartbeat {age:.0f} s ago); nothing to resume"
    )
