"""``create_app(settings)``: the composition root of the server.

It opens the workspace (SQLite or PostgreSQL metadata, per ``settings.database_url``), wires the
token service, the metrics registry, the middleware (metrics, authentication gate, request limits),
the error handlers and the routes. Its lifespan creates the owner token on the first start and runs
the supervisor's ``server`` duties (``batchpoint.supervisor``): the job queue, which also restarts
the jobs a previous run left behind. Nothing is created at import time; two apps in one process
share nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from batchpoint._version import __version__
from batchpoint.config import Settings
from batchpoint.errors import InvalidInput
from batchpoint.runs.tracking import artifact_root
from batchpoint.server import errors
from batchpoint.server.deps import ServerContext
from batchpoint.server.guards import FailureLimiter, HostGate, allowed_hosts
from batchpoint.server.metrics import Metrics
from batchpoint.server.middleware import AuthGate, MetricsMiddleware, RequestLimits
from batchpoint.server.mlflow_api import ROUTE_TEMPLATES, MlflowPaths
from batchpoint.server.mlflow_backend import MlflowBackend
from batchpoint.server.routes import all_routers
from batchpoint.server.scrub import Scrubber, ScrubPaths, server_folders
from batchpoint.supervisor.job_queue import parse_limits
from batchpoint.supervisor.service import DutyContext, Supervisor
from batchpoint.tokens.service import TokenService
from batchpoint.workspace import Workspace

DESCRIPTION = """\
batchpoint's REST API: models, environments, data, computes, batch endpoints and deployments,
batch jobs, tokens. Every route but `GET /health` needs `Authorization: Bearer <token>`.
Errors are `{"error": {"code", "message", "field"?, "hint"?}}`. The Azure ML batch data plane
(`POST /endpoints/batch/{endpoint}/jobs`) is accepted as Azure clients send it.
"""


def _announce(token: str) -> None:
    sys.stderr.write(
        "\nbatchpoint: created the first owner token. It is shown ONCE; store it now:\n\n"
        f"    {token}\n\n"
        "Log in with: batchpoint login --server URL --token <token>\n\n"
    )
    sys.stderr.flush()


def input_roots(settings: Settings, workspace: Workspace) -> list[Path]:
    """The folders invokes may read from: the configured ones and always the workspace's datastores."""
    configured = [Path(p).expanduser() for p in (settings.serving.input_roots or "").split(os.pathsep) if p.strip()]
    workspace_root = workspace.layout.root.resolve()
    for root in configured:
        if not root.is_absolute():
            raise InvalidInput(f"'{root}' is not an absolute path", field="BATCHPOINT_SERVER_INPUT_ROOTS")
        resolved = root.resolve()
        if resolved == workspace_root or resolved in workspace_root.parents:
            # Jobs could then read the metadata database (tokens) and every job's folder.
            raise InvalidInput(
                f"'{root}' holds the workspace folder; allow folders beside it, not above it",
                field="BATCHPOINT_SERVER_INPUT_ROOTS",
            )
    return [workspace.layout.datastores, *configured]


def create_app(
    settings: Settings | None = None,
    *,
    workspace: Path | str | None = None,
    bootstrap_token: str | None = None,
    run_jobs: bool = True,
    announce: Callable[[str], None] = _announce,
) -> FastAPI:
    """Build the server for one workspace.

    Args:
        settings: process settings (default: read from ``BATCHPOINT_*``).
        workspace: the workspace folder (default: ``settings.workspace`` or found from the cwd).
        bootstrap_token: the owner token to store on the first start (else one is generated and announced).
        run_jobs: run the supervisor and its job queue (tests of the API alone turn it off).
        announce: called with a generated owner token, once.
    """
    settings = settings or Settings()
    parse_limits(settings.serving.compute_concurrency)  # a typo fails the start, not the first job
    opened = Workspace.open(workspace, settings)
    ctx = ServerContext(
        settings=settings,
        workspace=opened,
        tokens=TokenService(opened.db),
        metrics=Metrics(opened.db, lambda: queue.waiting if (queue := ctx.queue) else 0),
        roots=input_roots(settings, opened),
    )

    # MLflow's REST handlers run in a process of their own, started on the first MLflow request.
    mlflow_backend = MlflowBackend(opened.layout.root, artifact_root(ctx.services("server")))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        generated = ctx.tokens.bootstrap(bootstrap_token)
        if generated:
            announce(generated)
        if run_jobs:
            duties = DutyContext(services=ctx.services("server"), settings=settings, mode="server")
            ctx.supervisor = Supervisor.build("server", duties)
            ctx.supervisor.start()
        try:
            yield
        finally:
            if ctx.supervisor is not None:
                ctx.supervisor.stop()
            mlflow_backend.close()
            opened.close()

    app = FastAPI(
        title="batchpoint",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,  # one URL per resource: "/jobs/" is not "/jobs"
    )
    app.state.ctx = ctx
    errors.install(app)
    for router, prefix in all_routers():
        app.include_router(router, prefix=prefix)
    serving = settings.serving
    app.add_middleware(ScrubPaths, make=lambda: _scrubber(ctx))
    app.add_middleware(
        RequestLimits,
        max_body=serving.max_body_bytes,
        max_upload=serving.max_upload_bytes,
        max_depth=serving.max_json_depth,
    )
    limiter = FailureLimiter(serving.auth_failure_limit, serving.auth_failure_window_seconds)
    app.add_middleware(AuthGate, verify=ctx.tokens.verify, on_failure=ctx.metrics.auth_failed, limiter=limiter)
    # MLflow's REST paths (the tracking API, the artifact proxy) answer here, before the FastAPI stack.
    app.add_middleware(
        MlflowPaths,
        backend=mlflow_backend,
        verify=ctx.tokens.verify,
        on_failure=ctx.metrics.auth_failed,
        limiter=limiter,
        max_body=serving.max_body_bytes,
        max_upload=serving.max_upload_bytes,
        scrubber=lambda: _scrubber(ctx),
    )
    app.add_middleware(HostGate, allowed=allowed_hosts(serving.allowed_hosts, serving.host))
    templates = {
        id(route): prefix + getattr(route, "path", "") for router, prefix in all_routers() for route in router.routes
    }
    templates.update(ROUTE_TEMPLATES)
    app.add_middleware(MetricsMiddleware, observe=ctx.metrics.observe, templates=templates)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _scrubber(ctx: ServerContext) -> Scrubber:
    datastores = [(d.name, d.root) for d in ctx.services("server").datastores.list()]
    return Scrubber(server_folders(ctx.workspace.layout.root, datastores))


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes, servers=None
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "a batchpoint token: bp_<id>_<secret>"}
    }
    schema["security"] = [{"bearer": []}]
    for operations in schema["paths"].values():
        for operation in operations.values():
            _json_errors(operation.get("responses", {}))
    health = schema["paths"].get("/health", {}).get("get")
    if health is not None:
        health["security"] = []
    app.openapi_schema = schema
    return schema


def _json_errors(responses: dict[str, Any]) -> None:
    """Error answers are JSON on every route, also where the success answer is text or a file."""
    for status, response in responses.items():
        if not status.startswith(("4", "5")):
            continue
        schemas = [media.get("schema") for media in response.get("content", {}).values()]
        error = next((s for s in schemas if s and str(s.get("$ref", "")).endswith("/ErrorBody")), None)
        if error is not None:
            response["content"] = {"application/json": {"schema": error}}
