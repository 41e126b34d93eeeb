"""Engine and session factory for the metadata database (SQLite in WAL mode, or PostgreSQL).

SQLite write transactions start with ``BEGIN IMMEDIATE`` so that two writers (a job driver and a
``job cancel``) queue on the busy timeout instead of failing with "database is locked" when a
deferred transaction tries to upgrade its lock.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from batchpoint.store import migrate

_WRITE = "batchpoint_write"
_DURABLE = "batchpoint_durable"


def normalise_url(url: str) -> str:
    """Accept the short forms users type and pick the psycopg 3 driver for PostgreSQL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # NOTE: autocommit at the driver level; we issue BEGIN ourselves below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(_DURABLE):
            # WAL with synchronous=NORMAL may lose the last commits on power loss; this one must not be
            # lost (a final state, a cancel, a publication), so its commit syncs the WAL. Set back at checkin.
            conn.exec_driver_sql("PRAGMA synchronous=FULL")
            conn.info[_DURABLE] = True
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE, False) else "BEGIN")

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        if record.info.pop(_DURABLE, False):
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")


def _install_postgres_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(_DURABLE):
            # The server may run with synchronous_commit=off; these commits wait for the WAL flush anyway.
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO on")


class Database:
    """A metadata database: migrated on open, handing out short-lived sessions."""

    # Every open Database of this process, so that a fork can first close their connections: a
    # SQLite connection must never be carried across fork(), even one the child does not use, because
    # the child's copy of SQLite's lock bookkeeping would then disagree with the real locks.
    _open: ClassVar[weakref.WeakSet[Database]] = weakref.WeakSet()

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 60}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine)
        else:
            _install_postgres_hooks(self.engine)
        self.info: dict[str, Any] = {}
        """What every session of this database finds in its ``Session.info`` (the hooks a composition root
        installs: ``runs/hooks.py``); entries added later reach the sessions opened after."""
        self._reader = sessionmaker(bind=self.engine, expire_on_commit=False, info=self.info)
        self._writer = sessionmaker(
            bind=self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False, info=self.info
        )
        self._durable_writer = sessionmaker(
            bind=self.engine.execution_options(**{_WRITE: True, _DURABLE: True}),
            expire_on_commit=False,
            info=self.info,
        )
        if auto_migrate:
            migrate.ensure_current(self.engine)
        Database._open.add(self)

    @classmethod
    def release_all_for_fork(cls) -> bool:
        """Close the pooled connections of every Database of this process before a fork.

        Returns False, closing nothing, when one of them has a connection in use (a session is
        open): the process must not fork then. The pools reconnect on their next use.
        """
        databases = list(cls._open)
        if any(getattr(db.engine.pool, "checkedout", lambda: 0)() for db in databases):
            return False
        for db in databases:
            db.engine.dispose()
        return True

    @contextmanager
    def session(self, *, durable: bool = False) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on any exception.

        ``durable``: the commit is on disk before this returns, even after a power loss (SQLite's
        ``synchronous=FULL``, PostgreSQL's ``synchronous_commit=on``), for the few writes that must
        never be lost: the job state machine's final states, cancels and publications.
        """
        maker = self._durable_writer if durable else self._writer
        with maker() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction (never blocks writers under WAL)."""
        with self._reader() as session, session.begin():
            yield session

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def dispose(self) -> None:
        self.engine.dispose()
