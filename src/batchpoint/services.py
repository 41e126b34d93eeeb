"""Composition root of embedded mode: one opened workspace and every domain service over it.

Services are created lazily, from their entries in ``nouns.py``, so that a CLI call only imports what
it uses. A service takes this object and reaches the database, the artifact store and its sibling
services through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchpoint.artifacts import ArtifactStore
from batchpoint.nouns import build
from batchpoint.runs import hooks
from batchpoint.workspace import Workspace

if TYPE_CHECKING:
    from batchpoint.components.service import ComponentService
    from batchpoint.endpoints.service import BatchDeploymentService, BatchEndpointService
    from batchpoint.jobs.service import JobService
    from batchpoint.registry.computes import ComputeService
    from batchpoint.registry.data import DataService
    from batchpoint.registry.datastores import DatastoreService
    from batchpoint.registry.environments import EnvironmentService
    from batchpoint.registry.models import ModelService
    from batchpoint.runs.service import RunService


class Services:
    """Every service of one workspace: one per noun registered in ``nouns.py``, built when first used."""

    # The nouns' services, typed (they are built by __getattr__ from nouns.NOUNS).
    models: ModelService
    environments: EnvironmentService
    data: DataService
    computes: ComputeService
    datastores: DatastoreService
    batch_endpoints: BatchEndpointService
    batch_deployments: BatchDeploymentService
    jobs: JobService
    components: ComponentService
    experiments: RunService

    def __init__(self, workspace: Workspace, *, actor: str | None = None) -> None:
        self.workspace = workspace
        self.settings = workspace.settings
        self.db = workspace.db
        self.layout = workspace.layout
        self.artifacts = ArtifactStore(workspace.layout.artifacts)
        self.actor = actor
        """Who is calling (a user or token name); recorded on what they create."""
        hooks.install(workspace)  # a job's end ends its MLflow run

    @property
    def runs(self) -> RunService:
        """The runs service (the ``experiments`` noun's service, by the name its callers use)."""
        return self.experiments

    def __getattr__(self, name: str) -> Any:
        """A noun's service, built on first use from its entry in ``nouns.py`` and kept."""
        return build(self, name, "service", self)

    def close(self) -> None:
        self.workspace.close()
