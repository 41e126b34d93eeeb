"""``/api/v1/batch-endpoints/{endpoint_name}/deployments``: deployments behind an endpoint.

The spec is the ``deployment.yml`` mapping; its model, code and component paths must be uploads
(``azureml://datastores/workspaceblobstore/paths/uploads/...``, what the SDK sends) or datastore URIs.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response

from batchpoint.client.transport import WARNING_HEADER
from batchpoint.common.specpaths import override_names_path
from batchpoint.endpoints import script_check
from batchpoint.endpoints.schemas import BatchDeployment
from batchpoint.endpoints.specs import DeploymentSpec, parse_deployment
from batchpoint.errors import InvalidInput
from batchpoint.jobs.schemas import Job
from batchpoint.server.deps import DeploymentName, EndpointName, Paths, Svc, allow_on_endpoint, present
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.routes._specfile import spec_file
from batchpoint.server.schemas import DeploymentCreate, DeploymentUpdate
from batchpoint.tokens.auth import Action, Principal

router = APIRouter(
    prefix="/batch-endpoints/{endpoint_name}/deployments", tags=["batch deployments"], responses=ERROR_RESPONSES
)
Reader = Annotated[Principal, Depends(allow_on_endpoint(Action.read))]
Writer = Annotated[Principal, Depends(allow_on_endpoint(Action.write))]
Deleter = Annotated[Principal, Depends(allow_on_endpoint(Action.delete))]


def _same_endpoint(data: dict[str, Any], endpoint_name: str) -> dict[str, Any]:
    given = data.get("endpoint_name")
    if given is not None and given != endpoint_name:
        raise InvalidInput(
            f"the spec names endpoint '{given}' but the request is for endpoint '{endpoint_name}'",
            field="endpoint_name",
        )
    return {**data, "endpoint_name": endpoint_name}


def _refuse_file_override(key: str, value: Any) -> None:
    """Overrides that would name a file of the server (a ``SpecPath`` field of the deployment spec, or a
    mapping holding one); references and paths relative to another field (the scoring script) are fine."""
    if override_names_path(DeploymentSpec, key) is None:
        return
    if isinstance(value, str) and value.startswith("azureml:") and not value.startswith("azureml://"):
        return
    raise InvalidInput(
        f"'{key}' would name files on the server; send the whole deployment as 'spec' (the SDK does it for you)",
        field="overrides",
    )


@router.get("", response_model=list[BatchDeployment])
def list_deployments(endpoint_name: EndpointName, svc: Svc, who: Reader) -> Any:
    return present(who, svc.batch_deployments.list(endpoint_name))


@router.post("", response_model=BatchDeployment, status_code=201)
def create_deployment(
    endpoint_name: EndpointName, body: DeploymentCreate, svc: Svc, paths: Paths, who: Writer, response: Response
) -> Any:
    """Create a deployment: references pinned, code snapshotted, inline model and environment registered."""
    data = paths.deployment_spec(_same_endpoint(body.spec, endpoint_name))
    created = svc.batch_deployments.create(parse_deployment(data), base_dir=None, set_default=body.set_default)
    paths.discard_consumed()
    _pass_on_script_warning(svc, created, response)
    return present(who, created)


def _pass_on_script_warning(svc: Any, deployment: BatchDeployment, response: Response) -> None:
    """The client warns as an embedded create would, when the scoring script does not compile (a header)."""
    if deployment.code_configuration is None:
        return
    message = script_check.problem(svc.artifacts, deployment.code_configuration)
    if message is not None:
        response.headers[WARNING_HEADER] = quote(message)


@router.get("/{name}", response_model=BatchDeployment)
def get_deployment(endpoint_name: EndpointName, name: DeploymentName, svc: Svc, who: Reader) -> Any:
    return present(who, svc.batch_deployments.get(name, endpoint_name))


@router.patch("/{name}", response_model=BatchDeployment)
def update_deployment(
    endpoint_name: EndpointName,
    name: DeploymentName,
    body: DeploymentUpdate,
    svc: Svc,
    paths: Paths,
    who: Writer,
    response: Response,
) -> Any:
    """Replace the deployment (``spec``, code snapshotted again) or change fields of the stored one (``overrides``)."""
    data = None if body.spec is None else paths.deployment_spec(_same_endpoint(body.spec, endpoint_name))
    for key, value in body.overrides:
        _refuse_file_override(key, value)
    with spec_file(svc, data) as path:
        updated = svc.batch_deployments.update(
            name, endpoint_name, path=path, overrides=list(body.overrides), set_default=body.set_default
        )
    paths.discard_consumed()
    _pass_on_script_warning(svc, updated, response)
    return present(who, updated)


@router.delete("/{name}", status_code=204, response_class=Response)
def delete_deployment(endpoint_name: EndpointName, name: DeploymentName, svc: Svc, who: Deleter) -> Response:
    svc.batch_deployments.delete(name, endpoint_name)
    return Response(status_code=204)


@router.get("/{name}/jobs", response_model=list[Job])
def list_deployment_jobs(
    endpoint_name: EndpointName,
    name: DeploymentName,
    svc: Svc,
    who: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    svc.batch_deployments.get(name, endpoint_name)
    return present(who, svc.jobs.list(endpoint_name=endpoint_name, deployment_name=name, limit=limit))
