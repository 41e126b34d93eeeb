"""Persistence: SQLAlchemy tables, sessions and Alembic migrations (SQLite and PostgreSQL)."""

from batchpoint.store.db import Database

__all__ = ["Database"]
