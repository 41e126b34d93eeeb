"""``job show``'s light read path (``jobs/quickview.py``) answers exactly as the full path does.

The same workspace is shown twice by the real console script: as it is (the light path: the job row
read with ``sqlite3``) and with ``BATCHPOINT_DATABASE_URL`` naming the same SQLite file, which the light
path leaves to the full one (services, SQLAlchemy). ``PYTHONPROFILEIMPORTTIME`` tells which path ran.
A completed, a failed and a running job, in every output format; the fields that depend on the time of
the call (the heartbeat's age; a running job's duration, rate and ETA) are compared with a tolerance.
In process, with one fixed ``now``, the two rows must give equal ``Job`` objects.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Cli
from tests.e2e.cli.test_job_cli import _setup
from tests.integration.jobs.conftest import wait_for, write_inputs

from batchpoint import Client
from batchpoint.common import yamlio
from batchpoint.jobs import quickview
from batchpoint.jobs.views import to_job
from batchpoint.runs.quickread import run_data

FORMATS = [(), ("-o", "json"), ("-o", "yaml"), ("-o", "tsv"), ("-o", "table"), ("--query", "status", "-o", "tsv")]
# A running job's duration is in the text forms too: its table is shown without it.
RUNNING_FORMATS = [*FORMATS[:4], ("--query", "{name: name, status: status, message: message}", "-o", "table")]
TIME_DEPENDENT = {("driver", "heartbeat_age_seconds"), ("duration_seconds",), ("progress", "rate_items_per_second"),
                  ("progress", "eta_seconds")}  # fmt: skip
TOLERANCE_S = 10.0


def _full_env(project: Path) -> dict[str, str]:
    return {"BATCHPOINT_DATABASE_URL": f"sqlite:///{project / '.batchpoint' / 'metadata.db'}"}


def _show(cli: Cli, job: str, *args: str, fast: bool) -> str:
    env = {"PYTHONPROFILEIMPORTTIME": "1", **({} if fast else _full_env(cli.cwd))}
    result = cli("job", "show", "-n", job, *args, env=env)
    imported_orm = any(line.split("|")[-1].strip() == "sqlalchemy" for line in result.stderr.splitlines())
    assert imported_orm is not fast, f"the {'light' if fast else 'full'} path did not answer"
    return result.stdout


def _pop(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data.pop(path[-1])


def _assert_same(fast: dict[str, Any], full: dict[str, Any]) -> None:
    for path in TIME_DEPENDENT:
        a, b = _pop(fast, path), _pop(full, path)
        assert (a is None) == (b is None), path
        if a is not None:
            assert abs(a - b) <= max(TOLERANCE_S, 0.5 * abs(b)), (path, a, b)
    assert fast == full


def _compare(cli: Cli, job: str, *, running: bool = False) -> dict[str, Any]:
    """Every format, light and full; returns the light path's JSON view."""
    for args in RUNNING_FORMATS if running else FORMATS:
        fast, full = _show(cli, job, *args, fast=True), _show(cli, job, *args, fast=False)
        if args in ((), ("-o", "json")):
            _assert_same(json.loads(fast), json.loads(full))
        elif args == ("-o", "yaml"):
            _assert_same(yamlio.loads(fast), yamlio.loads(full))
        elif running and args == ("-o", "tsv"):
            assert _without_numbers(fast) == _without_numbers(full)
        else:
            assert fast == full, args
    view: dict[str, Any] = json.loads(_show(cli, job, fast=True))
    return view


def _without_numbers(tsv: str) -> list[str]:
    """The TSV fields but the duration (the only number among a job's top-level fields)."""
    return [f for f in tsv.rstrip("\n").split("\t") if not f.replace(".", "", 1).isdigit()]


@pytest.fixture
def project(workspace: Path, cli: Cli, engine_env: None) -> Iterator[Path]:
    _setup(workspace, cli)
    yield workspace


def _invoke(cli: Cli, folder: str) -> str:
    return cli(
        "batch-endpoint", "invoke", "-n", "cli-ep", "--input", folder, "--query", "name", "-o", "tsv"
    ).stdout.strip()


def test_completed_and_failed_jobs_show_the_same(project: Path, cli: Cli) -> None:
    write_inputs(project / "ok", 4)
    write_inputs(project / "bad", 2, directives={0: "POISON", 1: "POISON"})
    ok, bad = _invoke(cli, "ok"), _invoke(cli, "bad")
    assert cli("job", "stream", "-n", ok).returncode == 0
    assert cli("job", "stream", "-n", bad, check=False).returncode == 1

    shown = _compare(cli, ok)
    assert shown["status"] == "Completed" and shown["progress"]["items"]["succeeded"] == 4
    shown = _compare(cli, bad)
    assert shown["status"] == "Failed" and "poisoned input" in shown["message"]
    assert shown["error"]["exception"] == "ValueError"

    # Not there: the full path answers, with its message.
    missing = cli("job", "show", "-n", "no-such-job", check=False)
    assert missing.returncode == 2 and "job 'no-such-job' does not exist" in missing.stderr

    with Client(project) as client:  # in process, at one instant: equal objects
        now = time.time()
        reader = quickview.JobReader(project / ".batchpoint" / "metadata.db")
        try:
            for name in (ok, bad):
                logs = str(client.services.layout.job_dir(name) / "logs")
                row = reader.row(name)
                assert row is not None
                history = reader.history(row["id"])
                light = to_job(row, quickview.Engine(), logs, now=now, history=history)
                with client.services.db.read() as s:
                    full = to_job(client.services.jobs._row(s, name), client.settings.engine, logs, now=now)
                    assert light.model_copy(update={"history": []}) == full
                assert [e.action for e in light.history][:2] == ["create", "prepare"]
                # The light path adds the run's latest metrics and params from the tracking store (runs/quickread.py).
                light.metrics, light.params = run_data(project / ".batchpoint" / "tracking.db", str(light.run_id)) or (
                    {},
                    {},
                )
                assert light.metrics and light.params  # a batch job's figures and settings
                timeless = {"driver": {"heartbeat_age_seconds"}}
                assert light.model_dump(exclude=timeless) == client.jobs.get(name).model_dump(exclude=timeless)
        finally:
            reader.close()


def test_running_job_shows_the_same(project: Path, cli: Cli) -> None:
    # The second mini-batch (files 2 and 3) hangs until its 30 s timeout: Running, with progress.
    write_inputs(project / "slow", 4, directives={2: "HANG"})
    job = _invoke(cli, "slow")
    try:

        def running() -> bool:
            view = json.loads(_show(cli, job, fast=True))
            return view["status"] == "Running" and view["progress"]["items"]["succeeded"] > 0

        wait_for(running, timeout=60, interval=0.2)
        shown = _compare(cli, job, running=True)
        assert shown["status"] == "Running" and shown["driver"]["alive"] and shown["progress"]["eta_seconds"]
        # A driver that stops writing its heartbeat is lost, by the same rule on both paths.
        env = {"BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS": "0.001"}
        for extra in ({}, _full_env(project)):
            lost = json.loads(cli("job", "show", "-n", job, env={**env, **extra}).stdout)
            assert lost["driver"]["lost"] and lost["message"].startswith("driver lost while Running (no heartbeat for")
    finally:
        cli("job", "cancel", "-n", job, check=False)
