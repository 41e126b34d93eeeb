"""The job state machine: every change of a job's state, by anyone, goes through ``transition``.

Three actors change a job's state: the **user** (``job cancel``, ``job resume``), the job's
**driver** (the process that runs it) and the **supervisor** (the server's job queue, which starts,
restarts and cancels drivers). ``TRANSITIONS`` is the one table of what each may do, from which
states, guarded by what; ``docs/concepts.md`` and ``docs/jobs.md`` print the same table
(``markdown_table()``; a unit test keeps them equal).

How the guards hold under concurrency: ``transition`` locks the job row (``BEGIN IMMEDIATE`` on
SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL), decides from what it reads, writes the new state
and one ``job_events`` row in the same transaction. So of a cancel and the driver's publish that
race, exactly one wins: the publish is refused once a cancel is recorded, and a cancel is refused
once the publish is recorded. A driver names the epoch it was started with, and every user or
supervisor transition that takes a job from its driver (``fences``) moves the epoch on, so the
replaced driver's next write fails (``Superseded``).

Final is final: nothing leaves Completed or Canceled. Failed is final for drivers and the
supervisor; only a user's ``job resume`` reopens it (``resume-failed``), recorded in the history.
A driver that is lost is a flag (no heartbeat, or its process gone: ``views.driver_info``) on a
job that keeps its state; resuming it never moves the state backwards.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from batchpoint.errors import Conflict
from batchpoint.jobs.schemas import JobState
from batchpoint.runs.hooks import JOB_END

__all__ = ["TRANSITIONS", "Actor", "CancelPending", "Change", "Superseded", "Transition", "transition"]

Q, P, R, F = JobState.queued, JobState.preparing, JobState.running, JobState.finalizing
CR, DONE, FAILED, CANCELED = JobState.cancel_requested, JobState.completed, JobState.failed, JobState.canceled
OPEN = (Q, P, R, F)
log = logging.getLogger(__name__)
_ENDED = "batchpoint.ended_runs"


class Superseded(Exception):
    """Another driver (a newer epoch) owns this job now."""


class CancelPending(Exception):
    """The driver's move was refused: a user asked for the job to be canceled; the driver ends it Canceled."""


class Actor(StrEnum):
    user = "user"
    driver = "driver"
    supervisor = "supervisor"


@dataclass(frozen=True)
class Transition:
    """One kind of state change: who makes it, from where, to where, on what condition."""

    action: str
    actors: tuple[Actor, ...]
    moves: tuple[JobState, ...]
    """States it leaves for ``target``."""
    target: JobState | None
    """None: the state stays what it is (the change is to the driver, or to the record)."""
    keeps: tuple[JobState, ...] = ()
    """States it accepts without changing them (a resumed driver re-entering a phase it had passed)."""
    guard: str = ""
    """The condition besides the state, in words (for the docs); checked by the caller or below."""
    fences: bool = False
    """It takes the job from its current driver: the epoch moves on."""
    unpublished: bool = False
    """Refused once the output's publication is recorded (the point of no return)."""
    durable: bool = False
    """Written with a synchronous commit (``synchronous=FULL``): a final state, a cancel, the publication."""
    published: bool = False
    """Only once the output's publication is recorded."""


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("prepare", (Actor.driver,), (Q,), P, keeps=(P, R, F), guard="the driver's epoch"),
        Transition("run", (Actor.driver,), (Q, P), R, keeps=(R, F), guard="the driver's epoch"),
        Transition("finalize", (Actor.driver,), (R,), F, keeps=(F,), guard="the driver's epoch"),
        Transition(
            "publish",
            (Actor.driver,),
            (),
            None,
            keeps=(F,),
            durable=True,
            guard="the driver's epoch; records the output's size and hash before linking it: the point of no return",
        ),
        Transition(
            "complete",
            (Actor.driver,),
            (F,),
            DONE,
            guard="the driver's epoch; the publication recorded",
            published=True,
            durable=True,
        ),
        Transition("fail", (Actor.driver,), OPEN, FAILED, guard="the driver's epoch", durable=True),
        Transition("honour-cancel", (Actor.driver,), (CR,), CANCELED, guard="the driver's epoch", durable=True),
        Transition(
            "request-cancel",
            (Actor.user,),
            OPEN,
            CR,
            keeps=(CR,),
            unpublished=True,
            durable=True,
            guard="a live driver; nothing published yet",
        ),
        Transition(
            "cancel",
            (Actor.user, Actor.supervisor),
            (*OPEN, CR),
            CANCELED,
            fences=True,
            unpublished=True,
            durable=True,
            guard="no live driver; nothing published yet",
        ),
        Transition(
            "resume", (Actor.user,), (), None, keeps=OPEN, fences=True, durable=True, guard="the driver is lost"
        ),
        Transition(
            "resume-failed",
            (Actor.user,),
            (FAILED,),
            Q,
            fences=True,
            durable=True,
            guard="recorded with the failure it follows",
        ),
        Transition(
            "launch", (Actor.supervisor,), (), None, keeps=(Q,), fences=True, guard="a free slot on the compute"
        ),
        Transition("restart", (Actor.supervisor,), (), None, keeps=OPEN, fences=True, guard="the driver is lost"),
    )
}


@dataclass(frozen=True)
class Change:
    """What a transition did."""

    action: str
    before: JobState
    after: JobState
    epoch: int
    """The job's driver epoch afterwards (the new one where the transition fences)."""


def _locked_row(session: Session, job_id: int) -> dict[str, Any]:
    lock = "" if session.get_bind().dialect.name == "sqlite" else " FOR UPDATE"
    row = (
        session.execute(
            text(f"SELECT name, state, driver_epoch, publication, run_id FROM jobs WHERE id=:job{lock}"),
            {"job": job_id},
        )
        .mappings()
        .one()
    )
    return dict(row)


def refusal(action: str, name: str, state: JobState, published: bool) -> Conflict:
    """Why ``action`` cannot happen to the job now, in words a user can act on."""
    if state in (DONE, CANCELED):
        return Conflict(f"job '{name}' has already ended ({state.value}); a {state.value} job never changes again")
    if published and TRANSITIONS[action].unpublished:
        return Conflict(f"job '{name}' is publishing its output: the job will complete; it can no longer be canceled")
    if state is FAILED:
        return Conflict(f"job '{name}' has failed; only 'batchpoint job resume' continues it")
    return Conflict(f"job '{name}' is {state.value}: '{action}' does not apply")


def transition(
    session: Session,
    job_id: int,
    action: str,
    actor: Actor,
    *,
    epoch: int | None = None,
    values: dict[str, Any] | None = None,
    detail: str | None = None,
) -> Change:
    """Make ``action`` happen to the job, or raise why it cannot; in the caller's write transaction.

    ``epoch`` is the driver's own (drivers must give it; ``Superseded`` when the job has a newer
    one) or, for the user and the supervisor, the epoch they read (their decision was made on it).
    A driver whose move is refused because a cancel is pending gets ``CancelPending``.
    """
    spec = TRANSITIONS[action]
    assert actor in spec.actors, f"{actor} may not {action}"
    row = _locked_row(session, job_id)
    state, current_epoch = JobState(row["state"]), int(row["driver_epoch"])
    if epoch is not None and epoch != current_epoch:
        raise Superseded(f"job {row['name']} is driven by epoch {current_epoch}, not {epoch}")
    published = row["publication"] is not None
    allowed = state in spec.moves or state in spec.keeps
    if not allowed or (spec.unpublished and published) or (spec.published and not published):
        if actor is Actor.driver and state is CR:
            raise CancelPending(f"job {row['name']}: a cancel is pending")
        raise refusal(action, row["name"], state, published)
    after = spec.target if state in spec.moves and spec.target is not None else state
    new_epoch = current_epoch + 1 if spec.fences else current_epoch
    sets = {**(values or {}), "state": after.value, "driver_epoch": new_epoch}
    session.execute(
        text(f"UPDATE jobs SET {', '.join(f'{k}=:{k}' for k in sets)} WHERE id=:job"), {**sets, "job": job_id}
    )
    if after is not state or spec.fences or action == "publish":
        _record(session, job_id, Change(action, state, after, new_epoch), actor, detail)
    if after is not state and (after.terminal or state.terminal) and row["run_id"]:
        _end_run_after_commit(session, str(row["run_id"]), after)  # an end, or a Failed job resumed
    return Change(action, state, after, new_epoch)


def _end_run_after_commit(session: Session, run_id: str, state: JobState) -> None:
    """Once the final state is committed (never before: it may still roll back), end the job's MLflow run
    (or, for a Failed job resumed, make it RUNNING again)."""
    pending: list[tuple[str, str]] | None = session.info.get(_ENDED)
    if pending is None:
        pending = session.info[_ENDED] = []
        event.listen(session, "after_commit", _ended, once=True)
    pending.append((run_id, state.value))


def _ended(session: Session) -> None:
    ended = session.info.pop(_ENDED, None)
    hook = session.info.get(JOB_END)
    if not ended or hook is None:
        return
    try:
        hook(ended)
    except Exception as exc:  # the job has ended whatever becomes of its run
        log.warning("the MLflow runs %s were not ended: %s", ended, exc)


def _record(session: Session, job_id: int, change: Change, actor: Actor, detail: str | None) -> None:
    session.execute(
        text(
            "INSERT INTO job_events (job_id, at, actor, action, from_state, to_state, epoch, detail) "
            "VALUES (:job, :at, :actor, :action, :before, :after, :epoch, :detail)"
        ),
        {
            "job": job_id, "at": time.time(), "actor": actor.value, "action": change.action,
            "before": change.before.value, "after": change.after.value, "epoch": change.epoch,
            "detail": None if detail is None else detail[:2000],
        },
    )  # fmt: skip


def record_created(session: Session, job_id: int, actor: str | None) -> None:
    """The first entry of a job's history (its creation, Queued)."""
    session.execute(
        text(
            "INSERT INTO job_events (job_id, at, actor, action, from_state, to_state, epoch, detail) "
            "VALUES (:job, :at, 'user', 'create', NULL, 'Queued', 1, :detail)"
        ),
        {"job": job_id, "at": time.time(), "detail": f"invoked by {actor}" if actor else None},
    )


def history(session: Session, job_id: int) -> list[dict[str, Any]]:
    """The job's recorded transitions, oldest first."""
    rows = session.execute(
        text(
            "SELECT at, actor, action, from_state, to_state, epoch, detail FROM job_events "
            "WHERE job_id=:job ORDER BY id"
        ),
        {"job": job_id},
    ).mappings()
    return [dict(r) for r in rows]


def markdown_table() -> str:
    """``TRANSITIONS`` as the Markdown table the docs print."""
    lines = ["| action | by | from | to | guard |", "|---|---|---|---|---|"]
    for t in TRANSITIONS.values():
        moves = [s.value for s in t.moves]
        keeps = [f"{s.value} (stays)" for s in t.keeps]
        target = t.target.value if t.target else "(unchanged)"
        guard = t.guard + ("; fences the old driver" if t.fences else "")
        lines.append(f"| {t.action} | {', '.join(t.actors)} | {', '.join(moves + keeps)} | {target} | {guard} |")
    return "\n".join(lines)
