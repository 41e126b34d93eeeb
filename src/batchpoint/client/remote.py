"""The SDK over HTTP: objects with the services' method names and signatures, talking to a server.

``Client(server=URL, token=T)`` hands a ``RemoteServices`` to the same operations classes the
embedded client uses, so ``client.models.create(...)`` or ``client.batch_endpoints.invoke(...)``
behave the same either way, return the same pydantic objects, and raise the same exceptions
(rebuilt from the server's JSON error with ``BatchpointError.from_dict``).

Files are the one real difference: the server cannot read the caller's disk. YAML files are read
here; a model file or folder, a code folder, a pipeline component folder, data given as a local
path, are uploaded first (``POST /api/v1/uploads``) and named by the URI the server returns.
Conda and requirements files are read here and sent inline. A path that does not exist here is
sent as it is, as a path of the server (which only accepts its allowed input folders).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from batchpoint.client.remote_endpoints import RemoteTokens
from batchpoint.client.transport import API, Transport
from batchpoint.nouns import NOUNS, load

if TYPE_CHECKING:
    from batchpoint.client.remote_components import RemoteComponents
    from batchpoint.client.remote_endpoints import RemoteBatchDeployments, RemoteBatchEndpoints, RemoteJobs
    from batchpoint.client.remote_registry import (
        RemoteComputes,
        RemoteData,
        RemoteDatastores,
        RemoteEnvironments,
        RemoteModels,
    )
    from batchpoint.client.remote_runs import RemoteExperiments

__all__ = ["RemoteServices", "RemoteTokens", "Transport"]


class RemoteServices:
    """What ``Services`` offers the operations classes, over HTTP: one remote client per noun of ``nouns.py``."""

    # The nouns' remote clients, typed (built in __init__ from nouns.NOUNS).
    models: RemoteModels
    environments: RemoteEnvironments
    data: RemoteData
    computes: RemoteComputes
    datastores: RemoteDatastores
    batch_endpoints: RemoteBatchEndpoints
    batch_deployments: RemoteBatchDeployments
    jobs: RemoteJobs
    components: RemoteComponents
    experiments: RemoteExperiments

    def __init__(self, server: str, token: str | None, *, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = Transport(server, token, transport=transport)
        self.server = self.transport.server
        for entry in NOUNS:
            if entry.remote is not None:
                setattr(self, entry.attr, load(entry.remote)(self.transport))
        self.tokens = RemoteTokens(self.transport)

    def whoami(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.transport.json("GET", f"{API}/whoami")
        return answer

    def close(self) -> None:
        self.transport.close()
