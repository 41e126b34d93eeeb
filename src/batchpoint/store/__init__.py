"""Persistence: SQLAlchemy tables, sessions and Alembic migrations (SQLite and PostgreSQL).

``Database`` is loaded when first used, so that ``batchpoint.store.migrate.head_revision`` (standard
library) can be read by the CLI's light paths without importing SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchpoint.store.db import Database

__all__ = ["Database"]


def __getattr__(name: str) -> Any:
    if name == "Database":
        from batchpoint.store.db import Database

        return Database
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
