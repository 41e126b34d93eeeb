"""Local executor: one OS process per worker, talking JSON lines over a socket pair.

Workers are started with ``subprocess`` (a fresh interpreter, like multiprocessing's spawn) so they
can run under another Python (a deployment's environment) and so their stdout/stderr go straight
to per-worker log files.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

import batchpoint
from batchpoint.executors.base import Executor
from batchpoint.executors.messages import WORKER_MESSAGE, Exited, Heartbeat, TaskMessage, WorkerEvent
from batchpoint.runtime.channel import Channel

_SRC_ROOT = str(Path(batchpoint.__file__).resolve().parent.parent)


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
    ) -> None:
        self.config_file = config_file
        self.log_dir = log_dir
        self.cwd = cwd
        self.python = python
        self.env = self._worker_env(env)
        self._selector = selectors.DefaultSelector()
        self._procs: dict[str, _Proc] = {}
        self._counter = 0

    @staticmethod
    def _worker_env(extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPOINT_")}
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _SRC_ROOT + (os.pathsep + path if path else "")
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra)
        return env

    def start_worker(self) -> str:
        self._counter += 1
        worker = f"worker-{self._counter:03d}"
        parent, child = socket.socketpair()
        out_dir = self.log_dir / "user" / "stdout"
        err_dir = self.log_dir / "user" / "stderr"
        out_dir.mkdir(parents=True, exist_ok=True)
        err_dir.mkdir(parents=True, exist_ok=True)
        stdout = open(out_dir / f"{worker}.stdout.txt", "ab")  # noqa: SIM115 - closed when the worker is reaped
        stderr = open(err_dir / f"{worker}.stderr.txt", "ab")  # noqa: SIM115
        cmd = [
            self.python, "-m", "batchpoint.runtime.worker",
            "--fd", str(child.fileno()), "--config", str(self.config_file), "--worker-id", worker,
        ]  # fmt: skip
        try:
            proc = subprocess.Popen(
                cmd, pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                cwd=self.cwd, env=self.env,
            )  # fmt: skip
        finally:
            child.close()
        parent.setblocking(True)
        channel = Channel(parent)
        self._procs[worker] = _Proc(proc, channel, [stdout, stderr])
        self._selector.register(parent, selectors.EVENT_READ, worker)
        return worker

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
        return {"executor": "local", "python": self.python}
