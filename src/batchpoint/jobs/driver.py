"""The job driver process: ``python -m batchpoint.jobs.driver --workspace W --job NAME --epoch N``.

In embedded mode ``invoke`` starts one detached driver per job (double fork, new session), so
closing the terminal or ending the calling program does not stop the job.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path


def spawn(
    workspace_root: Path,
    job_name: str,
    epoch: int,
    log_file: Path,
    *,
    env: dict[str, str] | None = None,
    allow_fork: bool = False,
) -> None:
    """Start a detached driver; returns once it is running on its own (its pid lands in the database).

    ``env`` replaces the inherited environment (the server passes its database URL and engine
    settings this way, without secrets such as its bootstrap token). ``allow_fork`` lets an
    embedded caller be forked into the driver when that is safe (see ``jobs/forking.py``).
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if env is None and allow_fork:
        from batchpoint.jobs import forking

        origin = f"forked from pid {os.getpid()}"
        if forking.can_fork() and forking.fork_detached(
            lambda: run_driver(workspace_root, job_name, epoch, origin=origin),
            log_file,
            title=driver_title(workspace_root, job_name, epoch),
        ):
            return
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            [*driver_command(workspace_root, job_name, epoch), "--detach"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True, env=env,
        )  # fmt: skip
        proc.wait()


def driver_command(workspace_root: Path, job_name: str, epoch: int) -> list[str]:
    return [sys.executable, "-m", "batchpoint.jobs.driver", "--workspace", str(workspace_root),
            "--job", job_name, "--epoch", str(epoch)]  # fmt: skip


def driver_title(workspace_root: Path, job_name: str, epoch: int) -> str:
    """What ``ps`` shows for a forked driver: the command line a fresh one would have."""
    return " ".join(driver_command(workspace_root, job_name, epoch))


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
    from batchpoint.jobs.engine import JobRunner
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
    state = JobRunner(ctx, job_name, epoch, prestarted=prestarted).run()
    logging.getLogger("batchpoint.driver").info("driver finished: %s", state.value)
    workspace.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
