"""The YAML of a pipeline job (Azure's ``pipelineJob.schema.json``), validated for shape only.

Steps stay mappings here: their shape depends on their ``type`` and on the component they name,
so ``graph.py`` reads them with the component in hand and names the step and field in every error.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from batchpoint.endpoints.specs import Tags

_SPEC = ConfigDict(extra="forbid")


class PipelineSettings(BaseModel):
    """``settings:`` of a pipeline job (and of a pipeline deployment)."""

    model_config = ConfigDict(extra="allow")  # Azure adds settings over time; unknown ones are ignored

    default_compute: str | None = None
    default_datastore: str | None = None
    continue_on_step_failure: bool = False
    force_rerun: bool = False


class PipelineJobSpec(BaseModel):
    """``type: pipeline`` job: its inputs and outputs (values), its settings and its ``jobs:`` (steps)."""

    model_config = _SPEC

    type: Literal["pipeline"] = "pipeline"
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: Tags = Field(default_factory=dict)
    experiment_name: str | None = None
    compute: str | None = None
    """Azure accepts a pipeline-level ``compute``: the default for steps that name none."""
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    settings: PipelineSettings = Field(default_factory=PipelineSettings)
    jobs: dict[str, dict[str, Any]]
    properties: dict[str, Any] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    """Accepted and ignored: everything runs as the workspace's user here."""
