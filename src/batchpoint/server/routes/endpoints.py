"""``/api/v1/batch-endpoints``: endpoints, invoking them, and their jobs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from batchpoint.common.text import shown
from batchpoint.endpoints.schemas import BatchDeployment, BatchEndpoint
from batchpoint.endpoints.specs import BatchEndpointSpec
from batchpoint.errors import InvalidInput
from batchpoint.jobs.invoke import InvokeRequest
from batchpoint.jobs.schemas import Job
from batchpoint.server import quotas
from batchpoint.server.deps import Context, EndpointName, Paths, Svc, allow, allow_on_endpoint, present
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.routes._specfile import spec_file
from batchpoint.server.schemas import EndpointUpdate
from batchpoint.tokens.auth import Action, Principal

router = APIRouter(prefix="/batch-endpoints", tags=["batch endpoints"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(allow(Action.read))]
Writer = Annotated[Principal, Depends(allow(Action.write))]
EndpointReader = Annotated[Principal, Depends(allow_on_endpoint(Action.read))]
EndpointWriter = Annotated[Principal, Depends(allow_on_endpoint(Action.write))]
EndpointDeleter = Annotated[Principal, Depends(allow_on_endpoint(Action.delete))]
Invoker = Annotated[Principal, Depends(allow_on_endpoint(Action.invoke))]
EndpointJobReader = Annotated[Principal, Depends(allow_on_endpoint(Action.job_read))]


def scoring_uri(request: Request, endpoint: BatchEndpoint) -> BatchEndpoint:
    """The server's own URL for the Azure-style data plane of the endpoint."""
    uri = f"{str(request.base_url).rstrip('/')}/endpoints/batch/{endpoint.name}/jobs"
    return endpoint.model_copy(update={"scoring_uri": uri})


@router.get("", response_model=list[BatchEndpoint])
def list_endpoints(request: Request, svc: Svc, who: Reader) -> list[BatchEndpoint]:
    return [scoring_uri(request, e) for e in svc.batch_endpoints.list()]


@router.post("", response_model=BatchEndpoint, status_code=201)
def create_endpoint(spec: BatchEndpointSpec, request: Request, svc: Svc, who: Writer) -> BatchEndpoint:
    """Create an endpoint (``endpoint.yml`` as JSON)."""
    return scoring_uri(request, svc.batch_endpoints.create(spec))


@router.get("/{endpoint_name}", response_model=BatchEndpoint)
def get_endpoint(endpoint_name: EndpointName, request: Request, svc: Svc, who: EndpointReader) -> BatchEndpoint:
    return scoring_uri(request, svc.batch_endpoints.get(endpoint_name))


@router.patch("/{endpoint_name}", response_model=BatchEndpoint)
def update_endpoint(
    endpoint_name: EndpointName, body: EndpointUpdate, request: Request, svc: Svc, who: EndpointWriter
) -> BatchEndpoint:
    """Replace the definition (``spec``) or change fields (``overrides``, e.g. ``defaults.deployment_name``)."""
    given = (body.spec or {}).get("name")
    if given is not None and given != endpoint_name:
        raise InvalidInput(
            f"the spec names endpoint '{shown(given, 64)}' but the request is for endpoint '{endpoint_name}'",
            field="spec.name",
        )
    with spec_file(svc, body.spec) as path:
        updated = svc.batch_endpoints.update(endpoint_name, overrides=list(body.overrides), path=path)
    return scoring_uri(request, updated)


@router.delete("/{endpoint_name}", status_code=204, response_class=Response)
def delete_endpoint(endpoint_name: EndpointName, svc: Svc, who: EndpointDeleter) -> Response:
    """Delete the endpoint and all its deployments."""
    svc.batch_endpoints.delete(endpoint_name)
    return Response(status_code=204)


@router.get("/{endpoint_name}/route", response_model=BatchDeployment)
def route(
    endpoint_name: EndpointName,
    svc: Svc,
    who: EndpointReader,
    deployment_name: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """The deployment an invocation would run on (the named one, else the default)."""
    return present(who, svc.batch_deployments.route(endpoint_name, deployment_name))


@router.post("/{endpoint_name}/jobs", response_model=Job, status_code=202)
def invoke(endpoint_name: EndpointName, body: InvokeRequest, ctx: Context, svc: Svc, paths: Paths, who: Invoker) -> Any:
    """Start a batch job; it waits in the server's queue (Queued) until its compute has a free slot.

    The body is the SDK's ``InvokeRequest``; ``input`` and ``output_path`` are checked as server paths.

    An invoke-only token may override only data-plane settings, within the deployment's bounds (403
    naming the parameter otherwise); every token has a limit of jobs queued or running (429).
    """
    quotas.check_active_jobs(svc, who, ctx.settings.serving)
    request = _checked_named(paths.spec(body), paths)
    job = svc.jobs.invoke(endpoint_name, request, start=False, data_plane_only=who.invoke_only)
    ctx.jobs_changed()
    return present(who, job)


def _checked_named(request: InvokeRequest, paths: Any) -> InvokeRequest:
    """A pipeline deployment's named inputs and outputs, checked as server paths like ``input``/``output_path``."""
    inputs, outputs = dict(request.inputs or {}), dict(request.outputs or {})
    for name, value in inputs.items():
        if isinstance(value, dict) and isinstance(value.get("path"), str):
            inputs[name] = {**value, "path": paths.invoke_input(value["path"], f"inputs.{name}.path")}
    for name, value in outputs.items():
        if isinstance(value, dict) and isinstance(value.get("path"), str):
            outputs[name] = {**value, "path": paths.output_path(value["path"], f"outputs.{name}.path")}
    for key, value in request.pairs():  # --set inputs.x.path=... / outputs.x.path=...
        if key.endswith(".path") and key.startswith("inputs."):
            paths.invoke_input(value, f"overrides.{key}")
        elif key.endswith(".path") and key.startswith("outputs."):
            paths.output_path(value, f"overrides.{key}")
    return request.model_copy(update={"inputs": inputs or request.inputs, "outputs": outputs or request.outputs})


@router.get("/{endpoint_name}/jobs", response_model=list[Job])
def list_endpoint_jobs(
    endpoint_name: EndpointName,
    svc: Svc,
    who: EndpointJobReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The endpoint's jobs, newest first (for an invoke-only token: the jobs it started)."""
    svc.batch_endpoints.get(endpoint_name)
    invoked_by = who.actor if who.invoke_only else None
    return present(who, svc.jobs.list(endpoint_name=endpoint_name, invoked_by=invoked_by, limit=limit))
