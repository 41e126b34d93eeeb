"""``client.data``: register and find data assets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.client.operations.versioned import VersionedOperations
from batchpoint.registry.schemas import Data
from batchpoint.registry.specs import DataSpec, spec_from_fields

if TYPE_CHECKING:
    pass


class DataOperations(VersionedOperations[Data]):
    """Data assets of one workspace."""

    _attribute = "data"

    def create(
        self,
        name: str | None = None,
        path: str | Path | None = None,
        *,
        type: str | None = None,
        version: str | int | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        file: str | Path | None = None,
        overrides: list[tuple[str, Any]] | None = None,
    ) -> Data:
        """Register a data asset from arguments, or from a data YAML (``file``) they override."""
        fields = {
            "name": name,
            "path": None if path is None else str(path),
            "type": type,
            "version": version,
            "description": description,
            "tags": tags,
        }
        service = self._services.data
        if file is not None:
            return service.create_from_file(Path(file), overrides=overrides, **fields)
        return service.create(spec_from_fields(DataSpec, fields, overrides))
