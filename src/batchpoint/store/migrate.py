"""Alembic migrations, run on open.

Opening a workspace happens on every CLI call, so the common case (schema already at head) is a
single ``SELECT`` on ``alembic_version``; Alembic itself is only imported when an upgrade is due.
Importing this module imports neither SQLAlchemy nor Alembic (``head_revision`` is read by the
CLI's light ``job show``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def head_revision() -> str:
    """The newest revision id, read from the file names (``NNNN_*.py`` with ``revision = "NNNN"``)."""
    versions = sorted(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
    return versions[-1]


def current_revision(engine: Engine) -> str | None:
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])


def ensure_current(engine: Engine) -> None:
    if current_revision(engine) == head_revision():
        return
    upgrade(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
