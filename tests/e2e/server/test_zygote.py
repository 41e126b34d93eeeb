"""Server jobs get drivers forked from the server's pre-imported zygote, and survive losing it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from .conftest import Server, ServerFactory, deploy, wait_for, write_inputs


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _zygote_pid(server: Server) -> int | None:
    for pid in _children(server.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"batchpoint.launcher.zygote" in cmdline:
            return pid
    return None


def _run_job(server: Server, folder: Path) -> str:
    client = server.client()
    job = client.batch_endpoints.invoke("zy-ep", input=str(folder))
    final = client.jobs.wait(job.name, timeout=120)
    assert final.status.value == "Completed", final.message
    return (server.workspace / "jobs" / job.name / "logs" / "driver.log").read_text()


def test_drivers_are_forked_from_the_zygote_and_a_lost_zygote_is_replaced(server_factory: ServerFactory) -> None:
    server = server_factory()
    client = server.client()
    client.batch_endpoints.create_from_file(None, name="zy-ep")
    deploy(client, server.project.parent / "zy", "zy-ep", "zy-dep")
    folder = server.project.parent / "zy-data"
    write_inputs(folder, 4)

    log = _run_job(server, folder)
    zygote = _zygote_pid(server)
    assert zygote is not None
    assert f"started (forked from the server's zygote, pid {zygote})" in log

    os.kill(zygote, signal.SIGKILL)
    wait_for(lambda: _zygote_pid(server) != zygote)  # reaped, or replaced already
    # The next job still runs: a fresh zygote is started (or, failing that, a fresh interpreter).
    log = _run_job(server, folder)
    assert "started (" in log
    replacement = wait_for(lambda: _zygote_pid(server))
    assert replacement != zygote and f"zygote, pid {replacement})" in log
