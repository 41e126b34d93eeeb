"""``ServiceHub``: what the SDK's operations objects need of the services, embedded or remote.

``batchpoint.services.Services`` (in process) and ``batchpoint.client.remote.RemoteServices`` (over
HTTP) both satisfy it, and ``client/client.py`` holds either as a ``ServiceHub``, so mypy checks that
the remote client keeps the embedded services' method names and signatures. Each domain's protocols
live next to it: ``registry/contracts.py``, ``endpoints/contracts.py``, ``jobs/contracts.py``,
``components/contracts.py``.
"""

from __future__ import annotations

from typing import Protocol

from batchpoint.components.contracts import ComponentContract
from batchpoint.endpoints.contracts import BatchDeploymentContract, BatchEndpointContract
from batchpoint.jobs.contracts import JobContract
from batchpoint.registry.contracts import (
    ComputeContract,
    DataContract,
    DatastoreContract,
    EnvironmentContract,
    ModelContract,
)
from batchpoint.runs.contracts import ExperimentContract

__all__ = [
    "BatchDeploymentContract",
    "BatchEndpointContract",
    "ComponentContract",
    "ComputeContract",
    "DataContract",
    "DatastoreContract",
    "EnvironmentContract",
    "ExperimentContract",
    "JobContract",
    "ModelContract",
    "ServiceHub",
]


class ServiceHub(Protocol):
    """Every service an operations object reaches, and ``close()``."""

    @property
    def models(self) -> ModelContract: ...
    @property
    def environments(self) -> EnvironmentContract: ...
    @property
    def data(self) -> DataContract: ...
    @property
    def computes(self) -> ComputeContract: ...
    @property
    def datastores(self) -> DatastoreContract: ...
    @property
    def batch_endpoints(self) -> BatchEndpointContract: ...
    @property
    def batch_deployments(self) -> BatchDeploymentContract: ...
    @property
    def jobs(self) -> JobContract: ...
    @property
    def components(self) -> ComponentContract: ...
    @property
    def experiments(self) -> ExperimentContract: ...
    def close(self) -> None: ...
