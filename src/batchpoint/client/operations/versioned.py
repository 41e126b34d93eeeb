"""What the operations of every versioned asset (models, environments, data) share."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from batchpoint.contracts import ServiceHub
    from batchpoint.registry.contracts import VersionedContract

T = TypeVar("T")


class VersionedOperations(Generic[T]):
    """get, resolve, list, archive, restore and delete for one kind of versioned asset."""

    _attribute: str
    """The ``Services`` attribute of the asset's service (``models``, ``environments``, ``data``)."""

    def __init__(self, services: ServiceHub) -> None:
        self._services = services

    @property
    def _service(self) -> VersionedContract[T]:
        service: VersionedContract[T] = getattr(self._services, self._attribute)
        return service

    def get(self, name: str, version: str | None = None) -> T:
        """One version; ``version=None`` is the latest version that is not archived."""
        return self._service.get(name, version)

    def resolve(self, ref: str) -> T:
        """``azureml:NAME:VERSION``, ``azureml:NAME@latest``, ``NAME:VERSION`` or ``NAME@latest``."""
        return self._service.resolve(ref)

    def list(self, name: str | None = None, *, include_archived: bool = False) -> builtins.list[T]:
        """The versions of ``name``, or without a name the latest version of each asset (as Azure ML lists)."""
        return self._service.list(name, include_archived=include_archived)

    def archive(self, name: str, version: str | None = None) -> T:
        return self._service.archive(name, version)

    def restore(self, name: str, version: str | None = None) -> T:
        return self._service.restore(name, version)

    def delete(self, name: str, version: str) -> None:
        self._service.delete(name, version)
