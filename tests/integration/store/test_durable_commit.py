"""Durable sessions: the commits that must survive a power loss are synchronous; the others are not."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from tests.conftest import fresh_postgres_database

from batchpoint.store import Database
from batchpoint.store.db import sqlite_url

FULL, NORMAL = 2, 1


def test_a_durable_sqlite_session_commits_with_synchronous_full_and_gives_back_normal(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "metadata.db"))
    try:
        with db.session(durable=True) as s:
            assert s.execute(text("PRAGMA synchronous")).scalar_one() == FULL
        with db.session() as s:  # the same pooled connection, set back at checkin
            assert s.execute(text("PRAGMA synchronous")).scalar_one() == NORMAL
        with db.read() as s:
            assert s.execute(text("PRAGMA synchronous")).scalar_one() == NORMAL
    finally:
        db.dispose()


def test_a_durable_postgres_session_waits_for_the_wal_even_where_the_server_does_not() -> None:
    with fresh_postgres_database("bp_durable") as url:
        db = Database(url + "?options=-csynchronous_commit%3Doff")  # a server tuned for speed
        try:
            with db.session() as s:
                assert s.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
            with db.session(durable=True) as s:
                assert s.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
            with db.session() as s:
                assert s.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
        finally:
            db.dispose()
