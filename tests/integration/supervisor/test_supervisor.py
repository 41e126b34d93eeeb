"""The per-workspace background supervisor as real processes: start, status, idempotence, crash, SIGTERM, races.

Every wait is a readiness poll on the supervisor's files or processes, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from batchpoint.common.processes import pid_alive
from batchpoint.supervisor.files import SupervisorFiles
from batchpoint.supervisor.process import ALREADY_RUNNING

BIN = Path(sys.executable).parent


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def supervisors_of(root: Path) -> list[int]:
    """The pids of live ``python -m batchpoint.supervisor`` processes of this workspace."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"batchpoint.supervisor" in args and str(root).encode() in args and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.fixture
def root(workspace: Path) -> Iterator[Path]:
    """The workspace's ``.batchpoint`` folder; any supervisor a test leaves behind is killed."""
    root = workspace / ".batchpoint"
    yield root
    for pid in supervisors_of(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def status(cli: Any) -> dict[str, Any]:
    result = cli("status", "-o", "json")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_start_status_start_again_and_stop(cli: Any, root: Path) -> None:
    before = status(cli)
    assert before["target"] == {"kind": "workspace", "location": str(root)}
    assert before["supervisor"]["state"] == "not_running"

    started = cli("supervisor", "start")
    assert "started" in started.stdout
    # start returned once the status file named the process: it is already running, no wait needed
    report = status(cli)["supervisor"]
    assert report["state"] == "running"
    pid = report["pid"]
    assert pid_alive(pid) and supervisors_of(root) == [pid]
    assert report["mode"] == "embedded"
    assert report["uptime_seconds"] is not None and report["heartbeat_age_seconds"] is not None
    assert [d["name"] for d in report["duties"]] == ["job-watch"]

    table = cli("status").stdout
    assert f"running (pid {pid}, up " in table and "heartbeat" in table and "job-watch" in table

    again = cli("supervisor", "start")
    assert again.returncode == 0 and "already running" in again.stdout and str(pid) in again.stdout
    assert supervisors_of(root) == [pid]

    # the heartbeat moves on
    first_beat = report["heartbeat_at"]
    wait_for(lambda: status(cli)["supervisor"]["heartbeat_at"] != first_beat, what="a new heartbeat")
    wait_for(lambda: status(cli)["supervisor"]["duties"][0]["last_tick_at"], what="the duty's first pass")
    assert status(cli)["supervisor"]["duties"][0]["detail"]["open_jobs"] == 0

    stopped = cli("supervisor", "stop")
    assert "stopped" in stopped.stdout
    assert not pid_alive(pid)
    assert status(cli)["supervisor"]["state"] == "not_running"
    files = SupervisorFiles.of(root)
    assert not files.pid.exists() and not files.status.exists() and files.lock.exists()

    again = cli("supervisor", "stop")
    assert again.returncode == 0 and "not running" in again.stdout
    assert cli("supervisor", "status", "-o", "json").returncode == 0


def test_kill_9_leaves_a_stale_pid_file_that_start_replaces(cli: Any, root: Path) -> None:
    cli("supervisor", "start")
    old = status(cli)["supervisor"]["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: not pid_alive(old), what="the killed process to go")

    stale = cli("status", "-o", "json")
    assert stale.returncode == 0
    report = json.loads(stale.stdout)["supervisor"]
    assert report["state"] == "stale" and report["pid"] == old
    assert "stale" in cli("status").stdout
    assert cli("supervisor", "status").returncode == 0

    cli("supervisor", "start")
    report = status(cli)["supervisor"]
    assert report["state"] == "running" and report["pid"] != old
    assert supervisors_of(root) == [report["pid"]]
    log = SupervisorFiles.of(root).log.read_text()
    assert f"replacing the stale pid file of process {old}" in log
    cli("supervisor", "stop")


def test_stop_cleans_a_stale_pid_file(cli: Any, root: Path) -> None:
    cli("supervisor", "start")
    old = status(cli)["supervisor"]["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: not pid_alive(old), what="the killed process to go")
    result = cli("supervisor", "stop")
    assert "not running" in result.stdout and "stale" in result.stdout
    assert status(cli)["supervisor"]["state"] == "not_running"


def _run_module(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "python"), "-m", "batchpoint.supervisor", "--workspace", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigterm_stops_it_cleanly_within_seconds(root: Path) -> None:
    files = SupervisorFiles.of(root)
    proc = _run_module(root, "--heartbeat", "0.2")
    try:
        wait_for(lambda: files.probe().running and files.probe().pid == proc.pid, what="the supervisor to be ready")
        second = _run_module(root)
        output, _ = second.communicate(timeout=60)
        assert second.returncode == ALREADY_RUNNING, output
        assert "already running" in output

        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0, output
        assert time.monotonic() - sent < 5
        assert "stopped" in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert files.probe().state == "not_running"
    assert not files.pid.exists() and not files.status.exists()


def test_two_concurrent_starts_leave_one_running(cli: Any, root: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "BATCHPOINT_CONFIG": str(root.parent / ".config.json")}
    env.pop("BATCHPOINT_WORKSPACE", None)
    env.pop("BATCHPOINT_SERVER", None)
    starts = [
        subprocess.Popen(
            [str(BIN / "batchpoint"), "supervisor", "start"],
            cwd=root.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in starts]
    assert [p.returncode for p in starts] == [0, 0], outputs
    assert sum("started" in o for o in outputs) == 1, outputs
    assert sum("already running" in o for o in outputs) == 1, outputs
    report = status(cli)["supervisor"]
    assert report["state"] == "running"
    assert supervisors_of(root) == [report["pid"]]
    cli("supervisor", "stop")
    assert supervisors_of(root) == []
