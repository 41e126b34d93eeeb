"""``Supervisor``: starts, stops and reports a list of duties; ``DUTIES``: which duty runs where.

Registering a duty is one entry in ``DUTIES``: its name, the modes it runs in, and a factory that
builds it from a ``DutyContext`` (the workspace's services and the process settings). The factory
imports the duty's module, so a mode pays only for the duties it runs.

Modes:

``server``
    the team server (``batchpoint server``) builds its supervisor from these entries at start-up
    and stops it at shut-down: the job queue.
``embedded``
    the per-workspace background process (``python -m batchpoint.supervisor``): a watch-only duty
    today, since embedded jobs start detached at invoke. Schedules and online replicas will be
    entries here (and in ``server``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from batchpoint.supervisor.duty import Duty
from batchpoint.supervisor.schemas import DutyHealth, DutyState, SupervisorHealth

if TYPE_CHECKING:
    from batchpoint.config import Settings
    from batchpoint.services import Services

log = logging.getLogger("batchpoint.supervisor")
Mode = Literal["server", "embedded"]
D = TypeVar("D", bound=Duty)


@dataclass(frozen=True)
class DutyContext:
    """What a duty's factory gets."""

    services: Services
    settings: Settings
    mode: Mode


@dataclass(frozen=True)
class DutyEntry:
    """One registered duty: its name, where it runs, how it is built."""

    name: str
    modes: frozenset[Mode]
    factory: Callable[[DutyContext], Duty]


def _job_queue(ctx: DutyContext) -> Duty:
    from batchpoint.supervisor.job_queue import JobQueue

    return JobQueue(ctx.services, ctx.settings.serving)


def _job_watch(ctx: DutyContext) -> Duty:
    from batchpoint.supervisor.job_watch import JobWatch

    return JobWatch(ctx.services)


DUTIES: tuple[DutyEntry, ...] = (
    DutyEntry("job-queue", frozenset({"server"}), _job_queue),
    DutyEntry("job-watch", frozenset({"embedded"}), _job_watch),
    # Later: DutyEntry("schedules", frozenset({"server", "embedded"}), _schedules),
    #        DutyEntry("online-replicas", frozenset({"server", "embedded"}), _online_replicas),
)


class Supervisor:
    """Runs duties: ``start()`` all in order, ``stop()`` all in reverse order, ``health()`` of each."""

    def __init__(self, duties: Sequence[Duty], *, mode: str = "custom") -> None:
        names = [d.name for d in duties]
        if len(set(names)) != len(names):
            raise ValueError(f"duty names must be unique: {names}")
        self.mode = mode
        self._duties = list(duties)
        self._started: list[Duty] = []

    @classmethod
    def build(cls, mode: Mode, context: DutyContext, entries: Iterable[DutyEntry] = DUTIES) -> Supervisor:
        """The supervisor of ``mode``: one duty per entry registered for it."""
        return cls([entry.factory(context) for entry in entries if mode in entry.modes], mode=mode)

    @property
    def duties(self) -> list[Duty]:
        return list(self._duties)

    def find(self, name: str, kind: type[D]) -> D | None:
        """The duty called ``name`` if it is a ``kind``, else None."""
        for duty in self._duties:
            if duty.name == name and isinstance(duty, kind):
                return duty
        return None

    def start(self) -> None:
        """Start every duty; when one fails to start, stop those already started and raise."""
        for duty in self._duties:
            if duty in self._started:
                continue
            try:
                duty.start()
            except Exception:
                log.exception("duty %s failed to start; stopping the others", duty.name)
                try:
                    duty.stop(1.0)
                finally:
                    self.stop()
                raise
            self._started.append(duty)
            log.info("duty %s started", duty.name)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the started duties, newest first, all within about ``timeout`` seconds; never raises."""
        deadline = time.monotonic() + timeout
        while self._started:
            duty = self._started.pop()
            try:
                duty.stop(max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("duty %s failed to stop", duty.name)

    def notify(self, name: str | None = None) -> None:
        """Tell one duty (or all) that something changed."""
        for duty in self._duties:
            if name is None or duty.name == name:
                duty.notify()

    def health(self) -> list[DutyHealth]:
        """Every duty's health, in registration order (a duty whose report fails is ``failed``)."""
        reports = []
        for duty in self._duties:
            try:
                reports.append(duty.health())
            except Exception as exc:
                reports.append(DutyHealth(name=duty.name, state=DutyState.failed, detail={"error": str(exc)}))
        return reports

    def report(self) -> SupervisorHealth:
        return SupervisorHealth(mode=self.mode, duties=self.health())
