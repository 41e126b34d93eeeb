"""The embedded supervisor's duty: watch the workspace's open jobs and report them. Watch only.

In embedded mode a job's driver starts detached at invoke (and ``job resume`` restarts it), exactly
as before the supervisor existed. This duty therefore never starts, restarts, cancels or writes a
job: every pass it reads the open jobs and counts them by state, and those whose driver looks lost
(no heartbeat for ``driver_stale_seconds``), so ``batchpoint status`` can show them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from batchpoint.jobs.schemas import TERMINAL, JobState
from batchpoint.jobs.views import driver_info
from batchpoint.store.tables import JobRow
from batchpoint.supervisor.duty import PeriodicDuty

if TYPE_CHECKING:
    from batchpoint.services import Services

_OPEN = [s.value for s in JobState if s not in TERMINAL]


class JobWatch(PeriodicDuty):
    """Counts the open jobs of one workspace, and those that look lost; changes nothing."""

    def __init__(self, services: Services, interval: float = 5.0) -> None:
        super().__init__("job-watch", interval)
        self.db = services.db
        self.engine = services.settings.engine
        self._counts: dict[str, Any] = {}

    def tick(self) -> None:
        now = time.time()
        by_state: dict[str, int] = {}
        lost: list[str] = []
        with self.db.read() as s:
            for row in s.scalars(select(JobRow).where(JobRow.state.in_(_OPEN))):
                by_state[row.state] = by_state.get(row.state, 0) + 1
                if driver_info(row, self.engine, now).lost:
                    lost.append(row.name)
        self._counts = {
            "open_jobs": sum(by_state.values()),
            "by_state": by_state,
            "lost_jobs": len(lost),
            "lost": sorted(lost)[:20],
        }

    def detail(self) -> dict[str, Any]:
        return dict(self._counts)
