"""Where a workspace's MLflow tracking store is, and creating its schema (with MLflow's own store).

Embedded, the store is a SQLite file beside the metadata database (``<workspace>/tracking.db``):
MLflow's tables and its Alembic history never mix with batchpoint's. With a PostgreSQL metadata
database (the team server), it is the same database under the schema ``mlflow``. Artifacts go under
``<workspace>/mlruns/<experiment id>/<run id>/artifacts``.

MLflow takes about two seconds to import, so it is imported only to create the schema (once per
workspace, under a file lock) and where its own code runs (the server's REST handlers, user code in
jobs). batchpoint's own hot paths (a run per job, its status, the batch engine's figures) write the
tables directly (``runs/records.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import inspect, text

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
    db = Database(url, auto_migrate=False)
    if not _has_schema(db):
        with _lock(ctx.layout.state / "tracking-schema.lock"):
            if not _has_schema(db):
                create_schema(url, artifact_root(ctx))
    return db


def _has_schema(db: Database) -> bool:
    with db.engine.connect() as conn:
        return bool(inspect(conn).has_table("latest_metrics"))


def create_schema(url: str, artifacts: Path) -> None:
    """MLflow's own store creates (and migrates) its tables and the Default experiment."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    artifacts.mkdir(parents=True, exist_ok=True)
    store = SqlAlchemyStore(url, artifacts.as_uri())
    store.engine.dispose()
