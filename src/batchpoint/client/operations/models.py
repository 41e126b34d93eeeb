"""``client.models``: register, find, archive, delete and download models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.registry.schemas import Model
from batchpoint.registry.specs import ModelSpec, spec_from_fields

if TYPE_CHECKING:
    from batchpoint.services import Services


class ModelOperations:
    """Models of one workspace; every method returns typed objects or raises a ``BatchpointError``."""

    def __init__(self, services: Services) -> None:
        self._services = services

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

    def get(self, name: str, version: str | None = None) -> Model:
        """One version; ``version=None`` is the latest version that is not archived."""
        return self._services.models.get(name, version)

    def resolve(self, ref: str) -> Model:
        """``azureml:NAME:VERSION``, ``azureml:NAME@latest``, ``NAME:VERSION`` or ``NAME@latest``."""
        return self._services.models.resolve(ref)

    def list(self, name: str | None = None, *, include_archived: bool = False) -> list[Model]:
        return self._services.models.list(name, include_archived=include_archived)

    def archive(self, name: str, version: str | None = None) -> Model:
        return self._services.models.archive(name, version)

    def restore(self, name: str, version: str | None = None) -> Model:
        return self._services.models.restore(name, version)

    def delete(self, name: str, version: str) -> None:
        self._services.models.delete(name, version)

    def download(self, name: str, version: str | None = None, download_path: str | Path = ".") -> Path:
        """Copy the model's files to ``download_path/<path>``; returns that path."""
        return self._services.models.download(name, version, Path(download_path))
