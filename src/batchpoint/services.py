"""Composition root of embedded mode: one opened workspace and every domain service over it.

Services are created lazily so that a CLI call only imports what it uses. A service takes this
object and reaches the database, the artifact store and its sibling services through it.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from batchpoint.artifacts import ArtifactStore
from batchpoint.workspace import Workspace

if TYPE_CHECKING:
    from batchpoint.endpoints.service import BatchDeploymentService, BatchEndpointService
    from batchpoint.jobs.service import JobService
    from batchpoint.registry.computes import ComputeService
    from batchpoint.registry.data import DataService
    from batchpoint.registry.datastores import DatastoreService
    from batchpoint.registry.environments import EnvironmentService
    from batchpoint.registry.models import ModelService


class Services:
    """Every service of one workspace."""

    def __init__(self, workspace: Workspace, *, actor: str | None = None) -> None:
        self.workspace = workspace
        self.settings = workspace.settings
        self.db = workspace.db
        self.layout = workspace.layout
        self.artifacts = ArtifactStore(workspace.layout.artifacts)
        self.actor = actor
        """Who is calling (a user or token name); recorded on what they create."""

    @cached_property
    def models(self) -> ModelService:
        from batchpoint.registry.models import ModelService

        return ModelService(self)

    @cached_property
    def environments(self) -> EnvironmentService:
        from batchpoint.registry.environments import EnvironmentService

        return EnvironmentService(self)

    @cached_property
    def data(self) -> DataService:
        from batchpoint.registry.data import DataService

        return DataService(self)

    @cached_property
    def computes(self) -> ComputeService:
        from batchpoint.registry.computes import ComputeService

        return ComputeService(self)

    @cached_property
    def datastores(self) -> DatastoreService:
        from batchpoint.registry.datastores import DatastoreService

        return DatastoreService(self)

    @cached_property
    def batch_endpoints(self) -> BatchEndpointService:
        from batchpoint.endpoints.service import BatchEndpointService

        return BatchEndpointService(self)

    @cached_property
    def batch_deployments(self) -> BatchDeploymentService:
        from batchpoint.endpoints.service import BatchDeploymentService

        return BatchDeploymentService(self)

    @cached_property
    def jobs(self) -> JobService:
        from batchpoint.jobs.service import JobService

        return JobService(self)

    def close(self) -> None:
        self.workspace.close()
