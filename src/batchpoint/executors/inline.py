"""Inline executor: workers as objects in the driver's own process, scoring mini-batches one after another.

For tests and debugging (``BATCHPOINT_ENGINE_EXECUTOR=inline``), like rq's ``SimpleWorker``: the same
contract as local processes, without processes. Each worker is the real worker runtime
(``batchpoint.runtime.worker.Worker``): it imports the scoring script, calls ``init()``, runs
``run(mini_batch)``, formats the rows and writes the part file with the code a worker process uses,
and its replies go through JSON and the same validation as a socket's. Events come in the order a
worker sends them (``Ready`` or ``InitFailed`` then ``Exited(3)``; ``TaskResult`` per task, in
order; ``Exited(-9)`` after ``kill``), so the engine's accounting runs exactly as with processes, and
deterministically: each ``poll`` takes every worker, in order, one step (start, or run one task).

What differs from a process, on purpose:

* Work happens inside ``poll`` (``send`` only queues), so a ``run()`` cannot be interrupted. One that
  outlasts the job's timeout has its result withheld and its worker runs nothing more, so the engine
  times the attempt out and kills the worker as it would a process.
* Scripts run under the driver's interpreter and as its user (the factory refuses this as root
  unless workers are meant to run as root): a deployment's own environment is not used.
* The worker's variables, ``sys.argv``, ``sys.path`` and working folder are set around each call
  and put back after it; ``print`` output goes to the worker's ``logs/user/std*`` files. Logging is
  left as the driver configured it.
* A script that calls ``os._exit`` or crashes the interpreter ends the driver with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from batchpoint.executors.base import Executor
from batchpoint.executors.messages import WORKER_MESSAGE, Exited, Heartbeat, TaskMessage, WorkerEvent
from batchpoint.runtime.worker import Worker, script_argv

_KILLED = -signal.SIGKILL  # what a local worker killed by the engine exits with
_INIT_FAILED = 3  # a worker process's exit code after a failed init()


class _Replies:
    """A worker's ``Sender``: its messages, as the driver would read them off the socket."""

    def __init__(self, worker: str, events: list[WorkerEvent]) -> None:
        self.worker = worker
        self.events = events
        self.last = time.monotonic()

    def send(self, message: dict[str, Any]) -> None:
        raw = json.loads(json.dumps(message, default=str))  # what the channel's JSON lines carry
        try:
            parsed = WORKER_MESSAGE.validate_python(raw)
        except ValidationError:
            parsed = Heartbeat(t="hb")  # as LocalExecutor.poll treats a malformed message
        self.events.append(WorkerEvent(worker=self.worker, message=parsed))
        self.last = time.monotonic()


@dataclass
class _Slot:
    worker: Worker
    replies: _Replies
    inbox: deque[dict[str, Any]] = field(default_factory=deque)
    started: bool = False
    path: list[str] = field(default_factory=list)
    """What importing its script added to ``sys.path`` (its code folder): there again for each call."""
    stuck: bool = False
    """Its last ``run()`` outlasted the timeout: as a process still inside it, it runs nothing more (its
    heartbeat goes on) until the engine kills it."""


class InlineExecutor(Executor):
    """Workers inside this process (see the module's docstring)."""

    def __init__(
        self,
        *,
        config: dict[str, Any],
        log_dir: Path,
        cwd: Path,
        heartbeat_seconds: float = 1.0,
        run_timeout: float | None = None,
    ) -> None:
        self.config = config
        self.log_dir = log_dir
        self.cwd = cwd
        self.heartbeat_seconds = heartbeat_seconds
        self.run_timeout = run_timeout
        self._slots: dict[str, _Slot] = {}
        self._events: list[WorkerEvent] = []
        self._counter = 0

    def start_worker(self) -> str:
        self._counter += 1
        worker = f"worker-{self._counter:03d}"
        replies = _Replies(worker, self._events)
        self._slots[worker] = _Slot(Worker(replies, self.config, worker), replies)
        return worker

    def send(self, worker: str, task: TaskMessage) -> None:
        slot = self._slots.get(worker)
        if slot is not None:
            slot.inbox.append(json.loads(task.model_dump_json()))

    def poll(self, timeout: float) -> list[WorkerEvent]:
        for worker in list(self._slots):
            self._step(worker)
        now = time.monotonic()
        for slot in self._slots.values():
            # After every step, not in it: a process's heartbeat thread speaks while another worker's
            # long run() has this one waiting.
            if now - slot.replies.last >= self.heartbeat_seconds:
                slot.replies.send({"t": "hb"})
        events = list(self._events)
        self._events.clear()  # in place: the workers' senders hold this list
        if not events:
            time.sleep(timeout)  # nothing to say, as a socket with nothing to read
        return events

    def _step(self, worker: str) -> None:
        """One step of the worker: start it, or run its next task.

        One task per poll, not all it holds: the engine hears each result as a process's would arrive,
        and times the next task from there.
        """
        slot = self._slots[worker]
        if slot.stuck:
            return
        if not slot.started:
            slot.started = True
            with self._as_worker(slot):
                ready = slot.worker.start()
            if not ready:
                self._exited(worker, _INIT_FAILED)
        elif slot.inbox:
            began = time.monotonic()
            with self._as_worker(slot):
                slot.worker.handle(slot.inbox.popleft())
            if self.run_timeout is not None and time.monotonic() - began > self.run_timeout:
                # A process would still be in run(): withhold its result; the engine kills it.
                self._events.pop()
                slot.stuck = True

    def _exited(self, worker: str, code: int) -> None:
        _forget(self._slots.pop(worker))
        self._events.append(WorkerEvent(worker=worker, message=Exited(returncode=code)))

    @contextlib.contextmanager
    def _as_worker(self, slot: _Slot) -> Iterator[None]:
        """The process state a worker process has (variables, argv, path, folder, output), for one call."""
        environ, argv, path, cwd = dict(os.environ), sys.argv, list(sys.path), os.getcwd()
        worker = slot.replies.worker
        out_dir, err_dir = self.log_dir / "user" / "stdout", self.log_dir / "user" / "stderr"
        out_dir.mkdir(parents=True, exist_ok=True)
        err_dir.mkdir(parents=True, exist_ok=True)
        with (
            open(out_dir / f"{worker}.stdout.txt", "a", encoding="utf-8") as out,
            open(err_dir / f"{worker}.stderr.txt", "a", encoding="utf-8") as err,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            _set_environ(self.config.get("env") or {})
            sys.argv = script_argv(self.config)
            sys.path[:0] = [p for p in slot.path if p not in path]
            if self.cwd.is_dir():
                os.chdir(self.cwd)
            try:
                yield
            finally:
                os.chdir(cwd)
                slot.path = [p for p in sys.path if p not in path]
                sys.argv, sys.path[:] = argv, path
                for key in set(os.environ) - set(environ):
                    del os.environ[key]
                _set_environ(environ)

    def kill(self, worker: str) -> None:
        if worker in self._slots:
            self._exited(worker, _KILLED)

    def close(self, grace: float = 5.0) -> None:
        """Each worker's ``shutdown()``, as a worker process calls it when told to stop."""
        for worker in list(self._slots):
            slot = self._slots.pop(worker)
            if slot.worker.module is not None and not slot.stuck:
                with self._as_worker(slot):
                    slot.worker.stop()
            _forget(slot)
        self._events.clear()

    def describe(self) -> dict[str, Any]:
        return {"executor": "inline", "python": sys.executable}


def _forget(slot: _Slot) -> None:
    """Drop the worker's script from ``sys.modules``: the next worker or job imports it afresh, as a process would."""
    module = slot.worker.module
    if module is not None and sys.modules.get(module.__name__) is module:
        del sys.modules[module.__name__]


def _set_environ(values: dict[str, str]) -> None:
    """Set the variables whose value differs, and only those.

    Setting one again moves its string to the heap; once the original block after ``argv`` is
    scattered that way, ``setproctitle`` in a driver forked later has only ``argv``'s own bytes for
    its title, and ``ps`` shows it cut short.
    """
    for key, value in values.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
