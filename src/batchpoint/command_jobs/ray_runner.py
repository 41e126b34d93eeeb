"""A command job on a ``ray`` compute: its command runs as one Ray task on the compute's cluster.

What ``ray job submit`` does, through batchpoint's own connection (never Ray's Jobs API, see
docs/ray.md): a remote task runs ``bash -c <command>`` in a subprocess of its Ray worker, in the job's
working folder, with the job's variables, and appends its stdout and stderr to the job's
``logs/user_logs/std_log.txt`` as they come. The task returns the exit code and the last stderr
lines; the driver (``kind.py``) turns them into the job's state exactly as for a local command.

The task reads and writes by path (the working folder, the inputs, the outputs, std_log), so the
node that runs it must see the workspace at the same path as the driver: the shared storage that
batch jobs on Ray need too (docs/ray.md). A node that cannot see the working folder fails the job
with a sentence saying so.

Stopping: ``terminate`` is ``ray.cancel`` (a ``KeyboardInterrupt`` in the task, which sends SIGTERM
to the command's process group); ``kill`` is ``ray.cancel(force=True)``, which kills the Ray worker.
A watchdog process beside the command (not a child of the worker) kills the command's group as soon
as that worker or the command's shell is gone, so a force-cancel, a crashed worker or a dead driver
(Ray then stops the driver's tasks) leaves nothing running.

The environment is not built here: its pip requirements become the task's ``runtime_env``, as for a
batch job's actors (``executors/ray_executor.py: runtime_env``), and the command runs on the node's
Python (the runtime environment's, when there is one).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.errors import BatchpointError

if TYPE_CHECKING:
    from batchpoint.config import RaySettings
    from batchpoint.environments.builder import EnvironmentBuild
    from batchpoint.environments.definitions import EnvironmentRequest
    from batchpoint.executors.privileges import WorkerIdentity
    from batchpoint.executors.ray_cluster import RayConnection

log = logging.getLogger("batchpoint.driver")
TAIL_LINES = 5
TERM_GRACE_SECONDS = 4.0
"""How long the task waits after SIGTERM before SIGKILL (less than the driver's grace, so it gets to do it)."""
TASK_NAME = "batchpoint-command"


# -- the task ----------------------------------------------------------------------------------------
def command_task() -> Callable[..., dict[str, Any]]:
    """The function the Ray task runs, defined here so that it travels to the cluster *by value*.

    It imports only the standard library (and ``ray``, which every worker has): a node needs neither
    batchpoint's command-job code nor pydantic to run it.
    """

    def run_command(
        command: str, cwd: str, job_env: dict[str, str], log_path: str, tail_lines: int, grace: float
    ) -> dict[str, Any]:
        import collections
        import contextlib
        import os
        import signal
        import socket
        import subprocess
        import sys
        import threading

        import ray

        # $1: this worker's pid, $2: the command's (and its process group's): kill the group once either
        # is gone. Started in the background of a shell that exits at once, so that it is no child of
        # this worker: Ray kills a dead worker's children (the command's bash among them), not theirs.
        watchdog_script = (
            '(while kill -0 "$1" && kill -0 "$2"; do sleep 0.5; done; kill -KILL -- -"$2") >/dev/null 2>&1 &'
        )
        where = {"pid": os.getpid(), "host": socket.gethostname(), "node_id": ray.get_runtime_context().get_node_id()}
        for path in (cwd, os.path.dirname(log_path)):
            if not os.path.isdir(path):
                message = (
                    f"node {where['host']} cannot see {path}: a command job on a Ray compute needs the batchpoint "
                    "workspace on storage that every node shares, mounted at the same path (see docs/ray.md)"
                )
                return {**where, "error": message}
        # The node's environment, not the driver's: its PATH, HOME and Ray's own variables. The
        # worker's interpreter (the runtime_env's, with the job's pip packages) comes first on PATH.
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("BATCHPOINT_")}
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", os.defpath)])
        env.update(job_env)
        tail: collections.deque[str] = collections.deque(maxlen=tail_lines)

        def group(sig: int) -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

        def copy_stderr(pipe: Any, out: Any) -> None:
            with contextlib.suppress(OSError, ValueError):
                for line in iter(pipe.readline, b""):
                    out.write(line)
                    out.flush()
                    tail.append(line.decode(errors="replace").rstrip()[:500])

        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                ["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
            # Outlives this worker: a force-cancel kills the worker, not the command's own session.
            subprocess.run(
                ["bash", "-c", watchdog_script, "batchpoint-watchdog", str(os.getpid()), str(proc.pid)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, check=False,
            )  # fmt: skip
            copier = threading.Thread(target=copy_stderr, args=(proc.stderr, out), daemon=True)
            copier.start()
            try:
                while True:  # short waits: a cancel's KeyboardInterrupt arrives between them
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        code = proc.wait(timeout=0.2)
                        break
            except BaseException:  # canceled: SIGTERM, then SIGKILL, as a local command is stopped
                group(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=grace)
                raise
            finally:
                group(signal.SIGKILL)  # what the command left running in the background ends with it
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
                copier.join(timeout=5)
                if proc.stderr is not None:  # the worker runs other tasks after this one: no fd left open
                    proc.stderr.close()
        return {**where, "code": code, "tail": list(tail)}

    return run_command


def task_options(compute: dict[str, Any], requirements: list[str], job_name: str) -> dict[str, Any]:
    """The Ray task's options: the compute's resources, the environment's pip packages, no retries.

    The resources and the ``runtime_env`` are computed by the batch executor's own helpers, so that a
    command and a batch job's worker ask a cluster for the same things in the same way.
    """
    from batchpoint.executors.ray_executor import actor_resources, pip_packages, runtime_env

    options: dict[str, Any] = {
        **actor_resources(compute.get("resources")),
        "max_retries": 0,  # Ray never runs the command again by itself: job resume does
        "retry_exceptions": False,
        "name": f"{TASK_NAME}:{job_name}",
    }
    # The command's variables go to its subprocess directly, so only the packages need a runtime_env.
    env = runtime_env({}, pip_packages(requirements))
    if env is not None:
        options["runtime_env"] = env
    return options


# -- the driver's side -------------------------------------------------------------------------------
class RayPlacement:
    """``kind.py``'s placement for a ``ray`` compute: nothing built here, the command a task on the cluster."""

    executor = "ray"

    def __init__(
        self,
        compute: dict[str, Any],
        *,
        job_name: str,
        settings: RaySettings,
        keep_alive: Callable[[], Any],
        heartbeat_seconds: float,
    ) -> None:
        self.compute = compute
        self.job_name = job_name
        self.settings = settings
        self.keep_alive = keep_alive
        self.heartbeat_seconds = heartbeat_seconds

    def build_environment(self, request: EnvironmentRequest) -> EnvironmentBuild:
        """The environment as resolved, not built: Ray's runtime_env installs its packages on the node."""
        from batchpoint.environments.builder import EnvironmentBuild, host_interpreter

        host = host_interpreter()
        note = "on a Ray compute the environment's pip packages are installed by Ray's runtime_env"
        return EnvironmentBuild(
            kind=request.kind, name=request.name, version=request.version, model=request.model, python=host.path,
            python_version=host.version, requirements=request.requirements, note="; ".join([note, *request.notes]),
        )  # fmt: skip

    def worker_user(self) -> WorkerIdentity | None:
        return None  # the cluster's user runs its tasks, as it runs a batch job's actors

    def environment(
        self, job_vars: dict[str, str], built: EnvironmentBuild, run_as: WorkerIdentity | None
    ) -> dict[str, str]:
        return dict(job_vars)  # the task adds the node's own environment under them

    def start(
        self,
        command: str,
        cwd: Path,
        env: dict[str, str],
        log_path: Path,
        built: EnvironmentBuild,
        run_as: WorkerIdentity | None,
    ) -> RayCommand:
        connection = self._connect()
        try:
            options = task_options(self.compute, list(built.requirements), self.job_name)
            remote = connection.ray.remote(command_task()).options(**options)
            ref = remote.remote(command, str(cwd), env, str(log_path), TAIL_LINES, TERM_GRACE_SECONDS)
        except Exception:
            connection.close()
            raise
        log.info("submitted the command as a Ray task (%s)", options)
        return RayCommand(connection, ref, {"address": connection.address, **connection.info, "options": options})

    def _connect(self) -> RayConnection:
        from batchpoint.common.beating import beating
        from batchpoint.executors.ray_cluster import RayConnection, import_ray

        import_ray()  # MissingExtra, naming the extra, before anything else
        address = str(self.compute.get("address") or "auto")
        connection = RayConnection(
            address,
            namespace=f"batchpoint-{self.job_name}",
            num_cpus=os.cpu_count() if address == "local" else None,
            dashboard=self.settings.dashboard,
        )
        # Starting a private Ray, or reaching a busy cluster, can outlast driver_stale_seconds.
        with beating(self.keep_alive, self.heartbeat_seconds, name="ray-connect-heartbeat", what="write the heartbeat"):
            connection.connect()
        return connection


class RayCommand:
    """The command's Ray task, seen through ``kind.py``'s ``CommandProcess``."""

    def __init__(self, connection: RayConnection, ref: Any, info: dict[str, Any]) -> None:
        self.connection = connection
        self.ray = connection.ray
        self.ref = ref
        self.info = {"executor": "ray", "driver_host": socket.gethostname(), **info}
        self.info["task_id"] = _task_id(ref)
        self.result: dict[str, Any] | None = None
        self.stopping = False
        self.closed = False

    def poll(self) -> int | None:
        return self.wait(0)

    def wait(self, timeout: float | None) -> int | None:
        if self.result is None:
            if self.closed:
                return None
            ready, _ = self.ray.wait([self.ref], num_returns=1, timeout=timeout)
            if not ready:
                return None
            self.result = self._get()
        return int(self.result["code"])

    def _get(self) -> dict[str, Any]:
        """The task's answer; a task that failed as a task (not the command) fails the job with Ray's words."""
        try:
            result: dict[str, Any] = self.ray.get(self.ref)
        except self.ray.exceptions.RayError as exc:
            if self.stopping:  # canceled after terminate(): the driver has already decided how the job ends
                return {"code": -15, "tail": []}
            raise BatchpointError(
                f"the Ray task that ran the command failed: {type(exc).__name__}: {_first_line(exc)}"
            ) from None
        self.info.update({k: result[k] for k in ("node_id", "host", "pid") if k in result})
        log.info(
            "the Ray task ran on node %s (%s), worker pid %s",
            result.get("node_id"),
            result.get("host"),
            result.get("pid"),
        )
        if "error" in result:
            raise BatchpointError(str(result["error"]))
        return result

    def terminate(self) -> None:
        if self.result is None and not self.closed:
            self.stopping = True
            try:
                self.ray.cancel(self.ref, force=False)
            except Exception as exc:  # already finished or gone: kill() settles it
                log.warning("cancelling the Ray task failed: %s: %s", type(exc).__name__, exc)

    def kill(self) -> None:
        if self.closed:
            return
        if self.result is None:
            ready, _ = self.ray.wait([self.ref], num_returns=1, timeout=0)
            if not ready:
                log.info("force-cancelling the Ray task %s", self.info["task_id"])
                try:
                    self.ray.cancel(self.ref, force=True)
                except Exception as exc:
                    log.warning("force-cancelling the Ray task failed: %s: %s", type(exc).__name__, exc)
        self.closed = True
        self.connection.close(wait=False)

    def tail(self) -> list[str]:
        return list((self.result or {}).get("tail") or [])

    def describe(self) -> dict[str, Any]:
        return dict(self.info)


def _task_id(ref: Any) -> str | None:
    try:
        return str(ref.task_id().hex())
    except Exception:  # a Ray Client reference may not say
        return None


def _first_line(exc: BaseException) -> str:
    lines = [line for line in (str(exc).strip() or repr(exc)).splitlines() if line.strip()]
    return (lines[0] if lines else repr(exc))[:500]
