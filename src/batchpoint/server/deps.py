"""What routes get through FastAPI dependencies: the server context, the caller, services, permission checks.

Every route declares one ``Action`` with ``allow(...)`` (or ``allow_on_endpoint(...)`` for routes
under ``/batch-endpoints/{endpoint_name}``); the dependency returns the caller or answers 403.
Path parameters are validated by the same name rules the services use, so a name that could never
exist (``..``, ``a/b``, NUL) is a 422 naming the parameter before any lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request
from pydantic import AfterValidator, BaseModel

from batchpoint.common import names
from batchpoint.config import Settings
from batchpoint.errors import InvalidInput, Unauthorized
from batchpoint.server.metrics import Metrics
from batchpoint.server.middleware import PRINCIPAL
from batchpoint.server.paths import PathPolicy
from batchpoint.services import Services
from batchpoint.supervisor.job_queue import JobQueue
from batchpoint.supervisor.service import Supervisor
from batchpoint.tokens.auth import Action, Principal, Role, mask_secrets
from batchpoint.tokens.service import TokenService
from batchpoint.workspace import Workspace

T = TypeVar("T")


@dataclass
class ServerContext:
    """Everything one app holds: built in ``create_app``, opened and closed by its lifespan."""

    settings: Settings
    workspace: Workspace
    tokens: TokenService
    metrics: Metrics
    supervisor: Supervisor | None = None
    """The server's duties (``batchpoint.supervisor``); None when the app runs without jobs."""
    roots: list[FsPath] = field(default_factory=list)

    def services(self, actor: str | None) -> Services:
        return Services(self.workspace, actor=actor)

    @property
    def queue(self) -> JobQueue | None:
        """The supervisor's job-queue duty (None when the app runs without jobs)."""
        return self.supervisor.find("job-queue", JobQueue) if self.supervisor is not None else None

    def jobs_changed(self) -> None:
        """A job was queued, canceled or resumed: the job queue looks now rather than at its next pass."""
        queue = self.queue
        if queue is not None:
            queue.notify()


def context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


def caller(request: Request) -> Principal:
    principal = request.scope.get(PRINCIPAL)
    if not isinstance(principal, Principal):  # the gate runs first; this is only a safety net
        raise Unauthorized("a bearer token is required")
    return principal


Context = Annotated[ServerContext, Depends(context)]
Caller = Annotated[Principal, Depends(caller)]


def allow(action: Action) -> Callable[[Principal], Principal]:
    """A dependency: the caller, if its token allows ``action`` on global resources."""

    def check(principal: Caller) -> Principal:
        principal.require(action)
        return principal

    check.__name__ = f"allow_{action.value}"
    return check


def allow_on_endpoint(action: Action) -> Callable[..., Principal]:
    """A dependency: the caller, if its token allows ``action`` on the endpoint named in the path."""

    def check(principal: Caller, endpoint_name: Annotated[str, Path()]) -> Principal:
        principal.require(action, endpoint=endpoint_name)
        return principal

    check.__name__ = f"allow_{action.value}_on_endpoint"
    return check


def services(ctx: Context, principal: Caller) -> Services:
    return ctx.services(principal.actor)


def policy(ctx: Context, svc: Annotated[Services, Depends(services)], principal: Caller) -> PathPolicy:
    return PathPolicy(svc, ctx.roots, principal)


Svc = Annotated[Services, Depends(services)]
Paths = Annotated[PathPolicy, Depends(policy)]


def present(principal: Principal, obj: T) -> T:
    """What a caller may see: environment variable values are masked for readers and invoke-only tokens."""
    if principal.role is not Role.reader and not principal.invoke_only:
        return obj
    if isinstance(obj, list):
        return [present(principal, o) for o in obj]  # type: ignore[return-value]
    if isinstance(obj, BaseModel):
        return type(obj).model_validate(mask_secrets(obj.model_dump(mode="json")))
    return obj


# -- path parameters ---------------------------------------------------------------------------------
def name_rule(check: Callable[[object, str], str], label: str) -> Callable[[str], str]:
    """A pydantic validator from one of ``common.names``' rules (a broken rule is a 422 naming ``label``)."""

    def validate(value: str) -> str:
        try:
            return check(value, label)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    return validate


def _job_name(value: object, label: str) -> str:
    return names.job_name(value, label)


AssetName = Annotated[str, Path(max_length=255), AfterValidator(name_rule(names.asset_name, "name"))]
Version = Annotated[str, Path(max_length=64), AfterValidator(name_rule(names.version, "version"))]
EndpointName = Annotated[str, Path(max_length=32), AfterValidator(name_rule(names.endpoint_name, "endpoint_name"))]
DeploymentName = Annotated[str, Path(max_length=32), AfterValidator(name_rule(names.endpoint_name, "name"))]
JobName = Annotated[str, Path(max_length=128), AfterValidator(name_rule(_job_name, "name"))]
