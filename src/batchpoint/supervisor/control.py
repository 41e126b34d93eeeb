"""Start and stop the background supervisor of a workspace (what ``batchpoint supervisor start|stop`` call).

``start`` is idempotent: a supervisor that is already running is left alone (``already_running``).
Otherwise it spawns ``python -m batchpoint.supervisor --workspace W`` in a new session (its output
appended to ``supervisor.log``) and returns once the status file names the new process with a
fresh heartbeat: a readiness poll, not a sleep. When two starts race, the process that loses the
lock exits with ``ALREADY_RUNNING`` and its start waits for the winner to be ready instead.

``stop`` is idempotent: nothing running is ``not_running`` (stale files of a crashed process are
removed). Otherwise it sends SIGTERM and waits for the process to exit; past ``timeout`` it sends
SIGKILL (``killed``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from batchpoint.common.processes import pid_alive
from batchpoint.supervisor.errors import SupervisorError
from batchpoint.supervisor.files import MODULE, Probe, SupervisorFiles
from batchpoint.supervisor.process import ALREADY_RUNNING

POLL = 0.05
MAX_LOG_BYTES = 5 * 1024 * 1024
_SECRETS = ("BATCHPOINT_TOKEN", "BATCHPOINT_BOOTSTRAP_TOKEN")


@dataclass(frozen=True)
class Outcome:
    """What ``start``/``stop`` did (``started``, ``already_running``, ``stopped``, ``killed``, ``not_running``)."""

    action: str
    probe: Probe
    message: str


def _wait(until: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if until():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def _log_tail(files: SupervisorFiles, lines: int = 20) -> str:
    try:
        return "\n".join(files.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _rotate(log: Path) -> None:
    try:
        if log.stat().st_size > MAX_LOG_BYTES:
            os.replace(log, log.with_name(log.name + ".1"))
    except FileNotFoundError:
        pass


def remove_stale_files(files: SupervisorFiles) -> bool:
    """Remove the pid and status files when no process holds the lock; True if it did."""
    if not files.lock.exists():
        return False
    fd = os.open(files.lock, os.O_RDWR | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a process holds it: its files are not stale
        removed = False
        for path in (files.status, files.pid):
            try:
                path.unlink()
                removed = True
            except FileNotFoundError:
                pass
        return removed
    finally:
        os.close(fd)  # releases the lock


def spawn(root: Path, files: SupervisorFiles, extra_args: list[str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m batchpoint.supervisor`` detached (new session, no terminal, output to the log)."""
    files.dir.mkdir(parents=True, exist_ok=True)
    _rotate(files.log)
    env = {k: v for k, v in os.environ.items() if k not in _SECRETS}
    command = [sys.executable, "-m", MODULE, "--workspace", str(root), *(extra_args or [])]
    with open(files.log, "ab") as log:
        return subprocess.Popen(
            command, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip


def start(root: Path, *, timeout: float = 30.0, extra_args: list[str] | None = None) -> Outcome:
    """Make sure the workspace's supervisor runs; returns once it is ready (see the module docstring)."""
    files = SupervisorFiles.of(root)
    probe = files.probe()
    if probe.running:
        return Outcome("already_running", probe, f"the supervisor is already running (pid {probe.pid})")
    if probe.state == "unresponsive":
        raise SupervisorError(
            f"the supervisor (pid {probe.pid}) runs but does not answer: {probe.reason}",
            hint="stop it with 'batchpoint supervisor stop', then start it again",
        )
    if probe.state == "starting":
        return _await_other(files, probe.pid, timeout)
    child = spawn(root, files, extra_args)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = child.poll()
        probe = files.probe()
        if probe.running and probe.pid == child.pid:
            return Outcome("started", probe, f"the supervisor started (pid {child.pid})")
        if code == ALREADY_RUNNING:
            return _await_other(files, files.read_pid(), max(0.0, deadline - time.monotonic()))
        if code is not None:
            raise SupervisorError(
                f"the supervisor exited with code {code} before it was ready; its log ({files.log}) ends with:\n"
                + _log_tail(files)
            )
        time.sleep(POLL)
    child.terminate()
    raise SupervisorError(f"the supervisor was not ready within {timeout:g} s; see {files.log}")


def _await_other(files: SupervisorFiles, pid: int | None, timeout: float) -> Outcome:
    """Another start won the lock: wait until its process is ready."""
    if _wait(lambda: files.probe().running, timeout):
        probe = files.probe()
        return Outcome("already_running", probe, f"the supervisor is already running (pid {probe.pid})")
    raise SupervisorError(f"another supervisor (pid {pid}) holds the lock but was not ready within {timeout:g} s")


def stop(root: Path, *, timeout: float = 10.0) -> Outcome:
    """Make sure the workspace's supervisor does not run: SIGTERM, wait, SIGKILL past ``timeout``."""
    files = SupervisorFiles.of(root)
    probe = files.probe()
    pid = probe.pid
    if probe.state in ("not_running", "stale") or pid is None:
        cleaned = remove_stale_files(files)
        suffix = " (removed the stale files of a crashed supervisor)" if cleaned and probe.state == "stale" else ""
        return Outcome("not_running", probe, "the supervisor is not running" + suffix)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait(lambda: not pid_alive(pid), timeout):
        return Outcome("stopped", files.probe(), f"the supervisor stopped (pid {pid})")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait(lambda: not pid_alive(pid), 5.0)
    remove_stale_files(files)
    return Outcome("killed", files.probe(), f"the supervisor did not stop within {timeout:g} s; killed pid {pid}")
