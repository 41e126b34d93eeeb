"""Starting local worker processes, with the standard library only.

The local executor starts its workers through ``launch``. A driver can also start them *before*
it imports its heavy dependencies (``prestart``), from a launch plan that ``invoke`` wrote when
nothing had to be built: worker start-up (the script's imports, ``init()``) then overlaps the
driver's own start-up instead of following it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SRC_ROOT = str(Path(__file__).resolve().parent.parent.parent)
PLAN_NAME = "launch.json"


@dataclass
class Launched:
    """A started worker process and the driver's end of its socket."""

    worker: str
    proc: subprocess.Popen[bytes]
    sock: socket.socket
    logs: list[IO[bytes]]


def worker_env(extra: dict[str, str]) -> dict[str, str]:
    """The worker's environment: ours minus batchpoint's own settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPOINT_")}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = SRC_ROOT + (os.pathsep + path if path else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def launch(worker: str, *, python: str, config_file: Path, log_dir: Path, cwd: Path, env: dict[str, str]) -> Launched:
    """Start ``python -m batchpoint.runtime.worker`` with its stdout/stderr in the job's logs."""
    parent, child = socket.socketpair()
    out_dir = log_dir / "user" / "stdout"
    err_dir = log_dir / "user" / "stderr"
    out_dir.mkdir(parents=True, exist_ok=True)
    err_dir.mkdir(parents=True, exist_ok=True)
    stdout = open(out_dir / f"{worker}.stdout.txt", "ab")  # noqa: SIM115 - closed when the worker is reaped
    stderr = open(err_dir / f"{worker}.stderr.txt", "ab")  # noqa: SIM115
    cmd = [
        python, "-m", "batchpoint.runtime.worker",
        "--fd", str(child.fileno()), "--config", str(config_file), "--worker-id", worker,
    ]  # fmt: skip
    try:
        proc = subprocess.Popen(
            cmd, pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
            cwd=cwd, env=env,
        )  # fmt: skip
    finally:
        child.close()
    parent.setblocking(True)
    return Launched(worker, proc, parent, [stdout, stderr])


def write_plan(job_dir: Path, *, python: str, config_file: Path, log_dir: Path, cwd: Path, env: dict[str, str],
               workers: int) -> None:  # fmt: skip
    """Record how to start this job's workers (written by ``invoke`` when nothing has to be built)."""
    plan = {"python": python, "config_file": str(config_file), "log_dir": str(log_dir), "cwd": str(cwd),
            "env": worker_env(env), "workers": workers}  # fmt: skip
    tmp = job_dir / (PLAN_NAME + ".tmp")
    tmp.write_text(json.dumps(plan))
    os.replace(tmp, job_dir / PLAN_NAME)


def prestart(job_dir: Path) -> list[Launched]:
    """Start the workers of a launch plan, if the job has one (an empty list otherwise)."""
    path = job_dir / PLAN_NAME
    try:
        plan = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    started: list[Launched] = []
    for i in range(int(plan["workers"])):
        started.append(
            launch(
                f"worker-{i + 1:03d}",
                python=plan["python"],
                config_file=Path(plan["config_file"]),
                log_dir=Path(plan["log_dir"]),
                cwd=Path(plan["cwd"]),
                env=plan["env"],
            )  # fmt: skip
        )
    return started
