"""``Client``: the entry point of the SDK.

Embedded (the default) it opens the workspace found as the CLI finds it and calls the services
in process. Given a server (``Client(server=URL, token=T)``, ``BATCHPOINT_SERVER``/``BATCHPOINT_TOKEN``,
or the login saved by ``batchpoint login``) it calls the same operations over HTTP. Each attribute
is an operations object (``client.models.create(...)``, ``client.batch_endpoints.invoke(...)``)
returning typed pydantic objects.

Which one: an explicit ``server`` wins, then an explicit workspace (argument, ``--workspace`` or
``BATCHPOINT_WORKSPACE``), then ``BATCHPOINT_SERVER``, then the saved login, then the workspace
found from the current folder.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from batchpoint.config import Settings
from batchpoint.errors import InvalidInput
from batchpoint.services import Services
from batchpoint.workspace import Workspace

if TYPE_CHECKING:
    from batchpoint.client.operations.computes import ComputeOperations
    from batchpoint.client.operations.data import DataOperations
    from batchpoint.client.operations.datastores import DatastoreOperations
    from batchpoint.client.operations.endpoints import BatchDeploymentOperations, BatchEndpointOperations
    from batchpoint.client.operations.environments import EnvironmentOperations
    from batchpoint.client.operations.jobs import JobOperations
    from batchpoint.client.operations.models import ModelOperations
    from batchpoint.client.remote import RemoteServices, RemoteTokens
    from batchpoint.tokens.service import TokenService


class Client:
    """Talks to one workspace: ``Client()``, ``Client("path/to/project")``, or a server: ``Client(server=URL, token=T)``."""

    def __init__(
        self,
        workspace: str | Path | None = None,
        *,
        settings: Settings | None = None,
        actor: str | None = None,
        server: str | None = None,
        token: str | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._remote: RemoteServices | None = None
        target = _server_of(workspace, server, token, self.settings)
        if target is not None:
            from batchpoint.client.remote import RemoteServices

            self._remote = RemoteServices(*target)
            # NOTE: the remote objects have the services' method names and signatures (duck-typed).
            self._services = cast(Services, self._remote)
        else:
            self._services = Services(Workspace.open(workspace, self.settings), actor=actor)

    @property
    def services(self) -> Services:
        return self._services

    @property
    def server(self) -> str | None:
        """The server's URL, or None when embedded."""
        return self._remote.server if self._remote is not None else None

    @property
    def workspace_path(self) -> Path:
        if self._remote is not None:
            raise InvalidInput(f"this client talks to the server {self._remote.server}; it has no local workspace")
        return self._services.workspace.root

    @cached_property
    def tokens(self) -> RemoteTokens | TokenService:
        """Tokens of the server (owner only), or of the local workspace's database (embedded)."""
        if self._remote is not None:
            return self._remote.tokens
        from batchpoint.tokens.service import TokenService

        return TokenService(self._services.db, actor=self._services.actor or "local")

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
    def datastores(self) -> DatastoreOperations:
        from batchpoint.client.operations.datastores import DatastoreOperations

        return DatastoreOperations(self._services)

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


def _server_of(
    workspace: str | Path | None, server: str | None, token: str | None, settings: Settings
) -> tuple[str, str | None] | None:
    """(URL, token) of the server to talk to, or None for embedded (see the module docstring)."""
    if server:
        return server, token or settings.token
    if workspace is not None or settings.workspace is not None:
        return None
    if settings.server:
        return settings.server, token or settings.token
    from batchpoint.client import userconfig

    saved = userconfig.load()
    if saved.server:
        return saved.server, token or settings.token or saved.token
    return None
