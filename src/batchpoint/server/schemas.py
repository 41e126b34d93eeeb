"""Request and response bodies of the REST API that are not the services' own schemas.

Registry specs (``ModelSpec``, ``DataSpec``, ``EnvironmentSpec``, ``ComputeSpec``) and the endpoint
spec are request bodies as they are: the same fields as the YAML files. Deployments travel as the
mapping of their YAML file (``spec``), because the file has three shapes (model, legacy, pipeline).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from batchpoint.endpoints.specs import BatchEndpointSpec
from batchpoint.jobs.invoke import InvokeRequest

__all__ = ["InvokeRequest"]  # ``batch-endpoint invoke``'s body is the service's own request (``jobs/invoke.py``)

_STRICT = ConfigDict(extra="forbid")
Pair = tuple[str, Any]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]


class WhoAmI(BaseModel):
    token_id: str
    name: str | None = None
    role: str
    endpoint: str | None = None
    invoke_only: bool = False
    actor: str


class ComputeUpdate(BaseModel):
    model_config = _STRICT

    description: str | None = None
    tags: dict[str, str] | None = None
    min_instances: int | None = None
    max_instances: int | None = None
    address: str | None = None
    resources: dict[str, float] | None = None


class DatastoreCreate(BaseModel):
    model_config = _STRICT

    name: str = Field(max_length=255)
    root: str = Field(max_length=4096)
    """An absolute folder on the server, inside the allowed input roots."""
    description: str | None = Field(None, max_length=4096)


class EndpointCreate(BatchEndpointSpec):
    """``endpoint.yml`` as JSON."""


class EndpointUpdate(BaseModel):
    model_config = _STRICT

    spec: dict[str, Any] | None = None
    """The new definition (an ``endpoint.yml`` as JSON); without it, ``overrides`` change the stored one."""
    overrides: list[Pair] = Field(default_factory=list, max_length=100)


class DeploymentCreate(BaseModel):
    model_config = _STRICT

    spec: dict[str, Any]
    """A ``deployment.yml`` as JSON; local paths must be uploads or datastore URIs."""
    set_default: bool = False


class DeploymentUpdate(BaseModel):
    model_config = _STRICT

    spec: dict[str, Any] | None = None
    overrides: list[Pair] = Field(default_factory=list, max_length=100)
    set_default: bool = False


class TokenCreate(BaseModel):
    model_config = _STRICT

    role: Literal["owner", "contributor", "reader"] = "contributor"
    name: str | None = Field(None, max_length=100)
    endpoint: str | None = Field(None, max_length=64)
    invoke_only: bool = False
    expires: str | None = Field(None, max_length=16)
    """``30d``, ``12h``, ``15m``, ``2w`` (at most ``3650d``); none: never."""
    grants: list[str] | None = Field(None, max_length=20)
    """Datastore paths an endpoint-scoped token may read from and write job outputs to
    (``azureml://datastores/<name>/paths/<folder>/``)."""


class Upload(BaseModel):
    """An upload, stored in the default datastore: name it by ``uri`` in specs and invokes."""

    id: str
    name: str
    uri: str
    files: int
    size_bytes: int


# -- Azure ML batch endpoint data plane --------------------------------------------------------------
_AZURE = ConfigDict(extra="allow", populate_by_name=True)


class AzureInput(BaseModel):
    model_config = _AZURE

    job_input_type: str | None = Field(None, alias="JobInputType", max_length=64)
    uri: str | None = Field(None, alias="Uri", max_length=4096)
    value: Any = Field(None, alias="Value")


class AzureOutput(BaseModel):
    model_config = _AZURE

    job_output_type: str | None = Field(None, alias="JobOutputType", max_length=64)
    uri: str | None = Field(None, alias="Uri", max_length=4096)


class AzureDataset(BaseModel):
    """The legacy body: ``{"properties": {"dataset": {"dataInputType": "DataUrl", "Path": ...}}}``."""

    model_config = _AZURE

    data_input_type: str | None = Field(None, alias="dataInputType", max_length=64)
    path: str | None = Field(None, alias="Path", max_length=4096)
    dataset_name: str | None = Field(None, alias="datasetName", max_length=255)
    dataset_version: str | None = Field(None, alias="datasetVersion", max_length=64)


class AzureJobProperties(BaseModel):
    model_config = _AZURE

    input_data: dict[str, AzureInput] | None = Field(None, alias="InputData")
    output_data: dict[str, AzureOutput] | None = Field(None, alias="OutputData")
    dataset: AzureDataset | None = None
    properties: dict[str, Any] | None = None


class AzureInvoke(BaseModel):
    """What ``POST <scoringUri>`` takes on Azure ML's batch endpoint data plane."""

    model_config = _AZURE

    properties: AzureJobProperties


class AzureJob(BaseModel):
    """A batch job as the Azure data plane answers: poll ``GET <scoringUri>/<id suffix>`` for ``properties.status``."""

    id: str
    name: str
    type: str = "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs"
    status: str
    properties: dict[str, Any]
