"""Starting local worker processes, with the standard library only.

The local executor starts its workers through ``launch``. A driver can also start them *before*
it imports its heavy dependencies (``prestart``), from a launch plan that ``invoke`` wrote when
nothing had to be built: worker start-up (the script's imports, ``init()``) then overlaps the
driver's own start-up instead of following it.

When batchpoint runs as root, workers start as the unprivileged worker user (see
``executors/privileges.py``). The driver resolves that user from its own settings, never from the
plan file, so a plan cannot name root; it prestarts only when the user the plan was prepared for is
the one it resolves and that user can reach everything the workers read.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from batchpoint.errors import InvalidInput
from batchpoint.executors import privileges
from batchpoint.executors.privileges import Need, WorkerIdentity

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
    """The worker's environment: ours minus batchpoint's own settings, plus ``extra``.

    With the metadata database on PostgreSQL, libpq's own variables (``PGPASSWORD``, ``PGPASSFILE``,
    ``PGHOST``...) are the driver's credentials for it, so user code does not get them either.
    """
    metadata_on_pg = os.environ.get("BATCHPOINT_DATABASE_URL", "").startswith("postgres")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATCHPOINT_") and not (metadata_on_pg and k.startswith("PG"))
    }
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = SRC_ROOT + (os.pathsep + path if path else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def launch(
    worker: str, *, python: str, config_file: Path, log_dir: Path, cwd: Path, env: dict[str, str],
    run_as: WorkerIdentity | None = None,
) -> Launched:  # fmt: skip
    """Start ``python -m batchpoint.runtime.worker`` with its stdout/stderr in the job's logs.

    ``run_as``: the user to start it as (its HOME comes from the identity); None runs it as this process.
    """
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
    options: dict[str, Any] = {}
    if run_as is not None:
        env = privileges.user_environment(env, run_as)
        options = {**run_as.popen_options(), "umask": privileges.WORKER_UMASK}
    try:
        proc = subprocess.Popen(
            cmd, pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
            cwd=cwd, env=env, **options,
        )  # fmt: skip
    finally:
        child.close()
    parent.setblocking(True)
    return Launched(worker, proc, parent, [stdout, stderr])


def write_plan(job_dir: Path, *, python: str, config_file: Path, log_dir: Path, cwd: Path, env: dict[str, str],
               workers: int) -> None:  # fmt: skip
    """Record how to start this job's workers (written by ``invoke`` when nothing has to be built).

    ``worker_user`` is who ``prepare_runtime`` handed the job's folders to; the driver compares it
    with the user it resolves itself and only prestarts when they agree.
    """
    run_as = privileges.worker_identity(privileges.configured_user())
    plan = {"python": python, "config_file": str(config_file), "log_dir": str(log_dir), "cwd": str(cwd),
            "env": worker_env(env), "workers": workers, "worker_user": run_as.name if run_as else None}  # fmt: skip
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
    may, run_as = _prestart_identity(job_dir, plan)
    if not may:
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
                run_as=run_as,
            )  # fmt: skip
        )
    return started


def _prestart_identity(job_dir: Path, plan: dict[str, Any]) -> tuple[bool, WorkerIdentity | None]:
    """Whether the driver may prestart the plan's workers, and as whom.

    Anything doubtful (an unknown user, a plan prepared for another one, something the user cannot
    read) is left to the driver's regular start, which reports it on the job in plain words.
    """
    try:
        run_as = privileges.for_job(privileges.configured_user(), job_dir)
    except InvalidInput:
        return False, None
    if (run_as.name if run_as else None) != plan.get("worker_user"):
        return False, None
    if run_as is not None and privileges.problems(run_as, worker_needs(plan["python"], Path(plan["config_file"]))):
        return False, None
    return True, run_as


def worker_needs(python: str, config_file: Path) -> list[Need]:
    """What every local worker reads: its interpreter, batchpoint's runtime, its configuration, code and model."""
    needs = [
        Need("the Python interpreter", Path(python), "run"),
        Need("batchpoint's worker runtime", Path(SRC_ROOT)),
        Need("the worker configuration", config_file),
    ]
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return needs  # the worker says what is wrong with it
    if config.get("code_dir"):
        needs.append(Need("the scoring code folder", Path(config["code_dir"])))
    env = config.get("env") or {}
    if env.get("AZUREML_MODEL_DIR"):
        needs.append(Need("the model folder", Path(env["AZUREML_MODEL_DIR"])))
    return needs
