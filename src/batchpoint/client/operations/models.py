"""``client.models``: register, find, archive, delete and download models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.client.operations.versioned import VersionedOperations
from batchpoint.registry.schemas import Model
from batchpoint.registry.specs import ModelSpec, spec_from_fields

if TYPE_CHECKING:
    pass


class ModelOperations(VersionedOperations[Model]):
    """Models of one workspace; every method returns typed objects or raises a ``BatchpointError``."""

    _attribute = "models"

    def create(
        self,
        name: str | None = None,
        path: str | Path | None = None,
        *,
        version: str | int | None = None,
        type: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, Any] | None = None,
        stage: str | None = None,
        file: str | Path | None = None,
        overrides: list[tuple[str, Any]] | None = None,
    ) -> Model:
        """Register a model version from arguments, or from a model YAML (``file``) they override.

        Paths given as arguments are relative to the current folder; paths inside the YAML file are
        relative to the file. ``overrides`` are ``--set`` pairs (``[("tags.stage", "prod")]``).
        """
        fields = {
            "name": name,
            "path": None if path is None else str(path),
            "version": version,
            "type": type,
            "description": description,
            "tags": tags,
            "properties": properties,
            "stage": stage,
        }
        service = self._services.models
        if file is not None:
            return service.create_from_file(Path(file), overrides=overrides, **fields)
        return service.create(spec_from_fields(ModelSpec, fields, overrides))

    def download(self, name: str, version: str | None = None, download_path: str | Path = ".") -> Path:
        """Copy the model's files to ``download_path/<path>``; returns that path."""
        return self._services.models.download(name, version, Path(download_path))
