"""Local executor: one OS process per worker, talking JSON lines over a socket pair.

Workers are started with ``subprocess`` (a fresh interpreter, like multiprocessing's spawn) so they
can run under another Python (a deployment's environment) and so their stdout/stderr go straight
to per-worker log files. When batchpoint runs as root they start as the unprivileged worker user
(``run_as``, see ``executors/privileges.py``).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from batchpoint.executors.base import Executor
from batchpoint.executors.launch import Launched, launch, worker_env
from batchpoint.executors.messages import WORKER_MESSAGE, Exited, Heartbeat, TaskMessage, WorkerEvent
from batchpoint.executors.privileges import WorkerIdentity
from batchpoint.runtime.channel import Channel


@dataclass
class _Proc:
    proc: subprocess.Popen[bytes]
    channel: Channel
    logs: list[IO[bytes]]


class LocalExecutor(Executor):
    """Worker processes on this machine."""

    def __init__(
        self,
        *,
        config_file: Path,
        log_dir: Path,
        cwd: Path,
        python: str,
        env: dict[str, str],
        run_as: WorkerIdentity | None = None,
        metadata_on_postgres: bool,
    ) -> None:
        """``metadata_on_postgres``: keep libpq's variables (the metadata database's credentials) from
        workers (``launch.worker_env``); no default, so that no caller leaks them by leaving it out."""
        self.config_file = config_file
        self.run_as = run_as
        self.log_dir = log_dir
        self.cwd = cwd
        self.python = python
        self.env = worker_env(env, metadata_on_postgres=metadata_on_postgres)
        self._selector = selectors.DefaultSelector()
        self._procs: dict[str, _Proc] = {}
        self._counter = 0

    def start_worker(self) -> str:
        self._counter += 1
        worker = f"worker-{self._counter:03d}"
        launched = launch(
            worker, python=self.python, config_file=self.config_file, log_dir=self.log_dir, cwd=self.cwd, env=self.env,
            run_as=self.run_as,
        )  # fmt: skip
        self._register(launched)
        return worker

    def adopt(self, launched: Launched) -> bool:
        """Take over a worker started before this executor existed (see ``launch.prestart``).

        Only one that runs as the user this executor starts its own as: the driver prestarts from the
        launch plan, before it has read its settings, and its settings decide.
        """
        if launched.user != (self.run_as.name if self.run_as else None):
            return False
        self._register(launched)
        return True

    def _register(self, launched: Launched) -> None:
        self._counter = max(self._counter, int(launched.worker.rsplit("-", 1)[-1]))
        channel = Channel(launched.sock)
        self._procs[launched.worker] = _Proc(launched.proc, channel, launched.logs)
        self._selector.register(launched.sock, selectors.EVENT_READ, launched.worker)

    def pid(self, worker: str) -> int | None:
        entry = self._procs.get(worker)
        return entry.proc.pid if entry else None

    def send(self, worker: str, task: TaskMessage) -> None:
        entry = self._procs.get(worker)
        if entry is None:
            return
        # NOTE: a failed send means the worker is dying; its Exited event returns the task.
        with contextlib.suppress(OSError):
            entry.channel.send(task.model_dump())

    def poll(self, timeout: float) -> list[WorkerEvent]:
        events: list[WorkerEvent] = []
        for key, _ in self._selector.select(timeout):
            worker: str = key.data
            entry = self._procs[worker]
            try:
                messages = entry.channel.receive_available()
            except (OSError, ValueError):
                messages = None
            if messages is None:
                events.append(WorkerEvent(worker=worker, message=Exited(returncode=self._reap(worker))))
                continue
            for raw in messages:
                try:
                    events.append(WorkerEvent(worker=worker, message=WORKER_MESSAGE.validate_python(raw)))
                except ValidationError:
                    events.append(WorkerEvent(worker=worker, message=Heartbeat(t="hb")))
        return events

    def _reap(self, worker: str) -> int | None:
        entry = self._procs.pop(worker)
        self._selector.unregister(entry.channel.sock)
        entry.channel.close()
        try:
            code = entry.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            entry.proc.kill()
            code = entry.proc.wait()
        for fh in entry.logs:
            fh.close()
        return code

    def kill(self, worker: str) -> None:
        entry = self._procs.get(worker)
        if entry is not None and entry.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(entry.proc.pid, signal.SIGKILL)

    def workers(self) -> list[str]:
        return list(self._procs)

    def close(self, grace: float = 5.0) -> None:
        for entry in self._procs.values():
            with contextlib.suppress(OSError):
                entry.channel.send({"t": "stop"})
        for worker in list(self._procs):
            entry = self._procs[worker]
            try:
                entry.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill(worker)
            self._reap(worker)
        self._selector.close()

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"executor": "local", "python": self.python}
        if self.run_as is not None:
            described["user"] = self.run_as.name
        return described
