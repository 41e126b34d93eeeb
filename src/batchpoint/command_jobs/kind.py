"""The ``command`` job kind: a driver that prepares the command's environment, code and outputs, then runs it.

prepare (build or reuse the environment, export the code snapshot to ``jobs/<job>/code``, make the
output folders, render the command) → run (``bash -c`` in a new session, so that a cancel stops the
whole process tree; stdout and stderr to ``logs/user_logs/std_log.txt`` as Azure names it) →
Completed on exit 0, with the outputs' files recorded for ``job download``; Failed otherwise, with the
exit code and the last lines the command wrote to stderr. A resumed driver runs the command again,
with its output folders emptied first.

Where the command runs is its compute's choice, made once in ``placement_for``: a process group of
this machine (``LocalPlacement``), or a Ray task on a ``ray`` compute's cluster
(``command_jobs/ray_runner.py``). Everything else (states, heartbeat, cancel, timeout, resume, the
failure message) is this module's, the same for both.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from sqlalchemy import text

from batchpoint.command_jobs.runspec import CommandRunSpec
from batchpoint.errors import BatchpointError
from batchpoint.jobs.record import CancelPending, JobRecord, Superseded
from batchpoint.jobs.schemas import JobState

if TYPE_CHECKING:
    from batchpoint.environments.builder import EnvironmentBuild
    from batchpoint.environments.definitions import EnvironmentRequest
    from batchpoint.executors.launch import Launched
    from batchpoint.executors.privileges import WorkerIdentity
    from batchpoint.jobs.kinds import DriverJob
    from batchpoint.services import Services

log = logging.getLogger("batchpoint.driver")
STD_LOG = Path("user_logs") / "std_log.txt"
EXECUTOR_FILE = "executor.json"
"""``logs/executor.json``: where the command ran (``local`` or ``ray``, and its process)."""
TAIL_LINES = 5
KILL_GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.1


class _Stopped(Exception):
    """The command was stopped: a cancel (``canceled``) or its time limit (``timeout``)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class CommandJob:
    type = "command"

    def run(self, ctx: Services, job: DriverJob, epoch: int, prestarted: list[Launched]) -> JobState:
        for launched in prestarted:  # a command job has no workers; nothing should be here
            launched.proc.kill()
        return CommandRunner(ctx, job, epoch).run()


class CommandRunner:
    def __init__(self, ctx: Services, job: DriverJob, epoch: int) -> None:
        self.ctx = ctx
        self.job = job
        self.epoch = epoch
        self.record = JobRecord(ctx.db, job.id, epoch)
        self.job_dir = ctx.layout.job_dir(job.name)
        self.logs = self.job_dir / "logs"
        self.proc: CommandProcess | None = None
        self.placement: Placement = LocalPlacement(self)  # until the spec is read: placement_for
        self.resumed = False

    def run(self) -> JobState:
        try:
            return self._run()
        except CancelPending:
            return self._end(JobState.canceled, "canceled by request")
        except _Stopped as stopped:
            return self._end(*self._stopped_reason(stopped.why))
        except BatchpointError as exc:
            return self._end(JobState.failed, str(exc))
        except Superseded:
            log.warning("a newer driver took over this job; exiting")
            self._kill_tree()
            return JobState.running
        except Exception as exc:
            log.exception("driver failed")
            self._kill_tree()
            return self._end(JobState.failed, f"internal error in the job driver: {type(exc).__name__}: {exc}")

    def _end(self, state: JobState, reason: str) -> JobState:
        log.warning("job %s: %s", state.value, reason)
        self._kill_tree()
        try:
            return self.record.end(state, reason)
        except Superseded:
            return JobState.running

    def _stopped_reason(self, why: str) -> tuple[JobState, str]:
        if why == "timeout":
            spec = self._spec()
            return (
                JobState.failed,
                f"the command ran longer than its limit (limits.timeout: {spec.timeout_seconds:g} s)",
            )
        return JobState.canceled, "canceled by request"

    def _started_before(self) -> bool:
        """Whether an earlier driver got as far as preparing (this one resumes: the command runs again)."""
        with self.ctx.db.read() as s:
            started = s.execute(text("SELECT started_at FROM jobs WHERE id=:id"), {"id": self.job.id}).scalar()
        return started is not None

    def _spec(self) -> CommandRunSpec:
        with self.ctx.db.read() as s:
            raw = s.execute(text("SELECT spec FROM jobs WHERE id=:id"), {"id": self.job.id}).scalar_one()
        return CommandRunSpec.model_validate(json.loads(raw) if isinstance(raw, str) else raw)

    # -- the phases --------------------------------------------------------------------------------
    def _run(self) -> JobState:
        if self.record.read_state() == JobState.cancel_requested:
            return self._end(JobState.canceled, "canceled by request before the job started")
        if self.record.publication() is not None:  # a resumed driver of a job that had published: finish it
            return self.record.complete(self.record.publication())
        self.resumed = self._started_before()
        now = time.time()
        self.record.advance(
            "prepare", started_at=now, heartbeat_at=now, driver_pid=os.getpid(), driver_host=socket.gethostname()
        )
        spec = self._spec()
        self.placement = placement_for(spec, self)
        built = self._environment(spec)
        self.record.update(environment=json.dumps(built.job_record(), default=str))
        code_dir = self._code(spec)
        work_dir = code_dir or self.job_dir / "work"
        work_dir.mkdir(parents=True, exist_ok=True)
        run_as = self.placement.worker_user()
        self._outputs(spec, run_as, work_dir)
        from batchpoint.command_jobs.service import check_rendering

        command = check_rendering(spec, owner=f"job '{self.job.name}'")
        (self.logs / "command.txt").write_text(command + "\n")
        env = self.placement.environment(self._job_variables(spec, own_user=run_as is None), built, run_as)
        self.record.advance("run")
        code, tail = self._execute(command, work_dir, env, built, run_as, spec.timeout_seconds)
        if code != 0:
            words = f"command exited with code {code}" if code > 0 else f"command was killed by signal {-code}"
            return self._end(JobState.failed, words + (f": {tail}" if tail else ""))
        publication = {"outputs": self._record_outputs(spec)}
        state = self.record.complete(publication)
        log.info("command completed")
        return state

    def _environment(self, spec: CommandRunSpec) -> EnvironmentBuild:
        from batchpoint.batch.prepare import _write_summary
        from batchpoint.environments import definitions

        if spec.environment is None:
            request = definitions.EnvironmentRequest(kind="current", notes=["the job names no environment"])
        else:
            request = definitions.from_registered(self.ctx.environments.resolve(spec.environment))
        built = self.placement.build_environment(request)
        _write_summary(self.logs / "environment.txt", built)
        return built

    def _code(self, spec: CommandRunSpec) -> Path | None:
        """The code snapshot, exported to ``jobs/<job>/code`` (kept on a resume: it is the same snapshot)."""
        if spec.code is None:
            return None
        code_dir = self.job_dir / "code"
        if code_dir.exists():
            return code_dir
        manifest = self.ctx.artifacts.manifest(spec.code)
        staging = self.job_dir / ".code-staging"
        shutil.rmtree(staging, ignore_errors=True)
        if manifest.kind == "file":
            self.ctx.artifacts.export(spec.code, staging / "code")
            exported = staging / "code"
        else:
            exported = self.ctx.artifacts.export(spec.code, staging)
        os.replace(exported, code_dir)
        shutil.rmtree(staging, ignore_errors=True)
        return code_dir

    def _outputs(self, spec: CommandRunSpec, run_as: WorkerIdentity | None, work_dir: Path) -> None:
        """New, empty output folders (a resumed driver empties what the earlier run left)."""
        from batchpoint.executors import privileges

        folders = []
        for output in spec.outputs.values():
            path = Path(output.path)
            folder = path.parent if output.type == "uri_file" else path
            if self.resumed:
                if output.type == "uri_file":
                    path.unlink(missing_ok=True)
                else:
                    shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
            folders.append(folder)
        writes = [work_dir, *folders]
        if run_as is not None and run_as.home.parent == self.job_dir:
            writes.append(run_as.home)
        privileges.grant(run_as, *writes)

    def _job_variables(self, spec: CommandRunSpec, *, own_user: bool) -> dict[str, str]:
        """What batchpoint and the job set for the command, wherever it runs (the placement adds the rest)."""
        env = {"PYTHONUNBUFFERED": "1"}  # std_log shows lines as they are printed (Azure's runtime does this too)
        env["AZUREML_RUN_ID"] = self.job.name
        env["AZUREML_JOB_NAME"] = self.job.name
        if self.job.parent_job_name:
            env["AZUREML_PARENT_RUN_ID"] = self.job.parent_job_name
        with self.ctx.db.read() as s:
            experiment = s.execute(text("SELECT experiment_name FROM jobs WHERE id=:id"), {"id": self.job.id}).scalar()
        if experiment:
            env["AZUREML_EXPERIMENT_NAME"] = str(experiment)
        # The stock MLflow client in the command logs into the job's run (mlflow.log_metric, autolog).
        env.update(self.ctx.runs.job_environment(self.job.name, own_user=own_user))
        env.update(spec.environment_variables)
        return env

    # -- running the command -----------------------------------------------------------------------
    def _execute(
        self,
        command: str,
        cwd: Path,
        env: dict[str, str],
        built: EnvironmentBuild,
        run_as: WorkerIdentity | None,
        timeout: float | None,
    ) -> tuple[int, str]:
        """Run the command to its end; (exit code, the last stderr lines, redacted). ``_Stopped`` when stopped."""
        log_path = self.logs / STD_LOG
        log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.resumed and log_path.is_file() and log_path.stat().st_size:
            with open(log_path, "ab") as out:
                out.write(f"\n===== run again (driver epoch {self.epoch}) =====\n".encode())
        log.info("running on %s: %s", self.placement.executor, command)
        self.proc = self.placement.start(command, cwd, env, log_path, built, run_as)
        (self.logs / EXECUTOR_FILE).write_text(json.dumps(self.proc.describe(), indent=2) + "\n")
        self._watch(timeout)
        code = self.proc.wait(None)
        assert code is not None
        self._kill_tree()  # what the command left running in the background ends with it
        (self.logs / EXECUTOR_FILE).write_text(json.dumps(self.proc.describe(), indent=2) + "\n")
        from batchpoint.common.redact import redact

        return code, redact(" | ".join(line for line in self.proc.tail() if line.strip()))

    def _watch(self, timeout: float | None) -> None:
        """Wait for the command, beating the heartbeat and looking for a cancel; ``_Stopped`` when one comes."""
        assert self.proc is not None
        interval = self.ctx.settings.engine.heartbeat_seconds
        started = time.monotonic()
        last_beat = 0.0
        while self.proc.poll() is None:
            now = time.monotonic()
            if now - last_beat >= interval:
                if not self.record.heartbeat():
                    raise Superseded(f"job {self.job.name} is driven by a newer driver")
                last_beat = now
                if self.record.read_state() == JobState.cancel_requested:
                    self._stop()
                    raise _Stopped("canceled")
            if timeout and now - started > timeout:
                self._stop()
                raise _Stopped("timeout")
            self.proc.wait(min(_POLL_SECONDS, interval))

    def _stop(self) -> None:
        """Ask the command to stop (SIGTERM), then kill it after a grace period."""
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(KILL_GRACE_SECONDS)
        self._kill_tree()

    def _kill_tree(self) -> None:
        if self.proc is not None:
            self.proc.kill()

    def _record_outputs(self, spec: CommandRunSpec) -> dict[str, str]:
        """The files each output holds now (``output-manifest.json``): downloads hand out exactly those."""
        from batchpoint.jobs import outputs_manifest

        found: dict[str, list[str]] = {}
        for output in spec.outputs.values():
            path = Path(output.path)
            if output.type == "uri_file":
                found[str(path.parent)] = [path.name] if path.is_file() and not path.is_symlink() else []
            else:
                found[str(path)] = outputs_manifest.list_files(path)
        outputs_manifest.write_outputs(self.job_dir, found)
        return {name: output.path for name, output in spec.outputs.items()}


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _copy_stderr(pipe: IO[bytes], out: IO[bytes], tail: collections.deque[str]) -> None:
    """Copy the command's stderr into std_log as it comes, keeping its last lines for the failure message."""
    with contextlib.suppress(OSError, ValueError):  # std_log closed under it: the driver is ending the job
        for line in iter(pipe.readline, b""):
            out.write(line)
            out.flush()
            tail.append(line.decode(errors="replace").rstrip()[:500])
    pipe.close()


# -- where the command runs ------------------------------------------------------------------------
class CommandProcess(Protocol):
    """A started command, on this machine or on a Ray cluster: what the driver's watch loop needs of it."""

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs."""

    def wait(self, timeout: float | None) -> int | None:
        """Wait up to ``timeout`` seconds (None: to the end); the exit code, or None if still running."""

    def terminate(self) -> None:
        """Ask the command to stop (SIGTERM to its process group)."""

    def kill(self) -> None:
        """Kill the command's whole process tree now (idempotent); nothing it started outlives this."""

    def tail(self) -> list[str]:
        """The last lines the command wrote to stderr."""

    def describe(self) -> dict[str, Any]:
        """Where it runs (``logs/executor.json``): the executor and its process."""


class Placement(Protocol):
    """Where a command job's command runs: its environment, its user, its variables, its process."""

    executor: str

    def build_environment(self, request: EnvironmentRequest) -> EnvironmentBuild: ...

    def worker_user(self) -> WorkerIdentity | None: ...

    def environment(
        self, job_vars: dict[str, str], built: EnvironmentBuild, run_as: WorkerIdentity | None
    ) -> dict[str, str]: ...

    def start(
        self,
        command: str,
        cwd: Path,
        env: dict[str, str],
        log_path: Path,
        built: EnvironmentBuild,
        run_as: WorkerIdentity | None,
    ) -> CommandProcess: ...


def placement_for(spec: CommandRunSpec, runner: CommandRunner) -> Placement:
    """Where the command runs, by the job's compute type: the one place that decides it.

    Ray is imported only here, and only for a ``ray`` compute: other drivers never load it.
    """
    if spec.compute.get("type") == "ray":
        from batchpoint.command_jobs.ray_runner import RayPlacement

        return RayPlacement(
            spec.compute,
            job_name=runner.job.name,
            settings=runner.ctx.settings.ray,
            keep_alive=runner.record.heartbeat,
            heartbeat_seconds=runner.ctx.settings.engine.heartbeat_seconds,
        )
    return LocalPlacement(runner)


class LocalPlacement:
    """The command as a process group of this machine, in the environment built here."""

    executor = "local"

    def __init__(self, runner: CommandRunner) -> None:
        self.ctx = runner.ctx
        self.job_dir = runner.job_dir
        self.heartbeat = runner.record.heartbeat

    def build_environment(self, request: EnvironmentRequest) -> EnvironmentBuild:
        from batchpoint.common.beating import beating
        from batchpoint.environments.builder import EnvironmentBuilder

        interval = self.ctx.settings.engine.heartbeat_seconds
        with beating(self.heartbeat, interval, name="environment-build-heartbeat", what="write the heartbeat"):
            return EnvironmentBuilder(self.ctx.layout.cache).build(request)

    def worker_user(self) -> WorkerIdentity | None:
        from batchpoint.executors import privileges

        return privileges.for_job(self.ctx.settings.engine.worker_user, self.job_dir)

    def environment(
        self, job_vars: dict[str, str], built: EnvironmentBuild, run_as: WorkerIdentity | None
    ) -> dict[str, str]:
        # The driver's own settings (the database URL among them) are not the command's business.
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("BATCHPOINT_")}
        for key in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "CONDA_PREFIX"):
            env.pop(key, None)
        bin_dir = str(Path(built.python).parent) if built.kind != "current" else str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", os.defpath)])
        if built.kind != "current" and built.path:
            env["VIRTUAL_ENV"] = built.path
        env.update(job_vars)
        if run_as is not None:
            from batchpoint.executors import privileges

            env = privileges.user_environment(env, run_as)
        return env

    def start(
        self,
        command: str,
        cwd: Path,
        env: dict[str, str],
        log_path: Path,
        built: EnvironmentBuild,
        run_as: WorkerIdentity | None,
    ) -> CommandProcess:
        return LocalCommand(command, cwd, env, log_path, run_as)


class LocalCommand:
    """``bash -c`` in a new session (so that a cancel stops the whole tree), stderr copied into std_log."""

    def __init__(
        self, command: str, cwd: Path, env: dict[str, str], log_path: Path, run_as: WorkerIdentity | None
    ) -> None:
        options: dict[str, Any] = run_as.popen_options() if run_as is not None else {}
        self.out = open(log_path, "ab")  # noqa: SIM115 - open while the command runs; closed by kill()
        self.proc = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self.out,
            stderr=subprocess.PIPE, start_new_session=True, **options,
        )  # fmt: skip
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        assert self.proc.stderr is not None
        self.copier = threading.Thread(target=_copy_stderr, args=(self.proc.stderr, self.out, self._tail), daemon=True)
        self.copier.start()

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(timeout=timeout)
        return None

    def terminate(self) -> None:
        _signal_group(self.proc.pid, signal.SIGTERM)

    def kill(self) -> None:
        _signal_group(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.copier.join(timeout=5)
        self.out.close()

    def tail(self) -> list[str]:
        return list(self._tail)

    def describe(self) -> dict[str, Any]:
        return {"executor": "local", "host": socket.gethostname(), "pid": self.proc.pid}
