"""Routes: each parses HTTP, calls one service method, and returns its pydantic object.

The nouns' routers come from ``nouns.py`` (one entry per noun); the rest are the server's own.
"""

from __future__ import annotations

from fastapi import APIRouter

from batchpoint.nouns import NOUNS, load
from batchpoint.server.routes import azure, system, tokens, uploads

API_PREFIX = "/api/v1"


def all_routers() -> list[tuple[APIRouter, str]]:
    """(router, prefix) pairs in the order they are mounted."""
    nouns = [load(n.routes).router for n in NOUNS if n.routes]
    return [
        (system.public, ""),
        (system.router, API_PREFIX),
        *[(router, API_PREFIX) for router in [*nouns, tokens.router, uploads.router]],
        (azure.router, ""),
    ]
