"""``Client``: the entry point of the SDK.

Embedded (the default) it opens the workspace found as the CLI finds it and calls the services
in process. Each attribute is an operations object (``client.models.create(...)``,
``client.batch_endpoints.invoke(...)``) returning typed pydantic objects.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.config import Settings
from batchpoint.services import Services
from batchpoint.workspace import Workspace

if TYPE_CHECKING:
    from batchpoint.client.operations.computes import ComputeOperations
    from batchpoint.client.operations.data import DataOperations
    from batchpoint.client.operations.endpoints import BatchDeploymentOperations, BatchEndpointOperations
    from batchpoint.client.operations.environments import EnvironmentOperations
    from batchpoint.client.operations.jobs import JobOperations
    from batchpoint.client.operations.models import ModelOperations


class Client:
    """Talks to one workspace: ``Client()``, ``Client("path/to/project")`` or ``Client(workspace=...)``."""

    def __init__(
        self,
        workspace: str | Path | None = None,
        *,
        settings: Settings | None = None,
        actor: str | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._services = Services(Workspace.open(workspace, self.settings), actor=actor)

    @property
    def services(self) -> Services:
        return self._services

    @property
    def workspace_path(self) -> Path:
        return self._services.workspace.root

    @cached_property
    def models(self) -> ModelOperations:
        from batchpoint.client.operations.models import ModelOperations

        return ModelOperations(self._services)

    @cached_property
    def environments(self) -> EnvironmentOperations:
        from batchpoint.client.operations.environments import EnvironmentOperations

        return EnvironmentOperations(self._services)

    @cached_property
    def data(self) -> DataOperations:
        from batchpoint.client.operations.data import DataOperations

        return DataOperations(self._services)

    @cached_property
    def computes(self) -> ComputeOperations:
        from batchpoint.client.operations.computes import ComputeOperations

        return ComputeOperations(self._services)

    @cached_property
    def batch_endpoints(self) -> BatchEndpointOperations:
        from batchpoint.client.operations.endpoints import BatchEndpointOperations

        return BatchEndpointOperations(self._services)

    @cached_property
    def batch_deployments(self) -> BatchDeploymentOperations:
        from batchpoint.client.operations.endpoints import BatchDeploymentOperations

        return BatchDeploymentOperations(self._services)

    @cached_property
    def jobs(self) -> JobOperations:
        from batchpoint.client.operations.jobs import JobOperations

        return JobOperations(self._services)

    def close(self) -> None:
        self._services.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
