"""The background supervisor's files, and what they say about it. Standard library only.

Under the workspace's ``state/supervisor/`` folder (``WorkspaceLayout.supervisor``):

``supervisor.lock``
    held with ``fcntl.flock`` (exclusive) by the running process, for its whole life: a second
    process cannot take it and exits. The kernel drops the lock when the process dies, however it
    dies, so a crash never leaves the workspace locked. Never deleted (deleting a lock file lets
    two processes lock two different files).
``supervisor.pid``
    the running process's pid, written once it holds the lock; removed on a clean stop. A pid file
    whose process is gone is *stale*: the next process to take the lock replaces it.
``status.json``
    rewritten atomically (temporary file, then rename) every heartbeat: pid, started_at,
    heartbeat_at, heartbeat_seconds, duties' health (``schemas.SupervisorStatus``); removed on a
    clean stop.
``supervisor.log``
    the process's stdout and stderr (``batchpoint supervisor start`` appends to it).

``probe()`` reads them without taking the lock and without importing SQLAlchemy or pydantic:
this is what ``batchpoint status`` shows.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from batchpoint.common.processes import pid_alive
from batchpoint.errors import WorkspaceNotFound

DIRNAME = ".batchpoint"  # the same as workspace/layout.py (importing it would import the database layer)
SUPERVISOR_DIR = ("state", "supervisor")  # WorkspaceLayout.supervisor, relative to the workspace root
MODULE = "batchpoint.supervisor"
STALE_BEATS = 5
"""A heartbeat older than this many heartbeat intervals (and at least ``MIN_STALE_SECONDS``) means unresponsive."""
MIN_STALE_SECONDS = 10.0

State = Literal["running", "starting", "unresponsive", "stale", "not_running"]


def find_root(explicit: Path | str | None = None, *, start: Path | None = None) -> Path:
    """The workspace's ``.batchpoint`` folder, found as ``workspace.find_workspace`` finds it (without its imports)."""
    how_to = "create one with 'batchpoint init' (or pass --workspace PATH / set BATCHPOINT_WORKSPACE)"
    given = explicit if explicit is not None else os.environ.get("BATCHPOINT_WORKSPACE")
    if given:
        path = Path(given).expanduser().resolve()
        root = _as_root(path)
        if root is None:
            raise WorkspaceNotFound(f"no batchpoint workspace at '{path}'", hint=how_to)
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        root = _as_root(folder)
        if root is not None:
            return root
    raise WorkspaceNotFound(f"no batchpoint workspace found in '{here}' or any parent folder", hint=how_to)


def _as_root(path: Path) -> Path | None:
    if path.name == DIRNAME and (path / "workspace.json").is_file():
        return path
    candidate = path / DIRNAME
    if (candidate / "workspace.json").is_file():
        return candidate
    return None


def is_supervisor(pid: int) -> bool:
    """Whether ``pid`` runs ``python -m batchpoint.supervisor`` (True where /proc cannot tell: a reused pid is rare)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return MODULE.encode() in fh.read()
    except FileNotFoundError:
        return not os.path.isdir("/proc/self")
    except OSError:
        return True


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class Probe:
    """What the files say: ``state``, the process's pid, its status file (when it is that process's), why."""

    state: State
    pid: int | None
    status: dict[str, Any] | None
    reason: str
    heartbeat_age: float | None = None
    uptime: float | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_dict(self) -> dict[str, Any]:
        status = self.status or {}
        return {
            "state": self.state,
            "reason": self.reason,
            "pid": self.pid,
            "started_at": status.get("started_at"),
            "uptime_seconds": None if self.uptime is None else round(self.uptime, 1),
            "heartbeat_at": status.get("heartbeat_at"),
            "heartbeat_age_seconds": None if self.heartbeat_age is None else round(self.heartbeat_age, 1),
            "mode": status.get("mode"),
            "version": status.get("version"),
            "duties": status.get("duties", []),
        }


@dataclass(frozen=True)
class SupervisorFiles:
    """The files of one workspace's background supervisor (see the module docstring)."""

    dir: Path

    @classmethod
    def of(cls, root: Path) -> SupervisorFiles:
        """The files of the workspace whose ``.batchpoint`` folder is ``root``."""
        return cls(root.joinpath(*SUPERVISOR_DIR))

    @property
    def lock(self) -> Path:
        return self.dir / "supervisor.lock"

    @property
    def pid(self) -> Path:
        return self.dir / "supervisor.pid"

    @property
    def status(self) -> Path:
        return self.dir / "status.json"

    @property
    def log(self) -> Path:
        return self.dir / "supervisor.log"

    def read_pid(self) -> int | None:
        try:
            text = self.pid.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else -1

    def read_status(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.status.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def probe(self, now: float | None = None) -> Probe:
        """The supervisor's state, from the pid file, the process table and the status file."""
        now = time.time() if now is None else now
        pid = self.read_pid()
        if pid is None:
            return Probe("not_running", None, None, "no pid file")
        if pid < 0:
            return Probe("stale", None, None, f"{self.pid} does not hold a pid")
        if not pid_alive(pid) or not is_supervisor(pid):
            return Probe("stale", pid, None, f"the pid file names process {pid}, which is not running (a crash?)")
        status = self.read_status()
        if status is None or status.get("pid") != pid:
            return Probe("starting", pid, None, "the process runs but has not written its status yet")
        beat = _timestamp(status.get("heartbeat_at"))
        started = _timestamp(status.get("started_at"))
        age = None if beat is None else max(0.0, now - beat)
        uptime = None if started is None else max(0.0, now - started)
        interval = float(status.get("heartbeat_seconds") or 2.0)
        limit = max(MIN_STALE_SECONDS, STALE_BEATS * interval)
        if age is None or age > limit:
            shown = "no" if age is None else f"a {age:.0f} s old"
            return Probe("unresponsive", pid, status, f"process {pid} runs but has {shown} heartbeat", age, uptime)
        if status.get("state") == "stopping":
            return Probe("running", pid, status, "stopping", age, uptime)
        return Probe("running", pid, status, "heartbeat is fresh", age, uptime)
