"""Where a workspace's MLflow tracking store is, and creating its schema (with MLflow's own store).

Embedded, the store is a SQLite file beside the metadata database (``<workspace>/tracking.db``):
MLflow's tables and its Alembic history never mix with batchpoint's. With a PostgreSQL metadata
database (the team server), it is the same database under the schema ``mlflow``. Artifacts go under
``<workspace>/mlruns/<experiment id>/<run id>/artifacts``.

MLflow takes about two seconds to import, so it is imported only to create the schema (in a child
process, once per machine and MLflow version for SQLite: new workspaces copy that empty store) and where its own code runs (the server's REST handlers, user code in
jobs). batchpoint's own hot paths (a run per job, its status, the batch engine's figures) write the
tables directly (``runs/records.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import create_engine, inspect, text

from batchpoint.errors import BatchpointError
from batchpoint.store.db import Database, normalise_url

if TYPE_CHECKING:
    from batchpoint.services import Services

SCHEMA = "mlflow"
"""The PostgreSQL schema of the tracking tables."""


def tracking_url(ctx: Services) -> str:
    """The SQLAlchemy URL of the workspace's tracking store (also a valid ``MLFLOW_TRACKING_URI``)."""
    if ctx.db.is_sqlite:
        return f"sqlite:///{ctx.layout.root / 'tracking.db'}"
    url = normalise_url(ctx.db.url)
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote('-csearch_path=' + SCHEMA)}"


def artifact_root(ctx: Services) -> Path:
    return ctx.layout.root / "mlruns"


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_tracking_db(ctx: Services) -> Database:
    """The tracking store, its schema created by MLflow the first time (seconds, once per workspace).

    Opens a new engine: the runs service (``ctx.runs``) keeps the one its workspace uses.
    """
    url = tracking_url(ctx)
    if not ctx.db.is_sqlite:
        with ctx.db.engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    else:
        _from_template(ctx)
    db = Database(url, auto_migrate=False)
    if not _has_schema(db):
        with _lock(ctx.layout.state / "tracking-schema.lock"):
            if not _has_schema(db):
                create_schema(url, artifact_root(ctx))
    return db


def _from_template(ctx: Services) -> None:
    """A new workspace's ``tracking.db`` copied from this machine's template of the same MLflow version.

    Creating the schema takes MLflow seconds (its import and its migrations); a copy of an empty
    store made once takes milliseconds. Only the Default experiment's artifact location differs.
    """
    target = ctx.layout.root / "tracking.db"
    if target.exists():
        return
    template = _template()
    if template is None:
        return  # no mlflow to make one: open_tracking_db reports that
    with _lock(ctx.layout.state / "tracking-schema.lock"):
        if target.exists():
            return
        staging = target.with_name(f".tracking-{os.getpid()}.db")
        shutil.copyfile(template, staging)
        location = f"{artifact_root(ctx).as_uri()}/0"
        engine = create_engine(f"sqlite:///{staging}")
        with engine.begin() as conn:
            conn.execute(text("UPDATE experiments SET artifact_location = :a WHERE experiment_id = 0"), {"a": location})
        engine.dispose()
        artifact_root(ctx).mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)


def _template() -> Path | None:
    """``~/.cache/batchpoint/tracking-<mlflow version>.db``, made on first use (None without mlflow)."""
    version = _mlflow_version()
    if version is None:
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "batchpoint"
    template = cache / f"tracking-{version}.db"
    if template.is_file():
        return template
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _lock(cache / "tracking-template.lock"):
        if not template.is_file():
            staging = cache / f".tracking-{os.getpid()}.db"
            staging.unlink(missing_ok=True)
            create_schema(f"sqlite:///{staging}", cache / "template-artifacts")
            os.replace(staging, template)
    return template


def _mlflow_version() -> str | None:
    from importlib import metadata

    for dist in ("mlflow", "mlflow-skinny"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def _has_schema(db: Database) -> bool:
    with db.engine.connect() as conn:
        return bool(inspect(conn).has_table("latest_metrics"))


_CREATE = """
import logging, os, sys
from pathlib import Path
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
try:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
except ImportError as exc:
    sys.stderr.write(f"{exc}\\n")
    sys.exit(3)
store = SqlAlchemyStore(os.environ["BATCHPOINT_TRACKING_URL"], Path(sys.argv[1]).as_uri())
store.engine.dispose()
"""


def create_schema(url: str, artifacts: Path) -> None:
    """MLflow's own store creates (and migrates) its tables and the Default experiment.

    In a child process: neither the CLI nor the server ever imports mlflow (its import-time side
    effects, its globals) for this; the URL travels in the environment, never on a command line.
    """
    artifacts.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BATCHPOINT_TRACKING_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", _CREATE, str(artifacts)], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode == 3:
        raise ImportError(done.stderr.strip() or "mlflow is not installed")
    if done.returncode != 0:
        tail = redact_url(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "", url)
        raise BatchpointError(f"creating the MLflow tracking store failed: {tail}")


def redact_url(text: str, url: str) -> str:
    """``text`` without the URL's password (MLflow's messages may quote the URL)."""
    from sqlalchemy.engine import make_url

    password = make_url(url).password
    return text.replace(str(password), "***") if password else text


def holds_secret(url: str) -> bool:
    """Whether the tracking URL carries a password (then it is never handed to job code)."""
    from sqlalchemy.engine import make_url

    return make_url(url).password is not None
