"""What the SDK returns for a component: its resolved, stored definition."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from batchpoint.components.specs import InputPort, OutputPort


class Component(BaseModel):
    name: str
    version: str
    type: Literal["command", "parallel", "pipeline"] = "command"
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, InputPort] = Field(default_factory=dict)
    outputs: dict[str, OutputPort] = Field(default_factory=dict)
    code: str | None = None
    """``snapshot:<sha>``: the code folder as it was when the component was registered."""
    command: str | None = None
    """The command template (``${{inputs.x}}``, ``$[[...]]``), as written."""
    environment: str | None = None
    """The environment's id (``azureml:NAME:VERSION``); None: batchpoint's own interpreter."""
    environment_variables: dict[str, str] = Field(default_factory=dict)
    is_deterministic: bool = True
    resources: dict[str, Any] | None = None
    """Recorded as given (Azure's instance counts and types)."""
    jobs: dict[str, dict[str, Any]] | None = None
    """A pipeline component's steps, each with its ``component:`` pinned to an ``azureml:NAME:VERSION`` id."""
    settings: dict[str, Any] | None = None
    parallel: dict[str, Any] | None = None
    """A parallel component's run settings (``components/parallel.py: ParallelSettings``)."""
    content_hash: str
    """sha256 of what decides what runs: ports, command, code, environment, variables, steps."""
    anonymous: bool = False
    """Made from a local file or an inline definition in a pipeline; hidden from listings."""
    archived: bool = False
    created_at: datetime | None = None
    created_by: str | None = None

    @property
    def id(self) -> str:
        return f"azureml:{self.name}:{self.version}"
