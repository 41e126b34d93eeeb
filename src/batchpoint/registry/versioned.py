"""Rules every versioned asset shares (models, environments, data assets, components).

Versions are strings; integer versions are compared as numbers, so "10" is after "9". The next
automatic version is the highest integer version plus one, counting archived versions too, so a
number is never handed out twice. "Latest" skips archived versions, as Azure ML does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from batchpoint.common import refs
from batchpoint.errors import BatchpointError, Conflict, NotFound
from batchpoint.store.tables import (
    BatchDeploymentRow,
    BatchEndpointRow,
    ComponentRow,
    DataRow,
    EnvironmentRow,
    ModelRow,
)

if TYPE_CHECKING:
    from batchpoint.services import Services

RowT = TypeVar("RowT", ModelRow, EnvironmentRow, DataRow, ComponentRow)
SchemaT = TypeVar("SchemaT", bound=BaseModel)
_INTEGER = re.compile(r"^[0-9]+$")


def version_key(version: str) -> tuple[int, int, str]:
    """Sort key: integer versions first, in numeric order, then the others alphabetically."""
    if _INTEGER.match(version):
        return (0, int(version), "")
    return (1, 0, version)


def latest_of(rows: Sequence[RowT]) -> RowT | None:
    """The highest integer version, or the newest one when no version is an integer."""
    numbered = [r for r in rows if _INTEGER.match(r.version)]
    if numbered:
        return max(numbered, key=lambda r: int(r.version))
    return max(rows, key=lambda r: (r.created_at, r.id), default=None)


class VersionedRows(Generic[RowT]):
    """Queries over one table of versioned assets; ``kind`` is the noun used in messages."""

    def __init__(self, row_type: type[RowT], kind: str, command: str) -> None:
        self.row_type: type[RowT] = row_type
        self.kind = kind
        self.command = command

    def all(self, s: Session, name: str | None = None, *, include_archived: bool = False) -> list[RowT]:
        query = select(self.row_type)
        if name is not None:
            query = query.where(self.row_type.name == name)
        if not include_archived:
            query = query.where(self.row_type.archived.is_(False))
        rows = list(s.scalars(query))
        return sorted(rows, key=lambda r: (r.name, version_key(r.version)))

    def find(self, s: Session, name: str, version: str) -> RowT | None:
        query = select(self.row_type).where(self.row_type.name == name, self.row_type.version == version)
        return s.scalars(query).first()

    def get(self, s: Session, name: str, version: str | None = None) -> RowT:
        """One version, or the latest non-archived one; ``NotFound`` says which and how to look."""
        if version is not None:
            row = self.find(s, name, version)
            if row is None:
                raise NotFound(f"{self.kind} '{name}' version '{version}' does not exist", hint=self._hint(name))
            return row
        row = latest_of(self.all(s, name))
        if row is None:
            if self.all(s, name, include_archived=True):
                raise NotFound(
                    f"every version of {self.kind} '{name}' is archived",
                    hint=f"restore one with 'batchpoint {self.command} restore -n {name}'",
                )
            raise NotFound(f"{self.kind} '{name}' does not exist", hint=self._hint(None))
        return row

    def next_version(self, s: Session, name: str) -> str:
        existing = self.all(s, name, include_archived=True)
        numbers = [int(r.version) for r in existing if _INTEGER.match(r.version)]
        return str(max(numbers, default=0) + 1)

    def targets(self, s: Session, name: str, version: str | None) -> list[RowT]:
        """The rows an archive/restore acts on: one version, or every version of the name."""
        if version is not None:
            return [self.get(s, name, version)]
        rows = self.all(s, name, include_archived=True)
        if not rows:
            raise NotFound(f"{self.kind} '{name}' does not exist", hint=self._hint(None))
        return rows

    def refuse_duplicate(self, s: Session, name: str, version: str) -> None:
        if self.find(s, name, version) is not None:
            raise Conflict(
                f"{self.kind} '{name}' version '{version}' already exists; versions are immutable",
                field="version",
                hint="leave the version out to get the next number, or pick another version",
            )

    def _hint(self, name: str | None) -> str:
        suffix = f" -n {name}" if name else ""
        return f"see 'batchpoint {self.command} list{suffix}'"


def deployments_using(s: Session, match: Callable[[BatchDeploymentRow], bool]) -> list[str]:
    """``endpoint/deployment`` names of the batch deployments for which ``match`` is true."""
    query = select(BatchDeploymentRow, BatchEndpointRow.name).join(
        BatchEndpointRow, BatchDeploymentRow.endpoint_id == BatchEndpointRow.id
    )
    return sorted(f"{endpoint}/{row.name}" for row, endpoint in s.execute(query) if match(row))


def refuse_in_use(what: str, users: list[str], action: str) -> None:
    """Conflict when a deployment still needs the asset: deleting it would break the next job."""
    if users:
        raise Conflict(
            f"cannot {action} {what}: it is used by endpoint/deployment {', '.join(users)}",
            hint="delete those deployments or point them at another version first",
        )


def with_file(exc: BatchpointError, file: str | None) -> BatchpointError:
    """Name the spec file on an error raised below it (when the error names no file yet)."""
    if file and not exc.file:
        exc.file = file
    return exc


class VersionedService(Generic[RowT, SchemaT]):
    """Reading, archiving and deleting, the same for every versioned asset.

    Subclasses add creation, say how a row becomes the SDK object, and which deployments use a version.
    """

    def __init__(self, ctx: Services, rows: VersionedRows[RowT]) -> None:
        self.ctx = ctx
        self.rows: VersionedRows[RowT] = rows

    def _to_schema(self, row: RowT) -> SchemaT:
        raise NotImplementedError

    def _users(self, s: Session, name: str, versions: list[str]) -> list[str]:
        """``endpoint/deployment`` names that use one of ``versions`` (none by default)."""
        return []

    def get(self, name: str, version: str | None = None) -> SchemaT:
        """One version, or the latest non-archived one (highest integer version, else the newest)."""
        with self.ctx.db.read() as s:
            return self._to_schema(self.rows.get(s, name, version))

    def _resolve(self, ref: str, field: str, file: str | None) -> SchemaT:
        return refs.lookup(self.get, ref, field, file)

    def archive(self, name: str, version: str | None = None) -> SchemaT:
        """Hide a version (``None``: every version) from listings and ``@latest``; refused while in use."""
        return self._set_archived(name, version, True)

    def restore(self, name: str, version: str | None = None) -> SchemaT:
        return self._set_archived(name, version, False)

    def _set_archived(self, name: str, version: str | None, archived: bool) -> SchemaT:
        with self.ctx.db.session() as s:
            rows = self.rows.targets(s, name, version)
            if archived:
                self._refuse_in_use(s, name, [r.version for r in rows], "archive")
            for row in rows:
                row.archived = archived
            return self._to_schema(max(rows, key=lambda r: version_key(r.version)))

    def delete(self, name: str, version: str) -> None:
        """Remove one version for good; refused while a deployment uses it."""
        with self.ctx.db.session() as s:
            row = self.rows.get(s, name, version)
            self._refuse_in_use(s, name, [version], "delete")
            s.delete(row)

    def _refuse_in_use(self, s: Session, name: str, versions: list[str], action: str) -> None:
        kind = self.rows.kind
        label = f"{kind} '{name}' version '{versions[0]}'" if len(versions) == 1 else f"{kind} '{name}'"
        refuse_in_use(label, self._users(s, name, versions), action)

    def list(self, name: str | None = None, *, include_archived: bool = False) -> list[SchemaT]:
        """Every version of ``name``; without a name, the latest version of each name, by name.

        As ``az ml model list`` (and ``data list``, ``environment list``): without ``--name`` the
        Azure SDK lists the assets' containers, one per name with its latest version; with a name,
        that name's versions. Archived versions count only with ``include_archived``, and then an
        archived version is the latest of its name only when every version of the name is archived.
        """
        with self.ctx.db.read() as s:
            rows = self.rows.all(s, name, include_archived=include_archived)
            if name is None:
                rows = latest_per_name(rows)
            return [self._to_schema(r) for r in rows]


def latest_per_name(rows: Sequence[RowT]) -> list[RowT]:
    """The latest row of each name (a non-archived one when the name has one), in the order of names."""
    by_name: dict[str, list[RowT]] = {}
    for row in rows:
        by_name.setdefault(row.name, []).append(row)
    latest = []
    for versions in by_name.values():
        active = [r for r in versions if not r.archived]
        newest = latest_of(active or versions)
        if newest is not None:
            latest.append(newest)
    return sorted(latest, key=lambda r: r.name)
