"""The nouns of batchpoint, registered once: each one's service, SDK operations, remote client, routes and CLI group.

A noun (a registry asset, an endpoint kind, jobs, later runs, schedules, ...) is a package of its
own: specs, a service, routes, CLI commands. This table is the one place that wires it in; the
composition root (``services.py``), the SDK (``client/client.py``), the remote client
(``client/remote.py``), the server (``server/routes/__init__.py``) and the CLI (``cli/main.py``) all
read it. Everything here is a ``module:attribute`` string, imported only when first used, so that a
CLI call pays only for the noun it touches. Standard library only: the CLI imports this at start-up.

To add a noun: write its package, then add one ``Noun(...)`` below. For typed access, declare the
attribute on the hub contract (``contracts.py``) as well; ``tests/unit/test_nouns.py`` checks that
every registered noun is reachable through every face.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CliGroup:
    name: str
    """The command group (``batchpoint model ...``)."""
    module: str
    help: str


@dataclass(frozen=True)
class Noun:
    attr: str
    """Its attribute on ``Services``, ``RemoteServices`` and ``Client`` (``models``)."""
    service: str
    """The embedded service class, built with the ``Services`` object."""
    operations: str
    """The SDK's operations class, built with the services (embedded or remote)."""
    remote: str | None = None
    """The remote client class, built with the HTTP transport (None: not offered over HTTP)."""
    routes: str | None = None
    """The module whose ``router`` the server mounts under ``/api/v1``."""
    cli: CliGroup | None = None


NOUNS: tuple[Noun, ...] = (
    Noun(
        "models", "batchpoint.registry.models:ModelService", "batchpoint.client.operations.models:ModelOperations",
        "batchpoint.client.remote_registry:RemoteModels", "batchpoint.server.routes.models",
        CliGroup("model", "batchpoint.cli.model", "Register and manage models."),
    ),
    Noun(
        "environments", "batchpoint.registry.environments:EnvironmentService",
        "batchpoint.client.operations.environments:EnvironmentOperations",
        "batchpoint.client.remote_registry:RemoteEnvironments", "batchpoint.server.routes.environments",
        CliGroup("environment", "batchpoint.cli.environment", "Register and manage environments."),
    ),
    Noun(
        "data", "batchpoint.registry.data:DataService", "batchpoint.client.operations.data:DataOperations",
        "batchpoint.client.remote_registry:RemoteData", "batchpoint.server.routes.data",
        CliGroup("data", "batchpoint.cli.data", "Register and manage data assets."),
    ),
    Noun(
        "computes", "batchpoint.registry.computes:ComputeService",
        "batchpoint.client.operations.computes:ComputeOperations",
        "batchpoint.client.remote_registry:RemoteComputes", "batchpoint.server.routes.computes",
        CliGroup("compute", "batchpoint.cli.compute", "Register and manage compute targets."),
    ),
    Noun(
        "datastores", "batchpoint.registry.datastores:DatastoreService",
        "batchpoint.client.operations.datastores:DatastoreOperations",
        "batchpoint.client.remote_registry:RemoteDatastores", "batchpoint.server.routes.datastores",
        CliGroup("datastore", "batchpoint.cli.datastore", "Datastores: list and show."),
    ),
    Noun(
        "batch_endpoints", "batchpoint.endpoints.endpoint_service:BatchEndpointService",
        "batchpoint.client.operations.endpoints:BatchEndpointOperations",
        "batchpoint.client.remote_endpoints:RemoteBatchEndpoints", "batchpoint.server.routes.endpoints",
        CliGroup("batch-endpoint", "batchpoint.cli.batch_endpoint", "Batch endpoints: create, invoke, list jobs."),
    ),
    Noun(
        "batch_deployments", "batchpoint.endpoints.deployment_service:BatchDeploymentService",
        "batchpoint.client.operations.endpoints:BatchDeploymentOperations",
        "batchpoint.client.remote_endpoints:RemoteBatchDeployments", "batchpoint.server.routes.deployments",
        CliGroup("batch-deployment", "batchpoint.cli.batch_deployment", "Deployments behind batch endpoints."),
    ),
    Noun(
        "jobs", "batchpoint.jobs.service:JobService", "batchpoint.client.operations.jobs:JobOperations",
        "batchpoint.client.remote_endpoints:RemoteJobs", "batchpoint.server.routes.jobs",
        CliGroup("job", "batchpoint.cli.job", "Batch jobs: show, stream, logs, cancel, resume, download."),
    ),
    Noun(
        "components", "batchpoint.components.service:ComponentService",
        "batchpoint.client.operations.components:ComponentOperations",
        "batchpoint.client.remote_components:RemoteComponents", "batchpoint.server.routes.components",
        CliGroup("component", "batchpoint.cli.component", "Register and manage command and pipeline components."),
    ),
    Noun(
        "experiments", "batchpoint.runs.service:RunService",
        "batchpoint.client.operations.experiments:ExperimentOperations",
        "batchpoint.client.remote_runs:RemoteExperiments", "batchpoint.server.routes.experiments",
        CliGroup("experiment", "batchpoint.cli.experiment", "MLflow experiments: list, show (each job is a run)."),
    ),
)  # fmt: skip


def noun(attr: str) -> Noun | None:
    return next((n for n in NOUNS if n.attr == attr), None)


def build(owner: object, name: str, face: str, *args: Any) -> Any:
    """``owner.<name>`` for a noun: its ``face`` (``service``, ``operations``) built with ``args``, kept on ``owner``.

    For a ``__getattr__``: any other name is an ``AttributeError``, as for a missing attribute.
    """
    entry = noun(name) if not name.startswith("_") else None
    target = getattr(entry, face, None) if entry is not None else None
    if target is None:
        raise AttributeError(f"{type(owner).__name__!r} object has no attribute {name!r}")
    built = load(target)(*args)
    owner.__dict__[name] = built
    return built


def load(target: str) -> Any:
    """``module:attribute`` → the attribute; ``module`` → the module."""
    module, _, attribute = target.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded
