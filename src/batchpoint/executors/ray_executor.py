"""Ray executor: each worker is a Ray actor that runs batchpoint's worker runtime.

The job engine is the same as with local processes: it leases mini-batches, sends them through the
executor contract, times them out, retries them and commits them with compare-and-set. This module is
only transport and process management on Ray:

* ``start_worker`` creates one actor (its resources from the compute and the deployment, its Python
  packages from the deployment's environment as a Ray ``runtime_env``) and asks it to ``start``:
  import the scoring script and call ``init()`` once. Its answer is the ``Ready``/``InitFailed``
  message a local worker sends.
* ``send`` calls the actor's ``handle`` method; an actor runs its calls one at a time, in order, like
  a local worker reads its socket. ``handle`` is ``batchpoint.runtime.worker.Worker.handle``: the same
  code formats the rows and writes the part file, so the part is byte for byte what a local worker
  writes.
* Heartbeats: a second concurrency group on the actor answers ``ping`` while ``run()`` is busy, as
  the local worker's heartbeat thread does. A frozen actor, or one on a node that vanished, falls
  silent and loses its lease after ``lease_seconds``. An actor still being placed or set up (waiting
  for resources, installing its environment) is reported alive by the executor until
  ``BATCHPOINT_RAY_START_TIMEOUT`` seconds (default 600) have passed.
* An actor that dies (killed, crashed, its node lost) is reported as ``Exited``; its in-flight
  mini-batches go back to the engine as they do for a local process. Ray never restarts actors or
  retries calls: the engine decides what is tried again.

Workers read their input files and write part files by path, so every node must see the
workspace and the inputs at the same path (shared storage; see docs/ray.md). A node that does not
fails ``start`` with a message that says so.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from batchpoint.executors.base import Executor
from batchpoint.executors.messages import (
    WORKER_MESSAGE,
    ErrorInfo,
    Exited,
    Heartbeat,
    InitFailed,
    TaskMessage,
    WorkerEvent,
)
from batchpoint.executors.ray_cluster import RayConnection

log = logging.getLogger("batchpoint.driver")

ACTOR_CLASS_NAME = "BatchpointWorker"
_HEARTBEAT_GROUP = "heartbeat"
_KILLED = -9  # what describe_exit() words as "worker killed by SIGKILL", as for a local worker
_INIT_FAILED = 3  # a local worker's exit code after a failed init()


# -- the actor ---------------------------------------------------------------------------------------
def actor_class(ray: Any) -> Any:  # noqa: C901 - the methods of the class it defines count here
    """The Ray actor class of a batchpoint worker: the worker runtime behind method calls instead of a socket.

    Built here, not with decorators, because Ray is imported only when a job uses it. The class is
    defined inside this function so that it travels to the cluster *by value*: an actor process then
    imports only the standard library and ``batchpoint.runtime`` (as a local worker process does), not
    this module and pydantic, and a Ray Client server gets the ``ping`` concurrency group with it.
    ``ping`` runs in its own thread (a concurrency group of one) so that it answers while ``run()`` is busy.
    """

    class _Reply:
        """A ``Sender`` for ``Worker``: keeps the message so that the actor method can return it."""

        def __init__(self) -> None:
            self.messages: list[dict[str, Any]] = []

        def send(self, message: dict[str, Any]) -> None:
            self.messages.append(message)

        def take(self) -> dict[str, Any]:
            return self.messages.pop()

    class BatchpointWorker:
        def __init__(self, config: dict[str, Any], worker_id: str, paths: dict[str, str | None]) -> None:
            # The job's variables before anything imports user code (numpy reads OMP_NUM_THREADS when imported).
            os.environ.update(config.get("env") or {})
            from batchpoint.runtime.worker import Worker

            self.worker_id = worker_id
            self.paths = paths
            self.config = config
            self._redirect_output(paths.get("log_dir"))
            cwd = paths.get("cwd")
            if cwd and os.path.isdir(cwd):
                os.chdir(cwd)
            self.reply = _Reply()
            self.worker = Worker(self.reply, config, worker_id)

        def _redirect_output(self, log_dir: str | None) -> None:
            """stdout/stderr to the job's ``logs/user/std{out,err}/<worker>.*.txt``, as for a local worker."""
            if not log_dir or not os.path.isdir(log_dir):
                return
            for stream, number in (("stdout", 1), ("stderr", 2)):
                folder = os.path.join(log_dir, "user", stream)
                try:
                    os.makedirs(folder, exist_ok=True)
                    path = os.path.join(folder, f"{self.worker_id}.{stream}.txt")
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                except OSError:
                    return
                handle = getattr(sys, stream)
                with contextlib.suppress(OSError, AttributeError, ValueError):
                    handle.flush()
                os.dup2(fd, number)
                os.close(fd)
                with contextlib.suppress(OSError, AttributeError, ValueError):
                    handle.reconfigure(line_buffering=True)

        def _missing_path(self) -> str | None:
            wanted = [self.config.get("code_dir"), (self.config.get("env") or {}).get("AZUREML_MODEL_DIR")]
            wanted += [self.paths.get("parts_dir")]
            for path in wanted:
                if path and not os.path.exists(path):
                    return path
            return None

        def start(self) -> dict[str, Any]:
            """Import the scoring script and call ``init()``: the ``ready`` or ``init_failed`` message."""
            from batchpoint.runtime.worker import _configure

            missing = self._missing_path()
            if missing is not None:
                message = (
                    f"node {socket.gethostname()} cannot see {missing}: every node of a multi-node Ray cluster "
                    "needs the batchpoint workspace and the job's inputs on shared storage, mounted at the same "
                    "path (see docs/ray.md)"
                )
                error = {"exception": "StorageNotShared", "message": message, "traceback": ""}
                return {"t": "init_failed", "pid": os.getpid(), "error": error}
            _configure(self.config)
            self.worker.start()
            return self.reply.take()

        def handle(self, task: dict[str, Any]) -> dict[str, Any]:
            """Score one mini-batch and write its part file: the ``result`` message."""
            self.worker.handle(task)
            return self.reply.take()

        @ray.method(concurrency_group=_HEARTBEAT_GROUP)
        def ping(self) -> int:
            return os.getpid()

        def stop(self) -> None:
            """The script's ``shutdown()``, then flush what it printed."""
            self.worker.stop()
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
                sys.stderr.flush()

    BatchpointWorker.__name__ = BatchpointWorker.__qualname__ = ACTOR_CLASS_NAME
    return ray.remote(concurrency_groups={_HEARTBEAT_GROUP: 1})(BatchpointWorker)


# -- what a job asks of Ray ---------------------------------------------------------------------------
_CPU_KEYS = ("CPU", "cpu", "cpus", "num_cpus")
_GPU_KEYS = ("GPU", "gpu", "gpus", "num_gpus")
_MEMORY_KEYS = ("memory", "mem")
_NOT_RESOURCES = ("instance_count", "instance_type", "properties")


def actor_resources(*sources: dict[str, Any] | None) -> dict[str, Any]:
    """Per-worker Ray options (``num_cpus``, ``num_gpus``, ``memory``, ``resources``); later sources win.

    Sources are the compute's ``resources`` (``{"GPU": 1}``) and the deployment's ``resources``;
    ``memory`` is in bytes. A worker takes one CPU unless told otherwise.
    """
    merged: dict[str, float] = {}
    for source in sources:
        for key, value in (source or {}).items():
            if key in _NOT_RESOURCES or value is None or isinstance(value, dict | list | str | bool):
                continue
            if key in _CPU_KEYS:
                key = "CPU"
            elif key in _GPU_KEYS:
                key = "GPU"
            elif key in _MEMORY_KEYS:
                key = "memory"
            merged[key] = float(value)
    options: dict[str, Any] = {"num_cpus": merged.pop("CPU", 1.0)}
    gpus = merged.pop("GPU", 0.0)
    if gpus:
        options["num_gpus"] = gpus
    memory = merged.pop("memory", 0.0)
    if memory:
        options["memory"] = int(memory)
    if merged:
        options["resources"] = merged
    return options


def demand_of(options: dict[str, Any]) -> dict[str, float]:
    """The resources one actor needs, in Ray's node-resource names."""
    demand = {"CPU": float(options.get("num_cpus", 0)), "GPU": float(options.get("num_gpus", 0))}
    demand["memory"] = float(options.get("memory", 0))
    demand.update(options.get("resources", {}))
    return {k: v for k, v in demand.items() if v > 0}


def fits(demand: dict[str, float], node: dict[str, float]) -> bool:
    return all(node.get(k, 0.0) + 1e-9 >= v for k, v in demand.items())


def pip_packages(requirements: list[str]) -> list[str]:
    """The environment's resolved pip requirement lines as ``runtime_env`` packages: stripped, no comments, once each."""
    seen: set[str] = set()
    packages = []
    for line in requirements:
        line = line.strip()
        if line and not line.startswith("#") and line not in seen:
            seen.add(line)
            packages.append(line)
    return packages


# Variables that only work when set before the interpreter starts: these need a Ray worker process
# of their own (a runtime_env), the others are set inside the actor before the script is imported.
_PROCESS_START_PREFIXES = ("PYTHON", "LD_", "MALLOC_", "GLIBC_", "DYLD_")


def runtime_env(env: dict[str, str], pip: list[str]) -> dict[str, Any] | None:
    """The Ray ``runtime_env`` of a job's actors, or None when they can run in Ray's ready worker processes.

    pip packages need one; so do variables read at interpreter start (``PYTHONHASHSEED``,
    ``LD_PRELOAD``...). Other variables are set by the actor itself before the scoring script is
    imported, which lets Ray use the worker processes it started in advance (about 2 s less per actor).
    """
    env_vars = {str(k): str(v) for k, v in env.items()}
    if not pip and not any(k.startswith(_PROCESS_START_PREFIXES) for k in env_vars):
        return None
    result: dict[str, Any] = {"env_vars": {**env_vars, "PYTHONUNBUFFERED": "1"}}
    if pip:
        result["pip"] = {"packages": list(pip), "pip_check": False}
    return result


# -- the executor ------------------------------------------------------------------------------------
@dataclass
class RayJob:
    """What the executor needs from the job."""

    address: str
    config: dict[str, Any]
    log_dir: Path
    cwd: Path
    parts_dir: Path
    env: dict[str, str]
    options: dict[str, Any]
    pip: list[str] = field(default_factory=list)
    heartbeat_seconds: float = 1.0
    job_name: str = "job"
    workers: int = 1
    max_instances: int = 1
    start_timeout: float = 600.0
    dashboard: bool = True


@dataclass
class _Ref:
    worker: str
    seq: int
    kind: str  # "start", "task", "ping"


@dataclass
class _Actor:
    handle: Any
    created: float
    up: bool = False
    """Answered something: placed and running (until then the executor vouches for it)."""
    replied_start: bool = False
    dead: bool = False
    refs: set[Any] = field(default_factory=set)
    ping: Any = None
    last_ping: float = 0.0
    last_synthetic: float = 0.0


class RayExecutor(Executor):
    """Workers as Ray actors, on a private single-node Ray or on an existing cluster."""

    def __init__(self, job: RayJob) -> None:
        self.job = job
        self.connection = RayConnection(
            job.address,
            namespace=f"batchpoint-{job.job_name}",
            num_cpus=self._private_cpus() if job.address == "local" else None,
            dashboard=job.dashboard,
        )
        self.ray = self.connection.connect()
        self._errors = self.ray.exceptions.RayError
        self._actors: dict[str, _Actor] = {}
        self._refs: dict[Any, _Ref] = {}
        self._events: list[WorkerEvent] = []
        self._counter = 0
        self._seq = itertools.count()
        self._env = runtime_env(job.env, job.pip)
        self._actor_class = actor_class(self.ray)
        self._infeasible = self._check_feasible()
        self._paths: dict[str, str | None] = {
            "log_dir": str(job.log_dir),
            "cwd": str(job.cwd),
            "parts_dir": str(job.parts_dir),
        }
        log.info(
            "Ray executor: %d worker(s), each %s%s",
            job.workers,
            job.options,
            f", pip {job.pip}" if job.pip else "",
        )

    def _private_cpus(self) -> int:
        # Enough CPUs that every worker gets placed, as the local executor starts them all.
        per_worker = float(self.job.options.get("num_cpus", 1.0))
        return max(os.cpu_count() or 1, int(per_worker * self.job.workers + 0.999))

    def _check_feasible(self) -> str | None:
        """Why no worker can ever be placed (no node big enough, and the cluster may not grow), or None."""
        demand = demand_of(self.job.options)
        try:
            nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        except Exception:  # a client connection without the node table: let Ray decide
            return None
        if any(fits(demand, n.get("Resources", {})) for n in nodes):
            return None
        if len(nodes) < self.job.max_instances:
            log.warning(
                "no node of the Ray cluster has %s for one worker yet; waiting up to %.0f s for one (max_instances %d)",
                demand,
                self.job.start_timeout,
                self.job.max_instances,
            )
            return None
        offered = [{k: v for k, v in n.get("Resources", {}).items() if not k.startswith("node:")} for n in nodes]
        return (
            f"no node of the Ray cluster can hold one worker, which needs {demand}; the nodes have {offered}. "
            "Lower the compute's or the deployment's resources, or raise the compute's max_instances if the "
            "cluster adds bigger nodes on demand"
        )

    # -- the contract -----------------------------------------------------------------------------
    def start_worker(self) -> str:
        self._counter += 1
        worker = f"worker-{self._counter:03d}"
        if self._infeasible is not None:
            error = ErrorInfo(exception="InsufficientResources", message=self._infeasible)
            self._events.append(WorkerEvent(worker=worker, message=InitFailed(t="init_failed", pid=0, error=error)))
            self._events.append(WorkerEvent(worker=worker, message=Exited(returncode=None)))
            return worker
        options = {
            **self.job.options,
            "max_restarts": 0,
            "max_task_retries": 0,
            "max_concurrency": 1,
            "scheduling_strategy": "SPREAD",
        }
        if self._env is not None:
            options["runtime_env"] = self._env
        handle = self._actor_class.options(**options).remote(self.job.config, worker, self._paths)
        actor = _Actor(handle=handle, created=time.monotonic())
        self._actors[worker] = actor
        self._track(worker, actor, handle.start.remote(), "start")
        self._ping(worker, actor, time.monotonic())
        return worker

    def send(self, worker: str, task: TaskMessage) -> None:
        actor = self._actors.get(worker)
        if actor is None or actor.dead:
            return  # its Exited event returns the task to the engine
        self._track(worker, actor, actor.handle.handle.remote(task.model_dump()), "task")

    def poll(self, timeout: float) -> list[WorkerEvent]:
        now = time.monotonic()
        for worker, actor in list(self._actors.items()):
            if actor.dead:
                continue
            if actor.ping is None and now - actor.last_ping >= self.job.heartbeat_seconds:
                self._ping(worker, actor, now)
            if not actor.up:
                self._vouch(worker, actor, now)
        events, self._events = self._events, []
        refs = list(self._refs)
        if not refs:
            if not events:
                time.sleep(timeout)
            return events
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=0 if events else timeout)
        if ready and len(refs) > 1:
            ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        events.extend(self._collect(ready))
        events.extend(self._events)
        self._events = []
        return events

    def kill(self, worker: str) -> None:
        actor = self._actors.get(worker)
        if actor is None or actor.dead:
            return
        self._bury(worker, actor, _KILLED, None)

    def close(self, grace: float = 5.0) -> None:
        try:
            stops = []
            for actor in self._actors.values():
                if not actor.dead and actor.up:
                    with contextlib.suppress(Exception):
                        stops.append(actor.handle.stop.remote())
            if stops:
                with contextlib.suppress(Exception):
                    self.ray.wait(stops, num_returns=len(stops), timeout=grace)
            for actor in self._actors.values():
                if not actor.dead:
                    actor.dead = True
                    with contextlib.suppress(Exception):
                        self.ray.kill(actor.handle, no_restart=True)
            self._actors.clear()
            self._refs.clear()
        finally:
            self.connection.close(wait=False)

    def workers(self) -> list[str]:
        return [w for w, a in self._actors.items() if not a.dead]

    def describe(self) -> dict[str, Any]:
        return {
            "executor": "ray",
            "address": self.job.address,
            "ray": getattr(self.ray, "__version__", None),
            "worker_resources": self.job.options,
            "pip": self.job.pip,
            **self.connection.info,
        }

    # -- internals --------------------------------------------------------------------------------
    def _track(self, worker: str, actor: _Actor, ref: Any, kind: str) -> None:
        self._refs[ref] = _Ref(worker, next(self._seq), kind)
        actor.refs.add(ref)

    def _ping(self, worker: str, actor: _Actor, now: float) -> None:
        actor.last_ping = now
        try:
            ref = actor.handle.ping.remote()
        except Exception as exc:  # the actor handle is unusable: the actor is gone
            self._bury(worker, actor, None, exc)
            return
        actor.ping = ref
        self._track(worker, actor, ref, "ping")

    def _vouch(self, worker: str, actor: _Actor, now: float) -> None:
        """An actor not yet placed or set up is alive for the engine, until the start timeout."""
        if now - actor.created > self.job.start_timeout:
            error = ErrorInfo(
                exception="ActorStartTimeout",
                message=f"the Ray actor did not start within {self.job.start_timeout:.0f} s "
                f"(waiting for {demand_of(self.job.options)} or for its runtime environment)",
            )
            self._events.append(WorkerEvent(worker=worker, message=InitFailed(t="init_failed", pid=0, error=error)))
            self._bury(worker, actor, None, None)
            return
        if now - actor.last_synthetic >= self.job.heartbeat_seconds:
            actor.last_synthetic = now
            self._events.append(WorkerEvent(worker=worker, message=Heartbeat(t="hb")))

    def _collect(self, ready: Iterable[Any]) -> list[WorkerEvent]:
        events: list[WorkerEvent] = []
        items = sorted(((self._refs.pop(ref), ref) for ref in ready if ref in self._refs), key=lambda x: x[0].seq)
        for info, ref in items:
            actor = self._actors.get(info.worker)
            if actor is None or actor.dead:
                continue
            actor.refs.discard(ref)
            if info.kind == "ping":
                actor.ping = None
            try:
                value = self.ray.get(ref)
            except self._errors as exc:
                self._died(info.worker, actor, exc, events)
                continue
            actor.up = True
            if info.kind == "ping":
                events.append(WorkerEvent(worker=info.worker, message=Heartbeat(t="hb")))
                continue
            if info.kind == "start":
                actor.replied_start = True
            try:
                message = WORKER_MESSAGE.validate_python(value)
            except ValidationError:
                log.warning("%s sent a malformed reply: %r", info.worker, value)
                continue
            events.append(WorkerEvent(worker=info.worker, message=message))
            if isinstance(message, InitFailed):
                # A local worker exits after a failed init() (code 3): so does its actor.
                self._bury(info.worker, actor, _INIT_FAILED, None)
        return events

    def _died(self, worker: str, actor: _Actor, exc: BaseException, events: list[WorkerEvent]) -> None:
        """The actor is gone (or unusable): say why where the user looks, then report it exited."""
        if not actor.replied_start:
            # It never got to init(): a placement, environment or node failure, said plainly.
            error = ErrorInfo(exception=type(exc).__name__, message=_first_line(exc))
            events.append(WorkerEvent(worker=worker, message=InitFailed(t="init_failed", pid=0, error=error)))
        self._bury(worker, actor, None, exc)

    def _bury(self, worker: str, actor: _Actor, code: int | None, exc: BaseException | None) -> None:
        actor.dead = True
        for ref in actor.refs:
            self._refs.pop(ref, None)
        actor.refs.clear()
        actor.ping = None
        with contextlib.suppress(Exception):
            self.ray.kill(actor.handle, no_restart=True)
        if exc is not None:
            reason = f"{type(exc).__name__}: {_first_line(exc)}"
            log.warning("%s: the Ray actor is gone: %s", worker, reason)
            self._note(worker, f"batchpoint: the Ray actor of {worker} is gone: {reason}\n")
        del self._actors[worker]
        self._events.append(WorkerEvent(worker=worker, message=Exited(returncode=code)))

    def _note(self, worker: str, text: str) -> None:
        """Append a line to the worker's stderr log (the job's logs/user/stderr/<worker>.stderr.txt)."""
        folder = self.job.log_dir / "user" / "stderr"
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / f"{worker}.stderr.txt", "a", encoding="utf-8") as fh:
                fh.write(text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else text
    return first[:500]
