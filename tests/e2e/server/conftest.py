"""Fixtures that run the real server: ``batchpoint server --port <free>`` as a subprocess.

Every module gets its own server (shared by its tests), once per metadata backend: SQLite (the
workspace's file) and PostgreSQL (a fresh ``bp_<random>`` database on 127.0.0.1:5432, dropped at
the end; skipped with the reason when PostgreSQL cannot be reached).
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from batchpoint import Client
from batchpoint.common import yamlio
from batchpoint.workspace import init_workspace

BIN = Path(sys.executable).parent
PG_DSN = "host=127.0.0.1 port=5432 user={user} dbname={db} connect_timeout=3"
PG_USERS = ("postgres", "root")

SCORER = """
import os, time

SLEEP = float(os.environ.get("SCORER_SLEEP", "0"))

def init():
    global factor
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "factor.txt")) as fh:
        factor = int(fh.read())

def run(mini_batch):
    rows = []
    for path in mini_batch:
        if SLEEP:
            time.sleep(SLEEP)
        with open(path) as fh:
            for line in fh.read().splitlines()[1:]:
                key, x = line.split(",")
                secret = int(any(k in os.environ for k in ("BATCHPOINT_BOOTSTRAP_TOKEN", "BATCHPOINT_TOKEN")))
                rows.append((key, int(x) * factor + 1, os.getpid(), secret))
    return rows
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- PostgreSQL ----------------------------------------------------------------------------------------
def _pg_user() -> str | None:
    import psycopg

    for user in PG_USERS:
        try:
            with psycopg.connect(PG_DSN.format(user=user, db="postgres")):
                return user
        except psycopg.Error:
            continue
    return None


@pytest.fixture(scope="session")
def pg_user() -> str:
    user = _pg_user()
    if user is None:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (users postgres/root, trust auth)")
    return user


class PgDatabases:
    """Fresh databases, dropped at the end of the session."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.created: list[str] = []

    def create(self) -> str:
        import psycopg

        name = f"bp_{secrets.token_hex(6)}"
        with psycopg.connect(PG_DSN.format(user=self.user, db="postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return f"postgresql+psycopg://{self.user}@127.0.0.1:5432/{name}"

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(PG_DSN.format(user=self.user, db="postgres"), autocommit=True) as conn:
            for name in self.created:
                with contextlib.suppress(psycopg.Error):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases(request: pytest.FixtureRequest) -> Iterator[PgDatabases | None]:
    user = _pg_user()
    dbs = PgDatabases(user) if user else None
    yield dbs
    if dbs is not None:
        dbs.drop_all()


# -- the server process --------------------------------------------------------------------------------
def kill_tree_of(root: Path) -> None:
    """Kill every process whose command line names ``root`` (job drivers and workers of that workspace)."""
    marker = str(root).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmd:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


class Server:
    """One ``batchpoint server`` subprocess on a free loopback port."""

    def __init__(self, project: Path, env: dict[str, str], *, args: tuple[str, ...] = ()) -> None:
        self.project = project
        self.workspace = project / ".batchpoint"
        self.env = env
        self.args = args
        self.token = env["BATCHPOINT_BOOTSTRAP_TOKEN"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = project / f"server-{self.port}.log"

    def start(self, timeout: float = 60) -> Server:
        """Start (or restart, on the same port) and wait until ``/health`` answers."""
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "batchpoint"), "server", "--port", str(self.port), *self.args],
                cwd=self.project,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise AssertionError(f"server not ready in {timeout} s:\n{self.log.read_text()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        """Crash the server (SIGKILL, no shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def http(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def client(self, token: str | None = None) -> Client:
        return Client(server=self.url, token=token or self.token)


ServerFactory = Callable[..., Server]


def _environment(project: Path, database_url: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPOINT_")}
    env.update(
        {
            "BATCHPOINT_BOOTSTRAP_TOKEN": "bp-test-" + secrets.token_urlsafe(32),
            "BATCHPOINT_CONFIG": str(project / "user-config.json"),
            "BATCHPOINT_ENGINE_HEARTBEAT_SECONDS": "0.2",
            "BATCHPOINT_ENGINE_LEASE_SECONDS": "3",
            "BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS": "3",
            "BATCHPOINT_SERVER_QUEUE_POLL_SECONDS": "0.2",
            # The attack corpus and the authorization matrix send thousands of bad tokens from one
            # address; the limit itself is tested with a low value in test_guards.py.
            "BATCHPOINT_SERVER_AUTH_FAILURE_LIMIT": "1000000",
            "BATCHPOINT_ENGINE_WORKER_USER": "root",  # tmp_path is 0700: see _workers_keep_root in tests/conftest.py
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
    )
    if database_url:
        env["BATCHPOINT_DATABASE_URL"] = database_url
    env.update(extra)
    return env


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, pg_databases: PgDatabases | None) -> str:
    if request.param == "postgres" and pg_databases is None:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (users postgres/root, trust auth)")
    return str(request.param)


@pytest.fixture(scope="module")
def server_factory(
    backend: str, pg_databases: PgDatabases | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    """Makes servers on fresh workspaces (and fresh PostgreSQL databases); all stopped at the end."""
    made: list[Server] = []

    def make(extra_env: dict[str, str] | None = None, *, args: tuple[str, ...] = (), start: bool = True) -> Server:
        root = tmp_path_factory.mktemp(f"server-{backend}")
        project = root / "project"
        project.mkdir()
        init_workspace(project)
        database_url = pg_databases.create() if backend == "postgres" and pg_databases else None
        server = Server(project, _environment(project, database_url, extra_env or {}), args=args)
        made.append(server)
        return server.start() if start else server

    yield make
    for server in made:
        server.stop()
        kill_tree_of(server.workspace)


# -- deploying a scorer through the server -------------------------------------------------------------
def write_inputs(folder: Path, n_files: int, rows: int = 2) -> dict[str, int]:
    """CSV files ``key,x``; returns the expected ``{key: x * 3 + 1}``."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for i in range(n_files):
        lines = ["key,x"]
        for r in range(rows):
            key, x = f"f{i:04d}-r{r}", i * 10 + r
            lines.append(f"{key},{x}")
            expected[key] = x * 3 + 1
        (folder / f"f{i:04d}.csv").write_text("\n".join(lines) + "\n")
    return expected


def deploy(client: Client, folder: Path, endpoint: str, name: str, **settings: Any) -> Path:
    """Write a model, the scorer and a deployment.yml under ``folder`` and create it (as the default)."""
    (folder / "model").mkdir(parents=True, exist_ok=True)
    (folder / "model" / "factor.txt").write_text("3")
    (folder / "code").mkdir(exist_ok=True)
    (folder / "code" / "score.py").write_text(SCORER)
    spec = {
        "name": name,
        "endpoint_name": endpoint,
        "type": "model",
        "model": {"name": f"m-{endpoint}-{name}", "path": "model"},
        "code_configuration": {"code": "code", "scoring_script": "score.py"},
        "settings": {"mini_batch_size": 2, **settings},
    }
    path = folder / "deployment.yml"
    path.write_text(yamlio.dumps(spec))
    client.batch_deployments.create_from_file(path, set_default=True)
    return path


def read_predictions(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines() if line]


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def upload_csv_folder(http: httpx.Client, name: str, files: int = 2) -> str:
    """Upload a folder of ``files`` small CSV files (``key,x``) as a tar.gz with ``http``'s token; returns its URI."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(files):
            data = f"key,x\n{name}-{i},{i}\n".encode()
            info = tarfile.TarInfo(f"f{i}.csv")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    answer = http.post(
        "/api/v1/uploads", params={"name": name}, content=buf.getvalue(), headers={"Content-Type": "application/gzip"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["uri"])
