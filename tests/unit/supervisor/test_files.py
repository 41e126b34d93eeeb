"""What the supervisor's files say (``probe``), found without the database layer, and how ``status`` shows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batchpoint.cli import status as status_cli
from batchpoint.errors import WorkspaceNotFound
from batchpoint.supervisor import files as files_mod
from batchpoint.supervisor.files import SupervisorFiles, find_root
from batchpoint.workspace import WorkspaceLayout, find_workspace, init_workspace, layout


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return init_workspace(tmp_path / "project")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write(files: SupervisorFiles, pid: int, *, beat_age: float = 0.0, state: str = "running") -> None:
    files.dir.mkdir(parents=True, exist_ok=True)
    files.pid.write_text(f"{pid}\n")
    now = datetime.now(UTC)
    status = {
        "pid": pid,
        "workspace": "w",
        "mode": "embedded",
        "version": "0",
        "state": state,
        "started_at": (now - timedelta(seconds=90)).isoformat(),
        "heartbeat_at": (now - timedelta(seconds=beat_age)).isoformat(),
        "heartbeat_seconds": 2.0,
        "duties": [{"name": "job-watch", "state": "running", "last_tick_at": None, "detail": {"open_jobs": 1}}],
    }
    files.status.write_text(json.dumps(status))


def test_paths_agree_with_the_workspace_layout(root: Path) -> None:
    assert SupervisorFiles.of(root).dir == WorkspaceLayout(root).supervisor
    assert root.name == files_mod.DIRNAME == layout.DIRNAME


def test_find_root_finds_what_find_workspace_finds(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHPOINT_WORKSPACE", raising=False)
    inner = root.parent / "a" / "b"
    inner.mkdir(parents=True)
    assert find_root(start=inner) == find_workspace(start=inner) == root
    assert find_root(root.parent) == find_workspace(root.parent) == root
    assert find_root(root) == root
    monkeypatch.setenv("BATCHPOINT_WORKSPACE", str(root.parent))
    assert find_root() == root
    with pytest.raises(WorkspaceNotFound):
        find_root(tmp_path / "nowhere")
    monkeypatch.delenv("BATCHPOINT_WORKSPACE")
    with pytest.raises(WorkspaceNotFound):
        find_root(start=tmp_path)


def test_probe_states(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = SupervisorFiles.of(root)
    assert files.probe().state == "not_running"

    dead = _dead_pid()
    _write(files, dead)
    stale = files.probe()
    assert stale.state == "stale" and stale.pid == dead and stale.status is None

    files.pid.write_text("garbage")
    assert files.probe().state == "stale"

    # This test's own process stands in for a live supervisor.
    monkeypatch.setattr(files_mod, "is_supervisor", lambda pid: True)
    me = os.getpid()
    files.dir.mkdir(parents=True, exist_ok=True)
    files.status.unlink(missing_ok=True)
    files.pid.write_text(str(me))
    assert files.probe().state == "starting"

    _write(files, me, beat_age=0.5)
    running = files.probe()
    assert running.running and running.pid == me
    assert running.heartbeat_age is not None and running.heartbeat_age < 5
    assert running.uptime is not None and running.uptime >= 89
    shown = running.to_dict()
    assert shown["state"] == "running" and shown["mode"] == "embedded" and shown["duties"][0]["name"] == "job-watch"

    _write(files, me, beat_age=60)
    assert files.probe().state == "unresponsive"


def test_a_pid_of_another_program_is_stale(root: Path) -> None:
    files = SupervisorFiles.of(root)
    _write(files, os.getpid())  # pytest is alive, but it is not a supervisor
    assert files.probe().state == "stale"


def test_write_atomic_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    files_mod.write_atomic(target, "one")
    files_mod.write_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_status_table_shows_pid_uptime_heartbeat_and_duties(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files_mod, "is_supervisor", lambda pid: True)
    files = SupervisorFiles.of(root)
    _write(files, os.getpid(), beat_age=1.0)
    text = status_cli.render(status_cli.workspace_report(root))
    assert f"Target:      workspace {root}" in text
    assert f"running (pid {os.getpid()}, up 1m 30s, heartbeat 1." in text
    assert "job-watch" in text and "open_jobs=1" in text
    files.pid.unlink()
    text = status_cli.render(status_cli.workspace_report(root))
    assert "not running" in text and "batchpoint supervisor start" in text


def test_status_of_a_server_that_is_unreachable() -> None:
    report = status_cli.server_health("http://127.0.0.1:9", None, timeout=2)
    assert report["state"] == "unreachable"
    data = {"target": {"kind": "server", "location": "http://127.0.0.1:9"}, "server": report, "supervisor": None}
    assert "Server:      unreachable" in status_cli.render(data)
