"""The endpoint services, under the import path the composition root uses.

The logic lives in ``endpoint_service`` and ``deployment_service``; this module only names them.
"""

from __future__ import annotations

from batchpoint.endpoints.deployment_service import BatchDeploymentService
from batchpoint.endpoints.endpoint_service import BatchEndpointService

__all__ = ["BatchDeploymentService", "BatchEndpointService"]
