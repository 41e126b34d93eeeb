"""The job driver process: ``python -m batchpoint.jobs.driver --workspace W --job NAME --epoch N``.

One driver runs one job of any kind to its end: it reads the job's ``type`` and hands the job to
that kind's runner (``jobs/kinds.py``). ``launcher/launch.py`` starts drivers detached (double
fork, new session), so closing the terminal or ending the calling program does not stop the job.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchpoint.executors.launch import Launched
    from batchpoint.jobs.schemas import JobState
    from batchpoint.services import Services


def _detach() -> None:
    """Fork once more so the driver is nobody's child (no zombie, reaped by init when it ends)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="batchpoint-driver")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--epoch", type=int, required=True)
    parser.add_argument("--detach", action="store_true")
    args = parser.parse_args(argv)
    if args.detach:
        _detach()
    return run_driver(Path(args.workspace), args.job, args.epoch)


def run_driver(workspace_root: Path, job_name: str, epoch: int, *, origin: str = "fresh interpreter") -> int:
    """Run one job to its end in this process (a fresh interpreter, or a fork of the invoker)."""
    # Start the workers first when invoke left a launch plan: their imports and init() then overlap
    # this process's own (heavy) imports below.
    from batchpoint.executors.launch import prestart

    prestarted = prestart(workspace_root / "jobs" / job_name)
    from batchpoint.config import Settings
    from batchpoint.services import Services
    from batchpoint.workspace import Workspace

    workspace = Workspace(workspace_root, Settings())
    ctx = Services(workspace)
    log_dir = workspace.layout.job_dir(job_name) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=log_dir / "driver.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s [epoch " + str(epoch) + "] %(message)s",
    )
    from batchpoint.common.redact import add_to

    add_to(logging.getLogger().handlers)  # driver.log is handed to users: no token may reach it
    logging.getLogger("batchpoint.driver").info("driver pid %d started (%s)", os.getpid(), origin)
    state = _run_kind(ctx, job_name, epoch, prestarted)
    logging.getLogger("batchpoint.driver").info("driver finished: %s", state.value)
    workspace.close()
    return 0


def _run_kind(ctx: Services, job_name: str, epoch: int, prestarted: list[Launched]) -> JobState:
    """Hand the job to the runner of its kind; a kind this batchpoint does not know fails the job."""
    from sqlalchemy import select

    from batchpoint.errors import BatchpointError
    from batchpoint.jobs.kinds import DriverJob, kind_of
    from batchpoint.jobs.record import JobRecord, Superseded
    from batchpoint.jobs.schemas import JobState
    from batchpoint.store.tables import JobRow

    with ctx.db.read() as s:
        row = s.scalars(select(JobRow).where(JobRow.name == job_name)).one()
        job = DriverJob(id=row.id, name=row.name, type=row.type or "batch", parent_job_name=row.parent_job_name)
    try:
        kind = kind_of(job.type)
    except BatchpointError as exc:
        for launched in prestarted:
            launched.proc.kill()
        try:
            return JobRecord(ctx.db, job.id, epoch).end(JobState.failed, str(exc))
        except Superseded:
            return JobState.running
    return kind.run(ctx, job, epoch, prestarted)


if __name__ == "__main__":
    sys.exit(main())
