"""``client.batch_endpoints`` and ``client.batch_deployments``: the SDK face of the endpoint services.

The methods mirror the services one for one. ``overrides`` may be given as ``[("key.path", value)]``
pairs, as a ``{"key.path": value}`` mapping, or as ``["key.path=value"]`` strings (the CLI's ``--set``).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.common import overrides as ov
from batchpoint.endpoints.schemas import BatchDeployment, BatchEndpoint
from batchpoint.endpoints.specs import BatchEndpointSpec, DeploymentSpec

if TYPE_CHECKING:
    from batchpoint.services import Services

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

    def __init__(self, services: Services) -> None:
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

    def invoke(self, endpoint_name: str, **kwargs: Any) -> Any:
        """Start a batch job on the endpoint (see ``JobService.invoke`` for the arguments)."""
        return self._services.jobs.invoke(endpoint_name, **kwargs)

    def list_jobs(self, endpoint_name: str) -> builtins.list[Any]:
        return self._services.jobs.list(endpoint_name=endpoint_name)


class BatchDeploymentOperations:
    """Create, show, list, update and delete the deployments behind batch endpoints."""

    def __init__(self, services: Services) -> None:
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
