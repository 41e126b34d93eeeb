"""One way to start a job's driver, over three strategies: a pre-imported zygote, a fork of the caller, a fresh interpreter.

Every caller (an embedded ``invoke``, ``job resume``, the supervisor's job queue) goes through
``DriverLauncher.launch``; the strategies are tried in that order, each only where it is safe, and
the fresh interpreter always works. The driver that starts is the same either way
(``jobs/driver.py: run_driver``); ``logs/driver.log`` says which strategy started it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from batchpoint.launcher.zygote import DriverZygote

Strategy = Literal["zygote", "fork", "fresh"]


def driver_command(workspace_root: Path, job_name: str, epoch: int) -> list[str]:
    return [sys.executable, "-m", "batchpoint.jobs.driver", "--workspace", str(workspace_root),
            "--job", job_name, "--epoch", str(epoch)]  # fmt: skip


def driver_title(workspace_root: Path, job_name: str, epoch: int) -> str:
    """What ``ps`` shows for a forked driver: the command line a fresh one would have."""
    return " ".join(driver_command(workspace_root, job_name, epoch))


class DriverLauncher:
    """Starts detached drivers; ``launch`` returns once the driver runs on its own.

    ``env`` replaces the inherited environment of a fresh driver (the server passes its database URL
    and engine settings this way, without secrets such as its bootstrap token). ``allow_fork`` lets an
    embedded caller be forked into the driver when that is safe (``launcher/forking.py``); a caller
    with threads (the server) passes a ``zygote`` instead (``launcher/zygote.py``).
    """

    def __init__(
        self, *, env: dict[str, str] | None = None, allow_fork: bool = False, zygote: DriverZygote | None = None
    ) -> None:
        self.env = env
        self.allow_fork = allow_fork and env is None
        self.zygote = zygote

    def launch(self, workspace_root: Path, job_name: str, epoch: int, log_file: Path) -> Strategy:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        if self.zygote is not None and self.zygote.spawn(workspace_root, job_name, epoch, log_file):
            return "zygote"
        if self.allow_fork and _fork(workspace_root, job_name, epoch, log_file):
            return "fork"
        _fresh(workspace_root, job_name, epoch, log_file, self.env)
        return "fresh"

    def warm(self) -> None:
        if self.zygote is not None:
            self.zygote.warm()

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.stop()


def _fork(workspace_root: Path, job_name: str, epoch: int, log_file: Path) -> bool:
    from batchpoint.jobs.driver import run_driver
    from batchpoint.launcher import forking

    origin = f"forked from pid {os.getpid()}"
    return forking.can_fork() and forking.fork_detached(
        lambda: run_driver(workspace_root, job_name, epoch, origin=origin),
        log_file,
        title=driver_title(workspace_root, job_name, epoch),
    )


def _fresh(workspace_root: Path, job_name: str, epoch: int, log_file: Path, env: dict[str, str] | None) -> None:
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            [*driver_command(workspace_root, job_name, epoch), "--detach"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True, env=env,
        )  # fmt: skip
        proc.wait()
