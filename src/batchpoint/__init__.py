"""batchpoint: self-hosted ML batch inference with Azure ML style batch endpoints, deployments and jobs."""

from batchpoint._version import __version__
from batchpoint.client import Client
from batchpoint.errors import BatchpointError, Conflict, InvalidInput, JobFailed, NotFound

__all__ = ["BatchpointError", "Client", "Conflict", "InvalidInput", "JobFailed", "NotFound", "__version__"]
