"""Typed objects the SDK returns for batch endpoints and deployments."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from batchpoint.endpoints.settings import BatchDeploymentSettings


def _no_default() -> dict[str, str | None]:
    return {"deployment_name": None}


class BatchEndpoint(BaseModel):
    name: str
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    auth_mode: str = "aad_token"
    defaults: dict[str, str | None] = Field(default_factory=_no_default)
    deployments: list[str] = Field(default_factory=list)
    scoring_uri: str | None = None
    provisioning_state: str = "Succeeded"
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def default_deployment(self) -> str | None:
        return self.defaults.get("deployment_name")


class CodeConfiguration(BaseModel):
    code: str
    """``snapshot:<manifest sha256>``: the code folder as it was when the deployment was created/updated."""
    scoring_script: str
    source: str | None = None
    """Where the code folder was taken from (informational)."""


class BatchDeployment(BaseModel):
    """A deployment as stored: references pinned to versions, code snapshotted."""

    name: str
    endpoint_name: str
    type: Literal["model", "pipeline"] = "model"
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    model: str | None = None
    """``azureml:NAME:VERSION`` of the registered model (``type: model``)."""
    code_configuration: CodeConfiguration | None = None
    environment: str | None = None
    """``azureml:NAME:VERSION``, ``model`` (the model's own environment), or None (batchpoint's interpreter)."""
    compute: str | None = None
    settings: BatchDeploymentSettings | None = None
    resources: dict[str, Any] = Field(default_factory=dict)
    """Per-worker ``cpu``, ``gpu`` and ``memory`` (bytes) for Ray computes."""
    component: str | None = None
    """``type: pipeline``: the pipeline component (a reference, or ``snapshot:<sha>`` of a local YAML)."""
    job_definition: str | None = None
    pipeline_settings: dict[str, Any] = Field(default_factory=dict)
    is_default: bool = False
    provisioning_state: str = "Succeeded"
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def model_name(self) -> str | None:
        return self.model.split(":")[1] if self.model else None

    @property
    def model_version(self) -> str | None:
        return self.model.split(":")[2] if self.model else None
