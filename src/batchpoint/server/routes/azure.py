"""The Azure ML batch endpoint data plane, as Azure clients call it.

``POST /endpoints/batch/{endpoint}/jobs`` takes Azure's body as is::

    {"properties": {"InputData": {"heart_data": {"JobInputType": "UriFolder", "Uri": "azureml://datastores/..."}},
                    "OutputData": {"score": {"JobOutputType": "UriFolder", "Uri": "azureml://datastores/..."}},
                    "properties": {"experimentName": "..."}}}

with the optional ``azureml-model-deployment`` header naming the deployment. The legacy body
``{"properties": {"dataset": {"dataInputType": "DataUrl", "Path": ...}}}`` works too. The answer
carries ``id`` (``.../jobs/<job name>``); poll ``GET <scoringUri>/<job name>`` for
``properties.status`` (Queued, Preparing, Running, Finalizing, Completed, Failed, Canceled).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query

from batchpoint.common import validation
from batchpoint.errors import InvalidInput, NotFound
from batchpoint.jobs.invoke import InvokeRequest
from batchpoint.jobs.schemas import Job
from batchpoint.server import quotas
from batchpoint.server.deps import Context, EndpointName, JobName, Paths, Svc, allow_on_endpoint
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.schemas import AzureInvoke, AzureJob
from batchpoint.tokens.auth import Action, Principal

router = APIRouter(prefix="/endpoints/batch/{endpoint_name}/jobs", tags=["azure data plane"], responses=ERROR_RESPONSES)
Invoker = Annotated[Principal, Depends(allow_on_endpoint(Action.invoke))]
EndpointJobReader = Annotated[Principal, Depends(allow_on_endpoint(Action.job_read))]

_ARM_DATASTORE = re.compile(
    r"^(?:azureml:/)?/subscriptions/[^/]+/resource[gG]roups/.+?/datastores/(?P<ds>[^/]+)/paths/(?P<p>.*)$"
)
_ASSET = re.compile(r"/data/(?P<name>[^/]+)/versions/(?:labels/(?P<label>[^/]+)|(?P<version>[^/]+))/?$")
_TYPES = {"urifolder": "uri_folder", "urifile": "uri_file"}
LITERAL_REFUSED = (
    "The specified job input type 'LiteralJobInput' is not supported. The supported types are: "
    "UriFileJobInput, UriFolderJobInput."
)


def azure_uri(value: str) -> str:
    """Azure's spellings of a location, as batchpoint names it (datastore URI or asset reference)."""
    match = _ARM_DATASTORE.match(value)
    if match:
        return f"azureml://datastores/{match.group('ds')}/paths/{match.group('p')}"
    if value.startswith(("azureml://locations/", "azureml://subscriptions/", "/subscriptions/")):
        asset = _ASSET.search(value)
        if asset:
            if asset.group("label"):
                return f"azureml:{asset.group('name')}@{asset.group('label')}"
            return f"azureml:{asset.group('name')}:{asset.group('version')}"
    return value


def _input(body: AzureInvoke) -> tuple[str, str | None, str]:
    """(input, input type, field) from InputData or the legacy dataset form."""
    props = body.properties
    data_inputs = []
    for name, item in (props.input_data or {}).items():
        kind = (item.job_input_type or "").lower()
        if kind == "literal":
            raise InvalidInput(LITERAL_REFUSED, field=f"properties.InputData.{name}.JobInputType")
        if kind not in _TYPES:
            raise InvalidInput(
                f"JobInputType '{item.job_input_type}' is not one of UriFolder, UriFile",
                field=f"properties.InputData.{name}.JobInputType",
            )
        if not item.uri:
            raise InvalidInput("Uri is required", field=f"properties.InputData.{name}.Uri")
        data_inputs.append((f"properties.InputData.{name}.Uri", azure_uri(item.uri), _TYPES[kind]))
    if not data_inputs and props.dataset is not None:
        dataset = props.dataset
        if dataset.dataset_name:
            version = f":{dataset.dataset_version}" if dataset.dataset_version else "@latest"
            return f"azureml:{dataset.dataset_name}{version}", None, "properties.dataset.dataset_name"
        if dataset.path:
            return azure_uri(dataset.path), None, "properties.dataset.path"
    if len(data_inputs) != 1:
        raise InvalidInput(
            f"a model deployment takes exactly one data input in properties.InputData, found {len(data_inputs)}",
            field="properties.InputData",
        )
    field, uri, kind = data_inputs[0]
    return uri, kind, field


def _output(body: AzureInvoke) -> tuple[str | None, str | None, str]:
    """(output folder, output file name, field) from OutputData."""
    outputs = list((body.properties.output_data or {}).items())
    if not outputs:
        return None, None, "properties.OutputData"
    if len(outputs) > 1:
        raise InvalidInput("a model deployment has one output ('score')", field="properties.OutputData")
    name, item = outputs[0]
    field = f"properties.OutputData.{name}.Uri"
    if not item.uri:
        raise InvalidInput("Uri is required", field=field)
    uri = azure_uri(item.uri)
    if (item.job_output_type or "").lower() == "urifile":
        folder, _, file_name = uri.rstrip("/").rpartition("/")
        return folder, file_name, field
    return uri, None, field


def azure_job(job: Job) -> AzureJob:
    """A job in the shape Azure's data plane answers with."""
    data_input = job.inputs.get("input_data")
    output = job.outputs.get("score")
    iso = {
        k: (v.isoformat() if v else None)
        for k, v in (("c", job.created_at), ("s", job.started_at), ("e", job.ended_at))
    }
    properties: dict[str, Any] = {
        "status": job.status.value,
        "endpointName": job.endpoint_name,
        "deploymentName": job.deployment_name,
        "experimentName": job.experiment_name,
        "createdDateTime": iso["c"],
        "startDateTime": iso["s"],
        "endDateTime": iso["e"],
        "message": job.message,
        "errorMessage": job.failure_reason,
        "progress": job.progress.model_dump(mode="json"),
        "InputData": {
            "input_data": {
                "JobInputType": "UriFile" if data_input and data_input.type == "uri_file" else "UriFolder",
                "Uri": data_input.path if data_input else None,
            }
        },
        "OutputData": {"score": {"JobOutputType": "UriFolder", "Uri": (output.uri or output.path) if output else None}},
    }
    return AzureJob(
        id=f"/endpoints/batch/{job.endpoint_name}/jobs/{job.name}",
        name=job.name,
        status=job.status.value,
        properties=properties,
    )


@router.post("", response_model=AzureJob, status_code=202)
def azure_invoke(
    endpoint_name: EndpointName,
    body: AzureInvoke,
    ctx: Context,
    svc: Svc,
    paths: Paths,
    who: Invoker,
    deployment: Annotated[str | None, Header(alias="azureml-model-deployment", max_length=64)] = None,
) -> AzureJob:
    """Invoke the endpoint with Azure's REST body (and ``azureml-model-deployment`` header)."""
    quotas.check_active_jobs(svc, who, ctx.settings.serving)
    source, input_type, input_field = _input(body)
    folder, file_name, output_field = _output(body)
    experiment = (body.properties.properties or {}).get("experimentName")
    request = validation.parse(
        InvokeRequest,
        {
            "input": source,
            "input_type": input_type,
            "deployment_name": deployment or None,
            "output_path": folder,
            "experiment_name": experiment if isinstance(experiment, str) else None,
            "overrides": [("output_file_name", file_name)] if file_name else None,
        },
    )
    request = paths.spec(request, fields={"input": input_field, "output_path": output_field})
    job = svc.jobs.invoke(endpoint_name, request, start=False, data_plane_only=who.invoke_only)
    ctx.jobs_changed()
    return azure_job(job)


@router.get("", response_model=list[AzureJob])
def azure_list_jobs(
    endpoint_name: EndpointName, svc: Svc, who: EndpointJobReader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AzureJob]:
    """The endpoint's jobs, newest first (for an invoke-only token: the jobs it started)."""
    svc.batch_endpoints.get(endpoint_name)
    invoked_by = who.actor if who.invoke_only else None
    return [azure_job(j) for j in svc.jobs.list(endpoint_name=endpoint_name, invoked_by=invoked_by, limit=limit)]


@router.get("/{job_name}", response_model=AzureJob)
def azure_get_job(endpoint_name: EndpointName, job_name: JobName, svc: Svc, who: EndpointJobReader) -> AzureJob:
    """A job of the endpoint; read ``properties.status``."""
    job = svc.jobs.get(job_name)
    if job.endpoint_name != endpoint_name or not who.sees_job(job.endpoint_name, job.invoked_by):
        raise NotFound(f"job '{job_name}' does not exist for batch endpoint '{endpoint_name}'", field="job_name")
    return azure_job(job)
