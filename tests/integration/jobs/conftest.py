"""Fixtures for job-engine tests: a workspace with a deployment whose scoring script misbehaves on demand.

Input files are CSV ``key,x`` rows. The scorer returns one ``(key, x * 3 + 1)`` row per input row,
so the expected output is computable. A file whose first line is a directive changes what happens:

    POISON          raise every time
    TRANSIENT       raise on the first attempt only
    HANG            sleep forever on the first attempt only
    EXIT            os._exit(1) on the first attempt only
    STOP            write the worker pid to $STATE/stop.pid and sleep 2 s on the first attempt only
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import fresh_postgres_database

from batchpoint import Client
from batchpoint.common import yamlio
from batchpoint.jobs.schemas import Job
from batchpoint.workspace import init_workspace

SCORER = """
import os, time

STATE = os.environ["STATE_DIR"]
SLEEP = float(os.environ.get("SCORER_SLEEP", "0"))

def init():
    if os.environ.get("FAIL_INIT"):
        raise RuntimeError("cannot load the model: " + os.environ["FAIL_INIT"])
    global factor
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "factor.txt")) as fh:
        factor = int(fh.read())

def _first_attempt(path, tag):
    marker = os.path.join(STATE, os.path.basename(path) + "." + tag)
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.close(fd)
        return True
    except FileExistsError:
        return False

def run(mini_batch):
    rows = []
    for path in mini_batch:
        with open(path) as fh:
            lines = fh.read().splitlines()
        head = lines[0] if lines else ""
        with open(os.path.join(STATE, "attempts.log"), "a") as log:
            log.write(os.path.basename(path) + "\\n")
        if head == "POISON":
            raise ValueError("poisoned input " + os.path.basename(path))
        if head == "TRANSIENT" and _first_attempt(path, "t"):
            raise RuntimeError("transient failure")
        if head == "HANG" and _first_attempt(path, "h"):
            time.sleep(3600)
        if head == "EXIT" and _first_attempt(path, "e"):
            os._exit(1)
        if head == "STOP" and _first_attempt(path, "s"):
            with open(os.path.join(STATE, "stop.pid"), "w") as fh:
                fh.write(str(os.getpid()))
            time.sleep(2)
        if SLEEP:
            time.sleep(SLEEP)
        for line in lines[1:]:
            key, x = line.split(",")
            rows.append((key, int(x) * factor + 1))
    return rows
"""


def write_inputs(folder: Path, n_files: int, rows: int = 3, directives: dict[int, str] | None = None) -> dict[str, int]:
    """Write ``n_files`` CSV files; returns the expected output ``{key: value}``."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, int] = {}
    for i in range(n_files):
        lines = []
        directive = (directives or {}).get(i)
        lines.append(directive or "key,x")
        for r in range(rows):
            key, x = f"f{i:05d}-r{r}", i * 10 + r
            lines.append(f"{key},{x}")
            if directive != "POISON":
                expected[key] = x * 3 + 1
        (folder / f"f{i:05d}.csv").write_text("\n".join(lines) + "\n")
    return expected


def read_output(path: Path) -> list[tuple[str, int]]:
    with open(path, newline="") as fh:
        return [(row[0], int(row[1])) for row in csv.reader(fh)]


def attempts_csv(job_dir: Path) -> list[dict[str, str]]:
    """The attempts log's complete rows; a line the driver is still writing is left out (tests poll it)."""
    try:
        text = (job_dir / "logs" / "processed_mini-batches.csv").read_text()
    except FileNotFoundError:
        return []
    complete = text[: text.rfind("\n") + 1]
    rows = list(csv.DictReader(io.StringIO(complete, newline="")))
    return [r for r in rows if None not in r and all(v is not None for v in r.values())]


def worker_pids(job_name: str) -> list[int]:
    """Live worker processes of one job, found by their command line."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if "batchpoint.runtime.worker" in cmd and job_name in cmd and state != "Z":
            pids.append(int(entry.name))
    return pids


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class Env:
    """A workspace with an endpoint ``jobs-ep`` and a deployment built from ``SCORER``."""

    def __init__(self, root: Path, client: Client) -> None:
        self.root = root
        self.client = client
        self.state = root / "state"
        self.state.mkdir()
        self.deployments = 0

    def deploy(self, **settings: Any) -> str:
        """Create (and make default) a deployment with these settings; returns its name."""
        self.deployments += 1
        name = f"dep{self.deployments}"
        folder = self.root / name
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "factor.txt").write_text("3")
        (folder / "code").mkdir()
        (folder / "code" / "score.py").write_text(SCORER)
        env_vars = {"STATE_DIR": str(self.state), **settings.pop("environment_variables", {})}
        spec = {
            "name": name,
            "endpoint_name": "jobs-ep",
            "type": "model",
            "model": {"name": f"m-{name}", "path": "model"},
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "settings": {"environment_variables": env_vars, **settings},
        }
        (folder / "deployment.yml").write_text(yamlio.dumps(spec))
        self.client.batch_deployments.create_from_file(folder / "deployment.yml", set_default=True)
        return name

    def job_dir(self, job: Job | str) -> Path:
        name = job if isinstance(job, str) else job.name
        return self.client.workspace_path / "jobs" / name

    def wait(self, job: Job | str, timeout: float = 120) -> Job:
        name = job if isinstance(job, str) else job.name
        final = self.client.jobs.wait(name, timeout=timeout)
        assert final.status.terminal or final.driver.lost, f"job did not end in {timeout} s: {final.message}"
        return final


@pytest.fixture
def engine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short engine timings so that faults are detected in test time (inherited by the drivers)."""
    monkeypatch.setenv("BATCHPOINT_ENGINE_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("BATCHPOINT_ENGINE_LEASE_SECONDS", "1.5")
    # Long enough for a freshly resumed driver to write its first heartbeat on a loaded machine.
    monkeypatch.setenv("BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS", "4")


@pytest.fixture
def postgres_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, used as the workspace's metadata store."""
    with fresh_postgres_database() as url:
        monkeypatch.setenv("BATCHPOINT_DATABASE_URL", url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_jobs(request: pytest.FixtureRequest, tmp_path: Path, engine_env: None) -> Iterator[Env]:
    """The ``jobs`` environment on SQLite and on PostgreSQL."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")
    yield from _jobs_env(tmp_path)


@pytest.fixture
def jobs(tmp_path: Path, engine_env: None) -> Iterator[Env]:
    yield from _jobs_env(tmp_path)


def _jobs_env(tmp_path: Path) -> Iterator[Env]:
    init_workspace(tmp_path)
    client = Client(tmp_path)
    client.batch_endpoints.create_from_file(None, name="jobs-ep")
    env = Env(tmp_path, client)
    yield env
    for job in client.jobs.list():
        if not job.status.terminal:
            for pid in worker_pids(job.name) + ([job.driver.pid] if job.driver.pid else []):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    client.close()
