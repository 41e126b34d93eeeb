"""What the endpoint and deployment services offer the SDK's operations, embedded or over HTTP.

``endpoints/endpoint_service.py`` and ``endpoints/deployment_service.py`` (embedded) and
``client/remote_endpoints.py`` (remote) both satisfy these.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any, Protocol

from batchpoint.endpoints.schemas import BatchDeployment, BatchEndpoint
from batchpoint.endpoints.specs import BatchEndpointSpec, DeploymentSpec


class BatchEndpointContract(Protocol):
    def create(self, spec: BatchEndpointSpec) -> BatchEndpoint: ...
    def create_from_file(
        self, path: Path | None, *, name: str | None = None, overrides: builtins.list[tuple[str, Any]] | None = None
    ) -> BatchEndpoint: ...
    def get(self, name: str) -> BatchEndpoint: ...
    def list(self) -> builtins.list[BatchEndpoint]: ...
    def update(
        self, name: str | None, *, overrides: builtins.list[tuple[str, Any]] | None = None, path: Path | None = None
    ) -> BatchEndpoint: ...
    def delete(self, name: str) -> None: ...


class BatchDeploymentContract(Protocol):
    def create(
        self, spec: DeploymentSpec, *, base_dir: Path | None, file: str | None = None, set_default: bool = False
    ) -> BatchDeployment: ...
    def create_from_file(
        self,
        path: Path,
        *,
        endpoint_name: str | None = None,
        name: str | None = None,
        overrides: builtins.list[tuple[str, Any]] | None = None,
        set_default: bool = False,
    ) -> BatchDeployment: ...
    def update(
        self,
        name: str | None,
        endpoint_name: str | None,
        *,
        path: Path | None = None,
        overrides: builtins.list[tuple[str, Any]] | None = None,
        set_default: bool = False,
    ) -> BatchDeployment: ...
    def get(self, name: str, endpoint_name: str) -> BatchDeployment: ...
    def list(self, endpoint_name: str) -> builtins.list[BatchDeployment]: ...
    def delete(self, name: str, endpoint_name: str) -> None: ...
    def route(self, endpoint_name: str, deployment_name: str | None = None) -> BatchDeployment: ...
