"""Typed objects the SDK returns for registry assets."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ModelType = Literal["custom_model", "mlflow_model", "triton_model"]


class Model(BaseModel):
    name: str
    version: str
    type: ModelType = "custom_model"
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    path: str
    """Base name of the registered file or folder; it sits right below ``AZUREML_MODEL_DIR``."""
    manifest: str
    size_bytes: int = 0
    flavors: dict[str, Any] = Field(default_factory=dict)
    stage: str | None = None
    archived: bool = False
    created_at: datetime | None = None
    created_by: str | None = None
    job_name: str | None = None
    """Lineage: the job whose output or logged artifacts this version was registered from."""
    run_id: str | None = None
    """Lineage: that job's MLflow run (or the run a ``runs:/`` path named)."""

    @property
    def id(self) -> str:
        return f"azureml:{self.name}:{self.version}"


class Environment(BaseModel):
    name: str
    version: str
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    image: str | None = None
    conda_file: dict[str, Any] | None = None
    pip_requirements: list[str] | None = None
    python_version: str | None = None
    spec_hash: str
    properties: dict[str, Any] = Field(default_factory=dict)
    build: dict[str, Any] | None = None
    """Recorded as given (a Docker build context); batchpoint builds from conda/pip definitions instead."""
    inference_config: dict[str, Any] | None = None
    archived: bool = False
    created_at: datetime | None = None
    created_by: str | None = None

    @property
    def id(self) -> str:
        return f"azureml:{self.name}:{self.version}"


class Data(BaseModel):
    name: str
    version: str
    type: Literal["uri_file", "uri_folder", "mltable"] = "uri_folder"
    path: str
    """An absolute local path, or an ``azureml://datastores/<name>/paths/<path>`` URI."""
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    archived: bool = False
    created_at: datetime | None = None
    created_by: str | None = None

    @property
    def id(self) -> str:
        return f"azureml:{self.name}:{self.version}"


class Compute(BaseModel):
    name: str
    type: Literal["local", "amlcompute", "ray"] = "local"
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    min_instances: int = 0
    max_instances: int = 1
    address: str | None = None
    resources: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class Datastore(BaseModel):
    name: str
    type: Literal["local"] = "local"
    root: str
    description: str | None = None
    is_default: bool = False
