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
from typing import TYPE_CHECKING, Any

from batchpoint.config import Settings
from batchpoint.contracts import ServiceHub
from batchpoint.errors import InvalidInput
from batchpoint.nouns import build
from batchpoint.services import Services
from batchpoint.workspace import Workspace

if TYPE_CHECKING:
    from batchpoint.client.operations.components import ComponentOperations
    from batchpoint.client.operations.computes import ComputeOperations
    from batchpoint.client.operations.data import DataOperations
    from batchpoint.client.operations.datastores import DatastoreOperations
    from batchpoint.client.operations.endpoints import BatchDeploymentOperations, BatchEndpointOperations
    from batchpoint.client.operations.environments import EnvironmentOperations
    from batchpoint.client.operations.experiments import ExperimentOperations
    from batchpoint.client.operations.jobs import JobOperations
    from batchpoint.client.operations.models import ModelOperations
    from batchpoint.client.remote import RemoteServices, RemoteTokens
    from batchpoint.tokens.service import TokenService


class Client:
    """Talks to one workspace: ``Client()``, ``Client("path/to/project")``, or a server: ``Client(server=URL, token=T)``."""

    # The nouns' operations, typed (they are built by __getattr__ from nouns.NOUNS).
    models: ModelOperations
    environments: EnvironmentOperations
    data: DataOperations
    datastores: DatastoreOperations
    computes: ComputeOperations
    batch_endpoints: BatchEndpointOperations
    batch_deployments: BatchDeploymentOperations
    jobs: JobOperations
    components: ComponentOperations
    experiments: ExperimentOperations

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
        self._embedded: Services | None = None
        target = _server_of(workspace, server, token, self.settings)
        self._services: ServiceHub
        if target is not None:
            from batchpoint.client.remote import RemoteServices

            self._remote = RemoteServices(*target)
            self._services = self._remote  # mypy checks it keeps the services' contracts
        else:
            self._embedded = Services(Workspace.open(workspace, self.settings), actor=actor)
            self._services = self._embedded

    @property
    def services(self) -> Services:
        """The embedded services (database, artifact store...); a client of a server has none."""
        return self._local("its services run on the server")

    @property
    def server(self) -> str | None:
        """The server's URL, or None when embedded."""
        return self._remote.server if self._remote is not None else None

    @property
    def workspace_path(self) -> Path:
        return self._local("it has no local workspace").workspace.root

    def _local(self, what: str) -> Services:
        if self._embedded is None:
            server = self._remote.server if self._remote is not None else "?"
            raise InvalidInput(f"this client talks to the server {server}; {what}")
        return self._embedded

    @cached_property
    def tokens(self) -> RemoteTokens | TokenService:
        """Tokens of the server (owner only), or of the local workspace's database (embedded)."""
        if self._remote is not None:
            return self._remote.tokens
        from batchpoint.tokens.service import TokenService

        services = self._local("its tokens are the server's")
        return TokenService(services.db, actor=services.actor or "local")

    def __getattr__(self, name: str) -> Any:
        """A noun's SDK operations (``client.models``...), built on first use from ``nouns.py`` and kept."""
        if name.startswith("_"):  # ``_services`` itself, before __init__ set it
            raise AttributeError(name)
        return build(self, name, "operations", self._services)

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
