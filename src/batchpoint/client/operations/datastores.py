"""``client.datastores``: the workspace's datastores (``workspaceblobstore`` and registered folders)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchpoint.registry.schemas import Datastore

if TYPE_CHECKING:
    from batchpoint.contracts import ServiceHub


class DatastoreOperations:
    """Datastores of one workspace: the ``azureml://datastores/<name>/paths/...`` URIs name them."""

    def __init__(self, services: ServiceHub) -> None:
        self._services = services

    def get(self, name: str) -> Datastore:
        return self._services.datastores.get(name)

    show = get

    def list(self) -> list[Datastore]:
        """The default datastore first, then the registered ones by name."""
        return self._services.datastores.list()
