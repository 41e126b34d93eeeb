"""Fixtures that build real things: a workspace folder, a client on it, the real CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from batchpoint import Client
from batchpoint.executors import privileges
from batchpoint.executors.privileges import WorkerIdentity
from batchpoint.workspace import init_workspace

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep a developer's saved `batchpoint login` (and server variables) out of every test."""
    saved = {k: os.environ.pop(k, None) for k in ("BATCHPOINT_SERVER", "BATCHPOINT_TOKEN", "BATCHPOINT_WORKSPACE")}
    os.environ["BATCHPOINT_CONFIG"] = str(tmp_path_factory.mktemp("user-config") / "config.json")
    yield
    os.environ.pop("BATCHPOINT_CONFIG", None)
    os.environ.update({k: v for k, v in saved.items() if v is not None})


@pytest.fixture(autouse=True, scope="session")
def _workers_keep_root() -> Iterator[None]:
    """Most tests keep workers as the user running pytest, root on CI included.

    As root, workers would otherwise drop to an unprivileged user, who cannot enter pytest's
    ``tmp_path`` folders (0700 under /tmp/pytest-of-root) where these tests keep their workspaces and
    inputs. The drop is tested on its own, in folders that user can reach: tests/integration/jobs/
    test_worker_user.py and tests/e2e/server/test_worker_user_server.py.
    """
    saved = os.environ.get("BATCHPOINT_ENGINE_WORKER_USER")
    os.environ["BATCHPOINT_ENGINE_WORKER_USER"] = "root"
    yield
    if saved is None:
        os.environ.pop("BATCHPOINT_ENGINE_WORKER_USER", None)
    else:
        os.environ["BATCHPOINT_ENGINE_WORKER_USER"] = saved


@pytest.fixture(autouse=True)
def _mlflow_engines_closed() -> Iterator[None]:
    """MLflow keeps one SQLAlchemy engine per store URI for the life of the process; a test that used
    a tracking store in-process leaves its SQLite files open, and a later test's embedded invoke then
    (rightly) refuses to fork its driver. Close them after each test."""
    yield
    store_module = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    if store_module is None:
        return
    engines = store_module.SqlAlchemyStore._engine_map
    while engines:
        engines.popitem()[1].dispose()


@pytest.fixture
def worker_user() -> WorkerIdentity:
    """The default worker user (tests that run as root); skips when it cannot run this interpreter."""
    if not privileges.running_as_root():
        pytest.skip("workers drop to another user only when batchpoint runs as root")
    identity = privileges.worker_identity(None)
    assert identity is not None and identity.uid != 0
    blocked = privileges.python_problem(identity)
    if blocked:
        pytest.skip(f"the worker user {identity.label} cannot run {blocked[0].label}: {blocked[1]}")
    return identity


PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"


@contextmanager
def fresh_postgres_database(prefix: str = "bp_test") -> Iterator[str]:
    """A new, empty PostgreSQL database on 127.0.0.1:5432 (its SQLAlchemy URL), dropped afterwards.

    Skips the test when psycopg is missing or the server does not answer.
    """
    psycopg = pytest.importorskip("psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {exc}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh workspace; returns the project folder that holds ``.batchpoint``."""
    project = tmp_path / "project"
    project.mkdir()
    init_workspace(project)
    return project


@pytest.fixture
def client(workspace: Path) -> Iterator[Client]:
    c = Client(workspace)
    yield c
    c.close()


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Cli:
    """Runs the installed ``batchpoint`` console script in ``cwd`` against a real workspace."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 120
    ) -> CliResult:
        # A developer's own `batchpoint login` must never send these calls to a server.
        config = str(self.cwd / ".batchpoint-test-config.json")
        full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "BATCHPOINT_CONFIG": config, **(env or {})}
        for key in ("BATCHPOINT_WORKSPACE", "BATCHPOINT_SERVER", "BATCHPOINT_TOKEN"):
            full_env.pop(key, None)
        proc = subprocess.run(
            [str(BIN / "batchpoint"), *args],
            cwd=self.cwd,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
        result = CliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"batchpoint {' '.join(args)} exited {proc.returncode}\n{result.output}")
        return result


@pytest.fixture
def cli(workspace: Path) -> Cli:
    return Cli(workspace)


_LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its folder, so that ``-m unit`` (or ``-m "not e2e"``) picks a layer."""
    root = Path(__file__).parent
    for item in items:
        try:
            layer = item.path.relative_to(root).parts[0]
        except ValueError:
            continue
        if layer in _LAYERS:
            item.add_marker(getattr(pytest.mark, layer))
