"""The migrations build exactly the schema ``store/tables.py`` declares, on SQLite and on PostgreSQL.

A column added to a table without a migration (or a migration that differs from the table) fails
here, before a user's existing workspace meets it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from tests.conftest import fresh_postgres_database

from batchpoint.store import migrate
from batchpoint.store.db import sqlite_url
from batchpoint.store.tables import Base


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            return [d for d in compare_metadata(context, Base.metadata) if not _benign(d)]
    finally:
        engine.dispose()


def _benign(diff: object) -> bool:
    # alembic's own version table is not ours to declare.
    return isinstance(diff, tuple) and diff[0] == "remove_table" and diff[1].name == "alembic_version"


def test_sqlite_schema_matches_the_tables(tmp_path: Path) -> None:
    assert _differences(sqlite_url(tmp_path / "meta.db")) == []


@pytest.fixture
def postgres_database() -> Iterator[str]:
    with fresh_postgres_database("bp_migr") as url:
        yield url


@pytest.mark.postgres
def test_postgres_schema_matches_the_tables(postgres_database: str) -> None:
    assert _differences(postgres_database) == []


def test_head_is_the_newest_migration(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path / "meta.db"))
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == migrate.head_revision()
    engine.dispose()
