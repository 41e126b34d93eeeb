"""A pipeline as its driver runs it: every step resolved to a stored component, every binding checked.

The plan is stored in the job row (``jobs.spec``) when the pipeline job is created, so that the
driver (and a resumed one) runs exactly what was validated, whatever happens to the registry since.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from batchpoint.pipelines.specs import PipelineSettings

PATH_TYPES = frozenset({"uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model"})
LITERAL_TYPES = frozenset({"string", "number", "integer", "boolean"})


class Binding(BaseModel):
    """What a step's input or output is bound to."""

    kind: Literal["parent_input", "parent_output", "step_output"]
    name: str
    """The pipeline's input or output, or the upstream step's output."""
    step: str | None = None
    """The upstream step (``step_output`` only)."""


class StepInput(BaseModel):
    type: str
    optional: bool = False
    binding: Binding | None = None
    resolved: dict[str, Any] | None = None
    """A ``ResolvedInput`` (``command_jobs/runspec.py``) given in the step itself; None with no binding: unset."""


class StepOutput(BaseModel):
    type: str = "uri_folder"
    mode: str | None = None
    parent_output: str | None = None
    """Bound to ``${{parent.outputs.<name>}}``: the pipeline's output is this one."""
    path: str | None = None
    """An explicit local path given in the step."""


class StepPlan(BaseModel):
    name: str
    type: Literal["command", "parallel"] = "command"
    component: str
    """The stored component's id (``azureml:NAME:VERSION``)."""
    component_hash: str
    deterministic: bool = True
    inputs: dict[str, StepInput] = Field(default_factory=dict)
    outputs: dict[str, StepOutput] = Field(default_factory=dict)
    compute: str | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    force_rerun: bool = False
    parallel: dict[str, Any] | None = None
    """A parallel step's run settings (``components/parallel.py: ParallelSettings``), the step's overrides applied."""


class PipelinePlan(BaseModel):
    """What ``jobs.spec`` holds for a ``pipeline`` job."""

    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    component: str | None = None
    """The pipeline component it runs (a pipeline deployment's), if any."""
    inputs: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    """The pipeline's inputs as ``ResolvedInput`` dumps; None: an optional input left unset."""
    outputs: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    """The pipeline's outputs: a ``ResolvedOutput`` dump when its path is given, else None (the bound step's)."""
    output_types: dict[str, str] = Field(default_factory=dict)
    steps: dict[str, StepPlan]
    order: list[str]
    """The steps in a dependency order (for display; the driver starts whatever is ready)."""
    settings: PipelineSettings = Field(default_factory=PipelineSettings)
