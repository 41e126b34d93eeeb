"""A property test of the job state machine: random interleavings of users and drivers.

The user cancels and resumes (``jobs/control.py``); drivers start, progress, finalize, publish and
complete through the same calls the engine makes (``JobRecord.advance``, ``merge.stage_parts``,
``merge.link_staged``, ``merge.check_published``), crash (their process is gone) or stall (they
look lost but still run, and are fenced). After every step and at the end, whatever the order:

* no accepted cancel is lost: the job ends Canceled and nothing is published;
* a Completed or Canceled job never changes again, and states never move backwards;
* every Completed job's output is complete, published once, and matches its record;
* no job is stranded: after the drivers are done, the job has ended (never Failed: nothing fails here).

On a real SQLite file and a real PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from tests.conftest import fresh_postgres_database

from batchpoint.batch import merge
from batchpoint.errors import Conflict
from batchpoint.jobs import control
from batchpoint.jobs.record import CancelPending, JobRecord, Superseded
from batchpoint.jobs.schemas import JobState
from batchpoint.store import Database
from batchpoint.store.db import sqlite_url

STEPS = ["prepare", "run", "finalize", "stage", "publish", "link", "complete"]
RANK = {JobState.queued: 0, JobState.preparing: 1, JobState.running: 2, JobState.finalizing: 3}


@dataclass(frozen=True)
class Engine:
    driver_stale_seconds: float = 3600.0


@dataclass
class Driver:
    """A driver process, modelled: the engine's calls in the engine's order."""

    record: JobRecord
    target: Path
    parts: list[str]
    process: subprocess.Popen[bytes]
    """Stands for the driver's process: its pid is the driver's; a crash ends it."""
    at: int = 0
    staged: merge.Staged | None = None
    alive: bool = True
    done: bool = False

    def step(self) -> None:
        try:
            self._step()
        except Superseded:
            self.stop()  # a newer driver owns the job: this one exits, as the engine does
        except CancelPending:
            self.record.end(JobState.canceled, "canceled by request")
            self.stop()
        except (OSError, Conflict) as exc:  # as the engine: the job fails, unless this driver was replaced
            with contextlib.suppress(Superseded):
                self.record.end(JobState.failed, f"{type(exc).__name__}: {exc}")
            self.stop()

    def stop(self) -> None:
        if self.staged:
            self.staged.discard()
        self.done = True
        self.end_process()

    def end_process(self) -> None:
        """A driver that exits (or is killed) leaves no process behind."""
        self.process.kill()
        self.process.wait()

    def _step(self) -> None:
        name = STEPS[self.at]
        if name in ("prepare", "stage"):  # the engine looks at its start and before it stages
            recorded = self.record.publication()
            if recorded and merge.check_published(recorded):
                self.at = STEPS.index("complete")
                name = "complete"
        if name == "prepare":
            pid, host = self.process.pid, socket.gethostname()
            self.record.advance("prepare", driver_pid=pid, driver_host=host, heartbeat_at=time.time())
        elif name == "stage":
            self.staged = merge.stage_parts(self.parts, self.target, owner=self.process.pid)
        elif name == "publish":
            assert self.staged is not None
            self.record.advance("publish", publication=json.dumps(self.staged.record()))
        elif name == "link":
            assert self.staged is not None
            merge.link_staged(self.staged)
            self.staged = None
        else:
            self.record.advance(name)
        if name == "complete":
            merge.remove_leftovers(self.target)  # as the engine does once Completed
        self.at += 1
        if self.at == len(STEPS):
            self.done = True
            self.end_process()


@dataclass
class World:
    db: Database
    job_id: int
    name: str
    target: Path
    parts: list[str]
    expected: bytes
    drivers: list[Driver] = field(default_factory=list)
    cancel_accepted: bool = False
    final_seen: tuple[object, ...] | None = None

    def row(self) -> dict[str, object]:
        with self.db.read() as s:
            return dict(s.execute(text("SELECT * FROM jobs WHERE id=:j"), {"j": self.job_id}).mappings().one())

    def new_driver(self, epoch: int) -> None:
        process = subprocess.Popen(["sleep", "600"])
        self.drivers.append(Driver(JobRecord(self.db, self.job_id, epoch), self.target, self.parts, process))

    def live(self) -> list[Driver]:
        return [d for d in self.drivers if d.alive and not d.done]

    def act(self, steps: int, event: str) -> None:
        """The newest live driver takes ``steps`` steps (checked after each), then ``event`` happens."""
        for _ in range(steps):
            live = self.live()
            if not live:
                break
            live[-1].step()
            self.check()
        live = self.live()
        if event == "step-old" and len(live) > 1:
            live[0].step()
        elif event == "cancel":
            self.cancel()
        elif event == "resume":
            self.resume()
        elif event in ("crash", "stall") and live:
            self._lose(live[-1], crash=event == "crash")

    def cancel(self) -> None:
        try:
            control.cancel(self.db, Engine(), self.name, "tester")
            self.cancel_accepted = True
        except Conflict:
            pass

    def resume(self) -> None:
        with contextlib.suppress(Conflict):
            self.new_driver(control.resume(self.db, Engine(), self.name, "tester").epoch)

    def _lose(self, driver: Driver, *, crash: bool) -> None:
        """Its process ends (crash), or it merely looks lost (stall: no heartbeat, yet it runs on)."""
        with self.db.session() as s:
            s.execute(
                text("UPDATE jobs SET heartbeat_at=1 WHERE id=:j AND driver_epoch=:e"),  # long ago
                {"j": self.job_id, "e": driver.record.epoch},
            )
        if crash:
            driver.alive = False
            driver.end_process()

    def close(self) -> None:
        for driver in self.drivers:
            driver.end_process()

    def check(self) -> None:
        row = self.row()
        state = JobState(str(row["state"]))
        seen = (state, row["driver_epoch"], self._events())
        if self.final_seen is not None:
            assert seen == self.final_seen, f"the final job changed: {self.final_seen} to {seen}"
        elif state in (JobState.completed, JobState.canceled):
            self.final_seen = seen
        assert state is not JobState.failed, row["failure_reason"]
        if self.cancel_accepted:
            assert state in (JobState.cancel_requested, JobState.canceled), f"an accepted cancel was lost: {state}"

    def _events(self) -> int:
        with self.db.read() as s:
            return int(
                s.execute(text("SELECT COUNT(*) FROM job_events WHERE job_id=:j"), {"j": self.job_id}).scalar_one()
            )

    def drain(self) -> None:
        """Let things run their course: live drivers to their end; a lost job is resumed or canceled."""
        for _ in range(40):
            for driver in self.live():
                while not driver.done:
                    driver.step()
                    self.check()
            state = JobState(str(self.row()["state"]))
            if state.terminal:
                return
            if state is JobState.cancel_requested:
                control.cancel(self.db, Engine(), self.name, "tester")  # its driver is gone
            else:
                self.resume()
            self.check()
        raise AssertionError("the job did not end")

    def verify_end(self) -> None:
        row = self.row()
        state = JobState(str(row["state"]))
        published = self.target.exists()
        if self.cancel_accepted:
            assert state is JobState.canceled and not published
        if state is JobState.completed:
            assert self.target.read_bytes() == self.expected
            recorded = row["publication"]
            recorded = json.loads(recorded) if isinstance(recorded, str) else recorded
            assert isinstance(recorded, dict) and merge.check_published(recorded)
        else:
            assert state is JobState.canceled and not published
        assert not list(self.target.parent.glob(".*merging-*")) or state is not JobState.completed
        self._check_history()

    def _check_history(self) -> None:
        with self.db.read() as s:
            events = s.execute(
                text("SELECT action, from_state, to_state FROM job_events WHERE job_id=:j ORDER BY id"),
                {"j": self.job_id},
            ).all()
        for action, before, after in events:
            if before in ("Completed", "Canceled"):
                raise AssertionError(f"{action} left the final state {before}")
            b, a = JobState(before), JobState(after)
            if b in RANK and a in RANK:
                assert RANK[a] >= RANK[b], f"{action} moved {before} back to {after}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path_factory.mktemp("machine") / "metadata.db"))
        yield db
        db.dispose()
        return
    with fresh_postgres_database("bp_machine") as url:
        db = Database(url)
        yield db
        db.dispose()


def _world(db: Database, root: Path) -> World:
    name = f"job-{uuid.uuid4().hex[:10]}"
    folder = root / name
    (folder / "parts").mkdir(parents=True)
    parts, expected = [], b""
    for i in range(3):
        body = f"k{i},{i * 3 + 1}\n".encode()
        part = folder / "parts" / f"{i}.part"
        part.write_bytes(b"{}\n" + body)
        parts.append(str(part))
        expected += body
    with db.session() as s:
        job_id = s.execute(
            text("INSERT INTO jobs (name, type, state, driver_epoch, created_at, spec, mb_total, mb_done, mb_failed, "
                 "items_total, items_ok, items_failed, retries) VALUES (:n, 'batch', 'Queued', 1, :now, '{}', 3, 0, 0, 3, "
                 "0, 0, 0) RETURNING id"),
            {"n": name, "now": time.time()},
        ).scalar_one()  # fmt: skip
    world = World(db, int(job_id), name, folder / "out" / "predictions.csv", parts, expected)
    world.new_driver(1)
    return world


# Each event: the newest driver takes 0-7 steps (there are 7: every point of its run is reached), then one
# thing happens. Drivers also run to their end in ``drain``.
EVENTS = st.lists(
    st.tuples(st.integers(0, len(STEPS)), st.sampled_from(["step-old", "cancel", "resume", "crash", "stall"])),
    max_size=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_no_interleaving_loses_a_cancel_leaves_a_final_state_or_strands_an_output(
    database: Database, tmp_path: Path, events: list[tuple[int, str]]
) -> None:
    world = _world(database, tmp_path)
    try:
        for steps, event in events:
            world.act(steps, event)
            world.check()
        world.drain()
        world.verify_end()
    finally:
        world.close()


ONE_THING = [
    [("cancel",)], [("crash",), ("resume",)], [("stall",), ("resume",)], [("stall",), ("cancel",)],
    [("cancel",), ("crash",)], [("stall",), ("resume",), ("step-old",)],
]  # fmt: skip


@pytest.mark.parametrize("things", ONE_THING, ids=lambda t: "+".join(x[0] for x in t))
@pytest.mark.parametrize("at", range(len(STEPS) + 1))
def test_each_action_at_each_point_of_the_run(
    database: Database, tmp_path: Path, at: int, things: list[tuple[str]]
) -> None:
    """Deterministically, what the random test samples: one user action or fault at every step of a run."""
    world = _world(database, tmp_path)
    try:
        world.act(at, things[0][0])
        world.check()
        for (thing,) in things[1:]:
            world.act(len(STEPS), thing) if thing == "step-old" else world.act(0, thing)
            world.check()
        world.drain()
        world.verify_end()
    finally:
        world.close()
