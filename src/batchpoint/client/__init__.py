"""The Python SDK: ``batchpoint.Client()`` with the same operations as the CLI.

``Client`` is imported on first use: importing a sibling module (``batchpoint.client.userconfig``,
which ``batchpoint login`` needs) must not load the services, the database layer and pydantic-settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchpoint.client.client import Client

__all__ = ["Client"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from batchpoint.client.client import Client

        return Client
    raise AttributeError(f"module 'batchpoint.client' has no attribute {name!r}")
