"""Starting local worker processes, with the standard library only.

The local executor starts its workers through ``launch``. A driver can also start them *before*
it imports its heavy dependencies (``prestart``), from a launch plan that ``invoke`` wrote when
nothing had to be built: worker start-up (the script's imports, ``init()``) then overlaps the
driver's own start-up instead of following it.

When batchpoint runs as root, workers start as the unprivileged worker user (see
``executors/privileges.py``). This module reads no settings of its own (importing them costs the
driver the pydantic import it is racing): ``invoke`` records its ``worker_user`` setting in the plan,
and a driver running as root takes it only from a plan that root wrote, in folders no other user can
write, so that nobody else can plant a plan naming root. It prestarts only when that user can reach
everything the workers read; the executor then adopts a prestarted worker only if it runs as the
user the driver's own settings name (``LocalExecutor.adopt``), and stops it otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from batchpoint.errors import InvalidInput
from batchpoint.executors import privileges
from batchpoint.executors.privileges import Need, WorkerIdentity

if TYPE_CHECKING:
    from batchpoint.config import Settings

SRC_ROOT = str(Path(__file__).resolve().parent.parent.parent)
PLAN_NAME = "launch.json"


@dataclass
class Launched:
    """A started worker process and the driver's end of its socket."""

    worker: str
    proc: subprocess.Popen[bytes]
    sock: socket.socket
    logs: list[IO[bytes]]
    user: str | None = None
    """The name of the user it runs as; None: as the process that started it."""

    def discard(self) -> None:
        """Stop it and release what it holds (a worker no executor adopted)."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self.proc.wait(timeout=10)
        self.sock.close()
        for fh in self.logs:
            fh.close()


def worker_env(extra: dict[str, str], *, metadata_on_postgres: bool) -> dict[str, str]:
    """The worker's environment: ours minus batchpoint's own settings, plus ``extra``.

    ``metadata_on_postgres``: the metadata database is PostgreSQL, so libpq's own variables
    (``PGPASSWORD``, ``PGPASSFILE``, ``PGHOST``...) are the driver's credentials for it and user code
    does not get them either. The caller says so (from its settings); this module reads none.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATCHPOINT_") and not (metadata_on_postgres and k.startswith("PG"))
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
    return Launched(worker, proc, parent, [stdout, stderr], run_as.name if run_as else None)


def write_plan(job_dir: Path, *, python: str, config_file: Path, log_dir: Path, cwd: Path, env: dict[str, str],
               workers: int, settings: Settings | None = None) -> None:  # fmt: skip
    """Record how to start this job's workers (written by ``invoke`` when nothing has to be built).

    ``settings``: the invoking process's (default: read now). Its ``worker_user`` setting goes into the
    plan, for the driver, which has not read its settings when it prestarts; ``worker_user`` is the
    user that setting resolved to, who ``prepare_runtime`` handed the job's folders to.
    """
    if settings is None:
        from batchpoint.config import Settings

        settings = Settings()
    setting = settings.engine.worker_user
    run_as = privileges.worker_identity(setting)
    on_postgres = (settings.database_url or "").startswith("postgres")
    plan = {"python": python, "config_file": str(config_file), "log_dir": str(log_dir), "cwd": str(cwd),
            "env": worker_env(env, metadata_on_postgres=on_postgres), "workers": workers,
            "worker_user_setting": setting, "worker_user": run_as.name if run_as else None}  # fmt: skip
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

    Anything doubtful (a plan someone else could have written, an unknown user, a plan prepared for
    another one, something the user cannot read) is left to the driver's regular start, which
    reports it on the job in plain words.
    """
    if privileges.running_as_root() and not all(_ours(p) for p in (job_dir / PLAN_NAME, job_dir, job_dir.parent)):
        return False, None
    setting = plan.get("worker_user_setting")
    try:
        run_as = privileges.for_job(setting if isinstance(setting, str) else None, job_dir)
    except InvalidInput:
        return False, None
    if (run_as.name if run_as else None) != plan.get("worker_user"):
        return False, None
    if run_as is not None and privileges.problems(run_as, worker_needs(plan["python"], Path(plan["config_file"]))):
        return False, None
    return True, run_as


def _ours(path: Path) -> bool:
    """Owned by this process's user (not a link) and writable by no one else: so only we wrote what is there."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not stat.S_ISLNK(st.st_mode) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


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
