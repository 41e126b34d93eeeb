"""batchpoint: self-hosted ML batch inference with Azure ML style batch endpoints, deployments and jobs.

Imports are lazy on purpose: worker processes import ``batchpoint.runtime`` (standard library only)
under a deployment's own interpreter, which need not have batchpoint's dependencies installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchpoint._version import __version__

if TYPE_CHECKING:
    from batchpoint.client import Client
    from batchpoint.errors import BatchpointError, Conflict, InvalidInput, JobFailed, NotFound

__all__ = ["BatchpointError", "Client", "Conflict", "InvalidInput", "JobFailed", "NotFound", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from batchpoint.client import Client

        return Client
    if name in {"BatchpointError", "Conflict", "InvalidInput", "JobFailed", "NotFound"}:
        from batchpoint import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'batchpoint' has no attribute {name!r}")
