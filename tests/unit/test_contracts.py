"""The embedded services and the remote client keep one set of contracts (``batchpoint/contracts.py``).

mypy proves it where ``client/client.py`` holds either as a ``ServiceHub`` (and below, if tests are
type-checked); this test checks the same at run time: every contract method exists on both sides
and takes the contract's parameters.
"""

from __future__ import annotations

import inspect
import typing
from typing import TYPE_CHECKING

import pytest

from batchpoint import contracts
from batchpoint.client import remote_components, remote_endpoints, remote_registry, remote_runs
from batchpoint.client.remote import RemoteServices
from batchpoint.components.service import ComponentService
from batchpoint.endpoints.service import BatchDeploymentService, BatchEndpointService
from batchpoint.jobs.service import JobService
from batchpoint.registry.computes import ComputeService
from batchpoint.registry.data import DataService
from batchpoint.registry.datastores import DatastoreService
from batchpoint.registry.environments import EnvironmentService
from batchpoint.registry.models import ModelService
from batchpoint.runs.service import RunService
from batchpoint.services import Services

if TYPE_CHECKING:

    def _embedded_is_a_hub(services: Services) -> contracts.ServiceHub:
        return services

    def _remote_is_a_hub(services: RemoteServices) -> contracts.ServiceHub:
        return services


SIDES = {
    contracts.ModelContract: (ModelService, remote_registry.RemoteModels),
    contracts.EnvironmentContract: (EnvironmentService, remote_registry.RemoteEnvironments),
    contracts.DataContract: (DataService, remote_registry.RemoteData),
    contracts.ComputeContract: (ComputeService, remote_registry.RemoteComputes),
    contracts.DatastoreContract: (DatastoreService, remote_registry.RemoteDatastores),
    contracts.BatchEndpointContract: (BatchEndpointService, remote_endpoints.RemoteBatchEndpoints),
    contracts.BatchDeploymentContract: (BatchDeploymentService, remote_endpoints.RemoteBatchDeployments),
    contracts.JobContract: (JobService, remote_endpoints.RemoteJobs),
    contracts.ComponentContract: (ComponentService, remote_components.RemoteComponents),
    contracts.ExperimentContract: (RunService, remote_runs.RemoteExperiments),
}


def _methods(protocol: type) -> dict[str, inspect.Signature]:
    found = {}
    for klass in reversed(protocol.__mro__):
        for name, value in vars(klass).items():
            if callable(value) and not name.startswith("_"):
                found[name] = inspect.signature(value)
    return found


@pytest.mark.parametrize("protocol", list(SIDES), ids=lambda p: p.__name__)
def test_both_sides_take_the_contracts_parameters(protocol: type) -> None:
    for side in SIDES[protocol]:
        for name, wanted in _methods(protocol).items():
            method = getattr(side, name, None)
            assert method is not None, f"{side.__name__} has no {name}()"
            given = inspect.signature(method).parameters
            takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in given.values())
            for param in wanted.parameters.values():
                if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                    continue
                assert param.name in given or takes_kwargs, f"{side.__name__}.{name}() lacks '{param.name}'"
            extra = [
                p.name for p in given.values()
                if p.name not in wanted.parameters and p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            ]  # fmt: skip
            assert not extra, f"{side.__name__}.{name}() requires {extra}, which the contract does not give"


def test_the_hub_names_every_service() -> None:
    hub = {name for name, value in vars(contracts.ServiceHub).items() if isinstance(value, property)}
    assert hub == {"models", "environments", "data", "computes", "datastores", "batch_endpoints",
                   "batch_deployments", "jobs", "components", "experiments"}  # fmt: skip
    hints = typing.get_type_hints(contracts.ServiceHub.__dict__["jobs"].fget)
    assert hints["return"] is contracts.JobContract
    for name in hub:
        assert name in getattr(Services, "__annotations__", {}) or hasattr(Services, name), name
