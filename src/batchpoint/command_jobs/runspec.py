"""What a command job's driver runs, frozen when the job is created (stored in ``jobs.spec``).

The pipeline engine builds a ``CommandRunSpec`` itself for each step (from the step's component and
its resolved inputs and outputs) and hands it to ``CommandJobService.create_run``; a standalone
command job (``job create -f job.yml``) gets one from ``CommandJobService.create_from_spec``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

PATH_TYPES = frozenset({"uri_file", "uri_folder", "mlflow_model", "custom_model", "mltable", "triton_model"})
"""Input types whose value is a file or folder (the others are literals)."""
LITERAL_TYPES = frozenset({"string", "number", "integer", "boolean"})


class ResolvedInput(BaseModel):
    """One input as the command sees it: a local path (path-typed) or a literal's text."""

    type: str
    uri: str | None = None
    """What the user gave (a path, ``azureml:data@latest``, a datastore URI), for ``job show``."""
    path: str | None = None
    """The local absolute file or folder (path-typed inputs)."""
    value: str | None = None
    """The literal's text as it appears in the command (``True``/``False`` for booleans)."""
    content_hash: str | None = None
    """sha256 of the content (the files' names and bytes, or the literal): a pipeline's step reuse keys on it."""

    @property
    def text(self) -> str | None:
        """What ``${{inputs.<name>}}`` becomes."""
        return self.path if self.path is not None else self.value


class ResolvedOutput(BaseModel):
    type: str = "uri_folder"
    path: str
    """The local folder (a ``uri_file`` output: the file) the command writes."""
    mode: str = "rw_mount"


class CommandRunSpec(BaseModel):
    command: str
    """The command template, ``${{inputs.x}}`` and all: rendered by the driver."""
    code: str | None = None
    """The code snapshot's manifest sha (``snapshot:`` prefix stripped)."""
    environment: str | None = None
    """The environment id ``azureml:NAME:VERSION``; None runs in batchpoint's interpreter."""
    compute: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, ResolvedInput] = Field(default_factory=dict)
    outputs: dict[str, ResolvedOutput] = Field(default_factory=dict)
    environment_variables: dict[str, str] = Field(default_factory=dict)
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    component: str | None = None
    """The component id when the job was made from one (a pipeline step)."""
    fingerprint: str | None = None
    """The step-reuse key of a pipeline step (``pipelines/reuse.py``)."""
    timeout_seconds: float | None = None
    """``limits.timeout``: the command is stopped and the job fails after this long."""
    step: str | None = None
    """The pipeline step this job runs (a pipeline's child job)."""
    reused_from: str | None = None
    """The completed job whose outputs this step reused instead of running (``pipelines/reuse.py``)."""
