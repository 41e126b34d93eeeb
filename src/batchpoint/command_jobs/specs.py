"""The YAML of a command job (``commandJob.schema.json``), as ``batchpoint job create -f job.yml`` reads it.

Unknown keys are errors naming the key, like every other spec. Fields Azure uses for its clusters
(``resources``, ``distribution``, ``services``, ``identity``, ``queue_settings``) are accepted and
not used; of ``limits`` only ``timeout`` is honoured. Paths (``code``, an input's ``path``) are
relative to the YAML file's folder.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from batchpoint.common import names
from batchpoint.common.specpaths import SpecPath

InputType = Literal[
    "uri_file", "uri_folder", "mlflow_model", "custom_model", "mltable", "triton_model",
    "string", "number", "integer", "boolean",
]  # fmt: skip
OutputType = Literal["uri_folder", "uri_file", "mlflow_model", "custom_model", "mltable", "triton_model"]
Mode = Literal["ro_mount", "rw_mount", "download", "upload", "direct", "eval_mount", "eval_download"]
Literal_ = str | bool | int | float


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class InputSpec(_Spec):
    """``inputs.<name>`` as a mapping: ``{type, path, mode}`` (or ``{type: string, default: ...}``, ``value``)."""

    type: InputType = "uri_folder"
    path: Annotated[str | None, SpecPath(kind="any", refs=True)] = None
    mode: Mode | None = None
    value: Literal_ | None = None
    """A literal given as a mapping (``{type: number, value: 0.1}``)."""
    default: Literal_ | None = None
    optional: bool | None = None
    description: str | None = None
    datastore: str | None = None


class OutputSpec(_Spec):
    type: OutputType = "uri_folder"
    path: Annotated[str | None, SpecPath(kind="any", output=True)] = None
    mode: Mode | None = None
    description: str | None = None
    name: str | None = None
    version: str | None = None


class LimitsSpec(_Spec):
    timeout: int | float | None = None
    """Seconds."""


class CommandJobSpec(_Spec):
    type: Literal["command"] = "command"
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    experiment_name: str | None = None
    code: Annotated[str | None, SpecPath(kind="folder", local=True, snapshots=True)] = None
    command: str
    environment: str | dict[str, Any] | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    inputs: dict[str, Literal_ | InputSpec | None] = Field(default_factory=dict)
    outputs: dict[str, OutputSpec | None] = Field(default_factory=dict)
    limits: LimitsSpec | None = None
    resources: dict[str, Any] | None = None
    distribution: dict[str, Any] | None = None
    services: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    queue_settings: dict[str, Any] | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: Any) -> Any:
        return None if value is None else names.job_name(value, "name")

    @field_validator("tags", "environment_variables", mode="before")
    @classmethod
    def _text_values(cls, value: Any) -> Any:
        # Azure keeps both as text; YAML numbers and booleans are accepted and written as text.
        if not isinstance(value, dict):
            return value
        return {str(k): ("true" if v is True else "false" if v is False else "" if v is None else str(v))
                for k, v in value.items()}  # fmt: skip

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the command is empty")
        return value
