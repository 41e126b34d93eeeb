"""Datastores: named storage roots, and ``azureml://datastores/<name>/paths/<path>`` URIs over them.

The default datastore ``workspaceblobstore`` is the workspace's own folder; it is built in rather
than stored, so it exists in every workspace without a write. Other datastores are local folders
registered by name. A URI never resolves outside its datastore's root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from batchpoint.common import names
from batchpoint.common.paths import resolve_relative, within
from batchpoint.errors import Conflict, InvalidInput, NotFound
from batchpoint.registry.schemas import Datastore
from batchpoint.store.tables import DatastoreRow
from batchpoint.workspace.layout import DEFAULT_DATASTORE

if TYPE_CHECKING:
    from batchpoint.services import Services

_URI = re.compile(
    r"^azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/(?:providers/[^/]+/[^/]+/)?workspaces/[^/]+/)?"
    r"datastores/(?P<name>[^/]+)/paths/?(?P<path>.*)$"
)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_datastore_uri(value: str) -> bool:
    return value.startswith("azureml://")


class DatastoreService:
    """Lists, registers and resolves datastores of one workspace."""

    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx

    def _default(self) -> Datastore:
        return Datastore(
            name=DEFAULT_DATASTORE,
            root=str(self.ctx.layout.default_datastore.resolve()),
            description="The workspace's default datastore (a folder inside the workspace).",
            is_default=True,
        )

    @staticmethod
    def _to_schema(row: DatastoreRow) -> Datastore:
        return Datastore(name=row.name, root=row.root, description=row.description, is_default=False)

    def list(self) -> list[Datastore]:
        with self.ctx.db.read() as s:
            rows = list(s.scalars(select(DatastoreRow).order_by(DatastoreRow.name)))
        return [self._default(), *(self._to_schema(r) for r in rows if r.name != DEFAULT_DATASTORE)]

    def get(self, name: str) -> Datastore:
        if name == DEFAULT_DATASTORE:
            return self._default()
        with self.ctx.db.read() as s:
            row = s.scalars(select(DatastoreRow).where(DatastoreRow.name == name)).first()
        if row is None:
            raise NotFound(
                f"datastore '{name}' does not exist",
                hint=f"the default datastore is '{DEFAULT_DATASTORE}'",
            )
        return self._to_schema(row)

    def create(self, name: str, root: Path, description: str | None = None) -> Datastore:
        """Register a local folder as a datastore (it must exist already)."""
        names.asset_name(name)
        if name == DEFAULT_DATASTORE:
            raise Conflict(f"'{DEFAULT_DATASTORE}' is the built-in default datastore", field="name")
        folder = Path(root).expanduser().resolve()
        if not folder.is_dir():
            raise InvalidInput(f"folder '{folder}' does not exist", field="root")
        try:
            with self.ctx.db.session() as s:
                row = DatastoreRow(name=name, type="local", root=str(folder), description=description)
                s.add(row)
        except IntegrityError:
            raise Conflict(f"datastore '{name}' already exists", field="name") from None
        return self._to_schema(row)

    def resolve_uri(self, uri: str, *, field: str = "path") -> Path:
        """The local path an ``azureml://datastores/...`` URI points to; never outside the datastore."""
        match = _URI.match(uri)
        if not match:
            raise InvalidInput(
                f"'{uri}' is not a datastore URI; expected azureml://datastores/<name>/paths/<path>", field=field
            )
        name = names.asset_name(match.group("name"), field)
        datastore = self.get(name)
        parts = [p for p in unquote(match.group("path")).split("/") if p]
        return within(Path(datastore.root), *parts, field=field)

    def local_path(self, value: str, *, base_dir: Path | None, field: str = "path", file: str | None = None) -> Path:
        """Where a spec's ``path`` points: a datastore URI, or a local path relative to ``base_dir``."""
        try:
            if is_datastore_uri(value):
                return self.resolve_uri(value, field=field)
            if isinstance(value, str) and _SCHEME.match(value):
                raise InvalidInput(
                    f"'{value}': only local paths and azureml://datastores/<name>/paths/<path> URIs are supported",
                    field=field,
                )
            return resolve_relative(value, base_dir, field, file=file)
        except (InvalidInput, NotFound) as exc:
            exc.file = exc.file or file
            exc.field = exc.field or field
            raise

    def to_uri(self, path: Path) -> str | None:
        """The ``azureml://`` URI of a local path inside a datastore, or None when it is in none."""
        target = Path(path).resolve()
        for datastore in self.list():
            root = Path(datastore.root).resolve()
            if target == root or root in target.parents:
                rel = target.relative_to(root).as_posix()
                return f"azureml://datastores/{datastore.name}/paths/{'' if rel == '.' else rel}"
        return None
