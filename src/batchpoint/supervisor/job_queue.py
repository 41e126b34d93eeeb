"""The server's job runner, a supervisor duty: a queue with a concurrency limit per compute, and restart after a crash.

Invokes through the server create their job with ``start=False`` (state Queued, epoch 1). This
duty (``job-queue``, run by the server's supervisor only: never in embedded mode, where jobs start
detached at invoke) then, on its own thread, every ``queue_poll_seconds`` (and at once when
``notify()``-ed of a new job):

1. starts Queued jobs oldest first while their compute has a free slot (a pipeline job takes
   none: its steps do, as its child jobs). Starting is a
   compare-and-set on the job's driver epoch (``epoch + 1`` where the epoch is still the one just
   read), then a detached driver with the new epoch, so two servers on one database, or a server
   that restarts while an earlier driver is still starting, never run one job twice: the driver
   of the older epoch is refused at its first write;
2. keeps Queued jobs that wait for a slot alive (their heartbeat), so clients do not take them
   for lost;
3. restarts every job whose driver is lost (heartbeat older than ``driver_stale_seconds``, or a
   driver process of this host that no longer exists) the same way; the driver resumes from the
   committed mini-batches. This is what makes a job survive a server or machine crash: nothing
   in memory matters, the next start finds the job in the database;
4. applies cancels of jobs that have no driver (canceled while queued, or driver lost).

A job whose driver was lost ``max_driver_restarts`` times is left alone (``job resume`` restarts it).
``health()`` reports the jobs waiting for a slot, the drivers this queue started and its restarts.
It takes ``ServerSettings`` from ``batchpoint.config`` and imports nothing of ``batchpoint.server``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from batchpoint.config import ServerSettings
from batchpoint.errors import Conflict, InvalidInput
from batchpoint.jobs.lifecycle import Actor, Superseded, transition
from batchpoint.jobs.schemas import TERMINAL, JobState
from batchpoint.jobs.views import driver_info
from batchpoint.launcher.driver_env import driver_environment
from batchpoint.launcher.launch import DriverLauncher
from batchpoint.launcher.zygote import DriverZygote
from batchpoint.services import Services
from batchpoint.store.tables import JobRow
from batchpoint.supervisor.duty import PeriodicDuty

# The logger's name predates the move from server/jobqueue.py; log filters and configs keep working.
log = logging.getLogger("batchpoint.server.jobs")
_OPEN = [s.value for s in JobState if s not in TERMINAL]
_SLOTLESS = frozenset({"pipeline"})


@dataclass
class _Job:
    id: int
    name: str
    state: JobState
    epoch: int
    compute: str
    lost: bool
    has_driver: bool
    created_at: float
    takes_slot: bool = True
    """False for a pipeline: its driver runs no work of its own (each step is a child job, queued on its
    compute), so it takes no slot; else pipelines holding every slot would wait forever for their steps."""


def parse_limits(text: str | None) -> dict[str, int]:
    """``local=4,gpu=1`` to ``{"local": 4, "gpu": 1}``."""
    limits: dict[str, int] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise InvalidInput(f"'{item}' is not NAME=N with N >= 1", field="BATCHPOINT_SERVER_COMPUTE_CONCURRENCY")
        limits[name.strip()] = int(value)
    return limits


class JobQueue(PeriodicDuty):
    """Starts, supervises and restarts the jobs of one workspace."""

    def __init__(self, services: Services, settings: ServerSettings) -> None:
        super().__init__("job-queue", settings.queue_poll_seconds)
        self.services = services
        self.db = services.db
        self.engine = services.settings.engine
        self.settings = settings
        self.limits = parse_limits(settings.compute_concurrency)
        self._started: dict[str, int] = {}
        self._restarts: dict[str, int] = {}
        self.waiting = 0
        self._driver_env = driver_environment(services.settings)
        # Drivers forked from a pre-imported helper are up in milliseconds (see launcher/zygote.py).
        enabled = self.engine.fork_driver and DriverZygote.supported()
        zygote = DriverZygote(self._driver_env) if enabled else None
        self._launcher = DriverLauncher(env=self._driver_env, zygote=zygote)

    def limit(self, compute: str) -> int:
        return self.limits.get(compute, self.settings.jobs_per_compute)

    # -- the duty's hooks (PeriodicDuty runs tick() on its thread; notify() wakes it for a new job) -------
    def on_start(self) -> None:
        self._launcher.warm()

    def on_stop(self) -> None:
        self._launcher.close()

    def detail(self) -> dict[str, Any]:
        return {
            "waiting": self.waiting,
            "started": len(self._started),
            "restarts": sum(list(self._restarts.values())),
            "limits": dict(self.limits),
            "jobs_per_compute": self.settings.jobs_per_compute,
        }

    # -- one pass ------------------------------------------------------------------------------------
    def tick(self) -> None:
        jobs = self._open_jobs()
        running: dict[str, int] = {}
        for job in jobs:
            if job.takes_slot and (job.state is not JobState.queued or job.name in self._started):
                running[job.compute] = running.get(job.compute, 0) + 1
        waiting = 0
        for job in jobs:
            if job.state is JobState.cancel_requested and (job.lost or not job.has_driver):
                self._cancel(job)
            elif job.state is not JobState.queued or job.name in self._started:
                if job.lost:
                    self._restart(job)
            elif not job.takes_slot or running.get(job.compute, 0) < self.limit(job.compute):
                if self._launch(job) and job.takes_slot:
                    running[job.compute] = running.get(job.compute, 0) + 1
            else:
                waiting += 1
                self._keep_alive(job)
        self.waiting = waiting

    def _open_jobs(self) -> list[_Job]:
        now = time.time()
        with self.db.read() as s:
            rows = list(s.scalars(select(JobRow).where(JobRow.state.in_(_OPEN)).order_by(JobRow.created_at, JobRow.id)))
            jobs = []
            for row in rows:
                compute = (row.spec or {}).get("compute") or {}
                lost = driver_info(row, self.engine, now).lost
                jobs.append(
                    _Job(
                        id=row.id,
                        name=row.name,
                        state=JobState(row.state),
                        epoch=row.driver_epoch,
                        compute=str(compute.get("name") or "local"),
                        lost=lost,
                        has_driver=row.driver_pid is not None,
                        created_at=row.created_at,
                        takes_slot=row.type not in _SLOTLESS,
                    )
                )
        names = {j.name for j in jobs}
        for name in list(self._started):
            if name not in names:
                del self._started[name]
        return jobs

    def _claim(self, job: _Job, action: str, **values: object) -> int | None:
        """Take the job for a new driver (``launch`` or ``restart``); the new epoch when this server won it."""
        try:
            with self.db.session() as s:
                change = transition(
                    s, job.id, action, Actor.supervisor, epoch=job.epoch, values={"heartbeat_at": time.time(), **values}
                )
        except (Superseded, Conflict):
            return None  # another server, a user or the driver changed the job since it was read
        return change.epoch

    def _spawn(self, name: str, epoch: int) -> None:
        log_file = self.services.layout.job_dir(name) / "logs" / "driver.out"
        self._launcher.launch(self.services.workspace.root, name, epoch, log_file)
        self._started[name] = epoch

    def _launch(self, job: _Job) -> bool:
        epoch = self._claim(job, "launch")
        if epoch is None:
            return False
        log.info("starting job %s (epoch %d)", job.name, epoch)
        self._spawn(job.name, epoch)
        return True

    def _restart(self, job: _Job) -> None:
        restarts = self._restarts.get(job.name, 0)
        if restarts >= self.settings.max_driver_restarts:
            return
        epoch = self._claim(job, "restart", ended_at=None, failure_reason=None, driver_pid=None, driver_host=None)
        if epoch is None:
            return
        self._restarts[job.name] = restarts + 1
        log.warning("driver of job %s was lost; restarting it (epoch %d)", job.name, epoch)
        self._spawn(job.name, epoch)

    def _keep_alive(self, job: _Job) -> None:
        with self.db.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.driver_epoch == job.epoch, JobRow.state == JobState.queued.value)
                .values(heartbeat_at=time.time())
            )

    def _cancel(self, job: _Job) -> None:
        reason = (
            "canceled by request before a driver ran it"
            if not job.has_driver
            else "canceled by request (its driver was not running)"
        )
        try:
            with self.db.session(durable=True) as s:
                values = {"ended_at": time.time(), "failure_reason": reason}
                transition(s, job.id, "cancel", Actor.supervisor, epoch=job.epoch, values=values, detail=reason)
        except (Superseded, Conflict):
            return
        self._started.pop(job.name, None)
