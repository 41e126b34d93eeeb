"""Routes: each parses HTTP, calls one service method, and returns its pydantic object."""

from __future__ import annotations

from fastapi import APIRouter

from batchpoint.server.routes import (
    azure,
    computes,
    data,
    datastores,
    deployments,
    endpoints,
    environments,
    jobs,
    models,
    system,
    tokens,
    uploads,
)

API_PREFIX = "/api/v1"


def all_routers() -> list[tuple[APIRouter, str]]:
    """(router, prefix) pairs in the order they are mounted."""
    api = [models, environments, data, computes, datastores, endpoints, deployments, jobs, tokens, uploads]
    return [
        (system.public, ""),
        (system.router, API_PREFIX),
        *[(module.router, API_PREFIX) for module in api],
        (azure.router, ""),
    ]
