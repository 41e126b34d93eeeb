"""Data assets: named, versioned pointers to a file or a folder.

Unlike models, data is not copied: an asset records where the data is (an absolute local path or
an ``azureml://datastores/...`` URI). The location is checked when the asset is registered, so a
typo fails at once rather than in the middle of a job.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from batchpoint.common.paths import must_exist
from batchpoint.common.timefmt import to_datetime
from batchpoint.errors import BatchpointError, Conflict, InvalidInput
from batchpoint.registry.datastores import is_datastore_uri
from batchpoint.registry.schemas import Data
from batchpoint.registry.specs import DataSpec, load_spec
from batchpoint.registry.versioned import VersionedRows, VersionedService, with_file
from batchpoint.store.tables import DataRow

if TYPE_CHECKING:
    from batchpoint.services import Services


class DataService(VersionedService[DataRow, Data]):
    """Registers and finds data assets."""

    def __init__(self, ctx: Services) -> None:
        super().__init__(ctx, VersionedRows(DataRow, "data asset", "data"))

    def create(self, spec: DataSpec, *, base_dir: Path | None = None, file: str | None = None) -> Data:
        """Check the location exists and has the right kind, then add the version."""
        try:
            location = self._location(spec, base_dir, file)
            with self.ctx.db.session() as s:
                version = spec.version or self.rows.next_version(s, spec.name)
                self.rows.refuse_duplicate(s, spec.name, version)
                row = DataRow(
                    name=spec.name,
                    version=version,
                    description=spec.description,
                    tags=spec.tags,
                    properties=spec.properties,
                    type=spec.type,
                    path=location,
                    created_by=self.ctx.actor,
                )
                s.add(row)
                s.flush()
        except IntegrityError:
            raise Conflict(f"data asset '{spec.name}' got the same version twice at once; try again") from None
        except BatchpointError as exc:
            raise with_file(exc, file) from None
        return self._to_schema(row)

    def create_from_file(self, path: Path, /, *, overrides: list[tuple[str, Any]] | None = None, **fields: Any) -> Data:
        """Register from a data YAML (Azure form); a relative ``path`` is relative to the YAML file."""
        path = Path(path)
        spec = load_spec(DataSpec, path, fields=fields, pairs=overrides)
        return self.create(spec, base_dir=path.resolve().parent, file=str(path))

    def _location(self, spec: DataSpec, base_dir: Path | None, file: str | None) -> str:
        """What to store: the URI as given for datastore URIs, else the absolute local path."""
        local = self.ctx.datastores.local_path(spec.path, base_dir=base_dir, field="path", file=file)
        must_exist(local, "path", file=file)
        if spec.type == "uri_file" and not local.is_file():
            raise InvalidInput(f"'{spec.path}' is a folder but type is uri_file", field="path", file=file)
        if spec.type == "uri_folder" and not local.is_dir():
            raise InvalidInput(f"'{spec.path}' is a file but type is uri_folder", field="path", file=file)
        return spec.path if is_datastore_uri(spec.path) else str(local)

    def local_path(self, data: Data) -> Path:
        """Where the data is on this machine (a datastore URI resolved to its folder)."""
        if is_datastore_uri(data.path):
            return self.ctx.datastores.resolve_uri(data.path)
        return Path(data.path)

    def resolve(self, ref: str, *, field: str = "input", file: str | None = None) -> Data:
        return self._resolve(ref, field, file)

    def _to_schema(self, row: DataRow) -> Data:
        return Data(
            name=row.name,
            version=row.version,
            type=row.type,
            path=row.path,
            description=row.description,
            tags=row.tags or {},
            properties=row.properties or {},
            archived=row.archived,
            created_at=to_datetime(row.created_at),
            created_by=row.created_by,
        )
