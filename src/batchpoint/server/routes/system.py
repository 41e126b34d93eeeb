"""Health (the only public route, GET and HEAD), the supervisor's duties (owners), Prometheus metrics, who-am-I, OpenAPI.

``GET /health`` answers ``{"status": "ok"}`` to everyone and says nothing else. The health of the
server's supervisor duties (the job queue) is ``GET /api/v1/supervisor``, behind the same token check
(and its failure limiter) as every other route, for owner tokens only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from batchpoint.server.deps import Context, allow
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.metrics import CONTENT_TYPE
from batchpoint.server.schemas import Health, WhoAmI
from batchpoint.supervisor.schemas import SupervisorHealth
from batchpoint.tokens.auth import Action, Principal

public = APIRouter(tags=["system"])
router = APIRouter(tags=["system"], responses=ERROR_RESPONSES)


def _database_reachable(ctx: Context) -> bool:
    try:
        ctx.workspace.db.ping()
    except Exception:
        return False
    return True


@public.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(ctx: Context) -> Any:
    """Liveness and database reachability; needs no token and says nothing else."""
    if not _database_reachable(ctx):
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return Health(status="ok")


@router.get("/supervisor", response_model=SupervisorHealth)
def supervisor(ctx: Context, _: Annotated[Principal, Depends(allow(Action.admin))]) -> Any:
    """The server's supervisor: its duties (the job queue) and the health of each (owner tokens)."""
    return ctx.supervisor.report() if ctx.supervisor is not None else SupervisorHealth(mode="none")


# Load balancers and uptime probes often send HEAD. Left out of the OpenAPI document: the document
# marks only GET /health as public, and a HEAD operation there would be declared as needing a token.
@public.head("/health", response_class=Response, include_in_schema=False)
def health_head(ctx: Context) -> Response:
    """The same check as GET /health: 200 or 503, no body."""
    return Response(status_code=200 if _database_reachable(ctx) else 503)


@public.get(
    "/metrics",
    response_class=Response,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}, "description": "Prometheus text"},
    },
)
def metrics(ctx: Context, _: Annotated[Principal, Depends(allow(Action.read))]) -> Response:
    """Prometheus metrics: requests, jobs by state, mini-batches scored, failures."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/whoami", response_model=WhoAmI)
def whoami(principal: Annotated[Principal, Depends(allow(Action.authenticated))]) -> WhoAmI:
    """The token's identity, role and scope."""
    return WhoAmI(
        token_id=principal.token_id,
        name=principal.name,
        role=principal.role.value,
        endpoint=principal.endpoint,
        invoke_only=principal.invoke_only,
        actor=principal.actor,
    )


@router.get("/openapi.json", response_model=dict[str, Any])
def openapi(request: Request, _: Annotated[Principal, Depends(allow(Action.authenticated))]) -> Any:
    """This API's OpenAPI document."""
    return request.app.openapi()
