"""A pre-imported process that forks job drivers on request, for callers that must not fork themselves.

The server has threads and database connections, so it cannot be forked into a driver the way an
embedded ``invoke`` is (``launcher/forking.py``). It starts this small process instead: one thread, the
driver's modules imported once, no database connection of its own. For each job the server writes
one JSON line (``{"workspace", "job", "epoch", "log_file"}``) to its stdin; the zygote forks a
detached driver and answers ``ok`` (or ``error: ...``) on stdout. A driver is then up in
milliseconds instead of importing batchpoint again. The zygote ends when its stdin closes, which
is when the server ends; drivers it forked have their own sessions and go on.

    python -m batchpoint.launcher.zygote        # started by the server with the drivers' environment
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger("batchpoint.server.jobs")
ANSWER_TIMEOUT = 10.0


class DriverZygote:
    """The server's handle on its zygote; ``spawn`` returns False when the caller must start the driver itself."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def supported() -> bool:
        return sys.platform.startswith("linux") and hasattr(os, "fork")

    def spawn(self, workspace_root: Path, job_name: str, epoch: int, log_file: Path) -> bool:
        if not self.supported():
            return False
        request = {"workspace": str(workspace_root), "job": job_name, "epoch": epoch, "log_file": str(log_file)}
        with self._lock:
            try:
                proc = self._running()
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
                answer = self._answer(proc)
            except (OSError, ValueError) as exc:
                log.warning("driver zygote failed (%s); starting the driver as a new interpreter", exc)
                self._kill()
                return False
        if answer != "ok":
            log.warning("driver zygote could not fork (%s); starting the driver as a new interpreter", answer)
        return answer == "ok"

    def warm(self) -> None:
        """Start the zygote now, so that the first job does not wait for its imports."""
        if self.supported():
            with self._lock, contextlib.suppress(OSError):
                self._running()

    def stop(self) -> None:
        with self._lock:
            if self.proc is not None and self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._kill()
            self.proc = None

    def _running(self) -> subprocess.Popen[bytes]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "batchpoint.launcher.zygote"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env,  # stderr: the server's log
                close_fds=True,
            )  # fmt: skip
        return self.proc

    @staticmethod
    def _answer(proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], ANSWER_TIMEOUT)
        if not ready:
            raise OSError(f"no answer in {ANSWER_TIMEOUT:.0f} s")
        line = proc.stdout.readline()
        if not line:
            raise OSError("the zygote exited")
        return line.decode(errors="replace").strip()

    def _kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        self.proc = None


def _handle(line: bytes) -> str:
    """Fork the driver one request asks for; the answer line for the server."""
    from batchpoint.jobs.driver import run_driver
    from batchpoint.launcher import forking
    from batchpoint.launcher.launch import driver_title

    try:
        request = json.loads(line)
        root, job, epoch = Path(request["workspace"]), str(request["job"]), int(request["epoch"])
        log_file = Path(request["log_file"])
        log_file.parent.mkdir(parents=True, exist_ok=True)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        return f"error: {type(exc).__name__}: {exc}"
    origin = f"forked from the server's zygote, pid {os.getpid()}"
    if not forking.can_fork():
        return "error: this process cannot fork safely"
    title = driver_title(root, job, epoch)
    if forking.fork_detached(lambda: run_driver(root, job, epoch, origin=origin), log_file, title=title):
        return "ok"
    return "error: fork failed"


def main() -> int:
    # Everything a driver imports, once, before the first request.
    from batchpoint.batch.engine import JobRunner  # noqa: F401
    from batchpoint.config import Settings  # noqa: F401
    from batchpoint.services import Services  # noqa: F401
    from batchpoint.workspace import Workspace  # noqa: F401

    for line in sys.stdin.buffer:
        sys.stdout.write(_handle(line) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
