"""``client.batch_endpoints`` and ``client.batch_deployments``: the SDK face of the endpoint services.

The methods mirror the services one for one. ``overrides`` may be given as ``[("key.path", value)]``
pairs, as a ``{"key.path": value}`` mapping, or as ``["key.path=value"]`` strings (the CLI's ``--set``).
They take the services by their contracts (``endpoints/contracts.py``, ``jobs/contracts.py``), so the
same code runs embedded and over HTTP.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.common import overrides as ov
from batchpoint.common import validation
from batchpoint.endpoints.schemas import BatchDeployment, BatchEndpoint
from batchpoint.endpoints.specs import BatchEndpointSpec, DeploymentSpec
from batchpoint.jobs.invoke import InvokeRequest

if TYPE_CHECKING:
    from batchpoint.contracts import ServiceHub
    from batchpoint.jobs.schemas import Job

Overrides = Sequence[tuple[str, Any]] | Sequence[str] | Mapping[str, Any] | None


def _pairs(overrides: Overrides) -> list[tuple[str, Any]]:
    if not overrides:
        return []
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    pairs: list[tuple[str, Any]] = []
    for item in overrides:
        if isinstance(item, str):
            pairs.extend(ov.parse_pairs([item]))
        else:
            key, value = item
            pairs.append((str(key), value))
    return pairs


def _path(path: str | Path | None) -> Path | None:
    return None if path is None else Path(path)


class BatchEndpointOperations:
    """Create, show, list, update and delete batch endpoints; invoke them and list their jobs."""

    def __init__(self, services: ServiceHub) -> None:
        self._services = services

    def create(self, spec: BatchEndpointSpec) -> BatchEndpoint:
        return self._services.batch_endpoints.create(spec)

    def create_from_file(
        self, path: str | Path | None = None, *, name: str | None = None, overrides: Overrides = None
    ) -> BatchEndpoint:
        return self._services.batch_endpoints.create_from_file(_path(path), name=name, overrides=_pairs(overrides))

    def update(
        self, name: str | None = None, *, overrides: Overrides = None, path: str | Path | None = None
    ) -> BatchEndpoint:
        return self._services.batch_endpoints.update(name, overrides=_pairs(overrides), path=_path(path))

    def get(self, name: str) -> BatchEndpoint:
        return self._services.batch_endpoints.get(name)

    def list(self) -> builtins.list[BatchEndpoint]:
        return self._services.batch_endpoints.list()

    def delete(self, name: str) -> None:
        self._services.batch_endpoints.delete(name)

    def invoke(
        self,
        endpoint_name: str,
        request: InvokeRequest | None = None,
        *,
        input: str | Path | None = None,
        input_type: str | None = None,
        deployment_name: str | None = None,
        output_path: str | Path | None = None,
        mini_batch_size: int | None = None,
        instance_count: int | None = None,
        job_name: str | None = None,
        experiment_name: str | None = None,
        overrides: Overrides = None,
        inputs_file: str | Path | None = None,
        start: bool = True,
    ) -> Job:
        """Start a batch job on the endpoint: from an ``InvokeRequest``, or from the same fields as arguments.

        Arguments given next to a request win over its fields. ``inputs_file``: an ``inputs.yml`` with
        ``inputs:``/``outputs:`` maps, for what neither gives. Returns the job at once (``start=False``:
        recorded, not started; embedded only).
        """
        request = invoke_request(
            request,
            input=input, input_type=input_type, deployment_name=deployment_name, output_path=output_path,
            mini_batch_size=mini_batch_size, instance_count=instance_count, job_name=job_name,
            experiment_name=experiment_name, overrides=None if overrides is None else _pairs(overrides),
        )  # fmt: skip
        if inputs_file is not None:
            request = request.with_inputs_file(inputs_file)
        return self._services.jobs.invoke(endpoint_name, request, start=start)

    def list_jobs(self, endpoint_name: str) -> builtins.list[Any]:
        return self._services.jobs.list(endpoint_name=endpoint_name)


def invoke_request(request: InvokeRequest | None = None, **fields: Any) -> InvokeRequest:
    """``request`` with the fields given (not None) laid over it, validated (errors name the field)."""
    given = {k: str(v) if isinstance(v, Path) else v for k, v in fields.items() if v is not None}
    if request is None:
        return validation.parse(InvokeRequest, given)
    if not given:
        return request
    return validation.parse(InvokeRequest, {**request.model_dump(exclude_unset=True), **given})


class BatchDeploymentOperations:
    """Create, show, list, update and delete the deployments behind batch endpoints."""

    def __init__(self, services: ServiceHub) -> None:
        self._services = services

    def create(
        self,
        spec: DeploymentSpec,
        *,
        base_dir: str | Path | None = None,
        set_default: bool = False,
    ) -> BatchDeployment:
        """From a spec object; relative paths in it are relative to ``base_dir`` (default: the current folder)."""
        return self._services.batch_deployments.create(spec, base_dir=_path(base_dir), set_default=set_default)

    def create_from_file(
        self,
        path: str | Path,
        *,
        endpoint_name: str | None = None,
        name: str | None = None,
        overrides: Overrides = None,
        set_default: bool = False,
    ) -> BatchDeployment:
        return self._services.batch_deployments.create_from_file(
            Path(path), endpoint_name=endpoint_name, name=name, overrides=_pairs(overrides), set_default=set_default
        )

    def update(
        self,
        name: str | None = None,
        endpoint_name: str | None = None,
        *,
        path: str | Path | None = None,
        overrides: Overrides = None,
        set_default: bool = False,
    ) -> BatchDeployment:
        return self._services.batch_deployments.update(
            name, endpoint_name, path=_path(path), overrides=_pairs(overrides), set_default=set_default
        )

    def get(self, name: str, endpoint_name: str) -> BatchDeployment:
        return self._services.batch_deployments.get(name, endpoint_name)

    def list(self, endpoint_name: str) -> builtins.list[BatchDeployment]:
        return self._services.batch_deployments.list(endpoint_name)

    def delete(self, name: str, endpoint_name: str) -> None:
        self._services.batch_deployments.delete(name, endpoint_name)

    def route(self, endpoint_name: str, deployment_name: str | None = None) -> BatchDeployment:
        """The deployment an invocation of the endpoint would run on."""
        return self._services.batch_deployments.route(endpoint_name, deployment_name)

    def list_jobs(self, name: str, endpoint_name: str) -> builtins.list[Any]:
        return self._services.jobs.list(endpoint_name=endpoint_name, deployment_name=name)
