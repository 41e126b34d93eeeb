"""The per-workspace background supervisor: ``python -m batchpoint.supervisor --workspace W``.

The contract (``docs/supervisor.md``; the files are described in ``files.py``):

1. It takes ``state/supervisor/supervisor.lock`` with ``fcntl.flock`` (exclusive, non-blocking,
   retried for about a second). When another process holds it, it prints who and exits with
   ``ALREADY_RUNNING`` (3): two never run for one workspace.
2. Holding the lock, it replaces a pid file left by a crashed process (logging that it was stale)
   with its own pid, builds the ``embedded`` duties (``service.DUTIES``), starts them, then writes
   ``status.json`` (atomically) at once and every ``--heartbeat`` seconds.
3. SIGTERM (or SIGINT) ends it: it writes a last status with ``state: stopping``, stops every duty
   within ``--stop-timeout`` seconds, removes the status and pid files, releases the lock and
   exits 0.

It never starts or restarts a job: embedded jobs start detached at invoke, as before.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from batchpoint._version import __version__
from batchpoint.supervisor.files import SupervisorFiles, find_root, write_atomic
from batchpoint.supervisor.schemas import SupervisorStatus
from batchpoint.supervisor.service import DutyContext, Supervisor

log = logging.getLogger("batchpoint.supervisor")
ALREADY_RUNNING = 3
DEFAULT_HEARTBEAT = 2.0
DEFAULT_STOP_TIMEOUT = 5.0


def acquire_lock(path: Path, wait: float = 1.0) -> int | None:
    """An open descriptor holding an exclusive ``flock`` on ``path``, or None when another process holds it.

    Retried for ``wait`` seconds: a reader that takes the lock for an instant (to clean up stale
    files) must not make a starting process give up.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class BackgroundSupervisor:
    """One run of the background process for the workspace whose ``.batchpoint`` folder is ``root``."""

    def __init__(
        self, root: Path, *, heartbeat: float = DEFAULT_HEARTBEAT, stop_timeout: float = DEFAULT_STOP_TIMEOUT
    ) -> None:
        self.root = root
        self.files = SupervisorFiles.of(root)
        self.heartbeat = heartbeat
        self.stop_timeout = stop_timeout
        self.stopping = threading.Event()
        self.started_at = datetime.now(UTC)

    def request_stop(self, signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        self.stopping.set()

    def run(self) -> int:
        self.files.dir.mkdir(parents=True, exist_ok=True)
        lock = acquire_lock(self.files.lock)
        if lock is None:
            holder = self.files.read_pid()
            print(f"batchpoint supervisor: already running for {self.root} (pid {holder})", file=sys.stderr)
            return ALREADY_RUNNING
        try:
            previous = self.files.read_pid()
            if previous is not None and previous != os.getpid():
                log.warning("replacing the stale pid file of process %s (it no longer holds the lock)", previous)
            _remove(self.files.status)
            write_atomic(self.files.pid, f"{os.getpid()}\n")
            log.info("supervisor of %s running as pid %d", self.root, os.getpid())
            self._serve()
        finally:
            _remove(self.files.status)
            if self.files.read_pid() == os.getpid():
                _remove(self.files.pid)
            os.close(lock)  # releases the lock, after the files are gone
        log.info("supervisor of %s stopped", self.root)
        return 0

    def _serve(self) -> None:
        from batchpoint.config import Settings
        from batchpoint.services import Services
        from batchpoint.workspace import Workspace

        settings = Settings()
        workspace = Workspace(self.root, settings)
        supervisor = Supervisor.build(
            "embedded",
            DutyContext(services=Services(workspace, actor="supervisor"), settings=settings, mode="embedded"),
        )
        try:
            supervisor.start()
            self._write_status(supervisor, "running")
            while not self.stopping.wait(self.heartbeat):
                self._write_status(supervisor, "running")
            self._write_status(supervisor, "stopping")
        finally:
            supervisor.stop(self.stop_timeout)
            workspace.close()

    def _write_status(self, supervisor: Supervisor, state: str) -> None:
        status = SupervisorStatus(
            pid=os.getpid(),
            workspace=str(self.root),
            mode=supervisor.mode,
            version=__version__,
            state=state,
            started_at=self.started_at,
            heartbeat_at=datetime.now(UTC),
            heartbeat_seconds=self.heartbeat,
            duties=supervisor.health(),
        )
        try:
            write_atomic(self.files.status, status.model_dump_json(indent=2) + "\n")
        except OSError:
            log.exception("could not write %s", self.files.status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batchpoint.supervisor", description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="the workspace folder (default: found from the current folder)")
    parser.add_argument("--heartbeat", type=float, default=DEFAULT_HEARTBEAT, help="seconds between status writes")
    parser.add_argument("--stop-timeout", type=float, default=DEFAULT_STOP_TIMEOUT, help="seconds to stop the duties")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from batchpoint.errors import BatchpointError

    try:
        root = find_root(args.workspace)
    except BatchpointError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return exc.exit_code
    process = BackgroundSupervisor(root, heartbeat=args.heartbeat, stop_timeout=args.stop_timeout)
    signal.signal(signal.SIGTERM, process.request_stop)
    signal.signal(signal.SIGINT, process.request_stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal does not stop it; SIGTERM does
    return process.run()
