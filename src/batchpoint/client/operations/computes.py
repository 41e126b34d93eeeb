"""``client.computes``: register, update and find compute targets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.registry.schemas import Compute
from batchpoint.registry.specs import ComputeSpec, spec_from_fields

if TYPE_CHECKING:
    from batchpoint.contracts import ServiceHub


class ComputeOperations:
    """Computes of one workspace (the built-in ``local`` is always there)."""

    def __init__(self, services: ServiceHub) -> None:
        self._services = services

    def create(
        self,
        name: str | None = None,
        *,
        type: str | None = None,
        min_instances: int | None = None,
        max_instances: int | None = None,
        address: str | None = None,
        resources: dict[str, float] | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        file: str | Path | None = None,
        overrides: list[tuple[str, Any]] | None = None,
        size: str | None = None,
    ) -> Compute:
        """Register a compute from arguments, or from a compute YAML (``file``) they override.

        ``size`` (an Azure VM size) is accepted, as the YAML's ``size`` is, and ignored.
        """
        fields = {
            "name": name,
            "type": type,
            "size": size,
            "min_instances": min_instances,
            "max_instances": max_instances,
            "address": address,
            "resources": resources,
            "description": description,
            "tags": tags,
        }
        service = self._services.computes
        if file is not None:
            return service.create_from_file(Path(file), overrides=overrides, **fields)
        return service.create(spec_from_fields(ComputeSpec, fields, overrides))

    def get(self, name: str) -> Compute:
        return self._services.computes.get(name)

    def resolve(self, ref: str | None) -> Compute:
        return self._services.computes.resolve(ref)

    def list(self) -> list[Compute]:
        return self._services.computes.list()

    def update(self, name: str, **fields: Any) -> Compute:
        """Change ``max_instances``, ``min_instances``, ``address``, ``resources``, ``description`` or ``tags``."""
        return self._services.computes.update(name, **fields)

    def delete(self, name: str) -> None:
        self._services.computes.delete(name)
