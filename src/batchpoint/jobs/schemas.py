"""Job states, the spec a driver runs from, and the typed ``Job`` the SDK returns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from batchpoint.endpoints.settings import BatchDeploymentSettings


class JobState(StrEnum):
    """Job lifecycle: Queued → Preparing → Running → Finalizing → Completed | Failed | Canceled."""

    queued = "Queued"
    preparing = "Preparing"
    running = "Running"
    finalizing = "Finalizing"
    cancel_requested = "CancelRequested"
    completed = "Completed"
    failed = "Failed"
    canceled = "Canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobState.completed, JobState.failed, JobState.canceled})


class MiniBatchState(StrEnum):
    pending = "pending"
    leased = "leased"
    done = "done"
    failed = "failed"


class JobInput(BaseModel):
    type: str = "uri_folder"
    path: str = ""
    """What the user gave (a path, a glob, ``azureml:data@latest``, a datastore URI); empty for a literal."""
    resolved: str = ""
    """The local file, folder or glob pattern the planner lists (a command job: the path the command gets)."""
    value: str | None = None
    """A literal input's text (``string``, ``number``, ``integer``, ``boolean`` inputs of command jobs)."""


class JobOutput(BaseModel):
    type: str = "uri_folder"
    path: str
    """The output folder (``score``)."""
    file: str | None = None
    """The append_row file inside it."""
    uri: str | None = None


class RunSpec(BaseModel):
    """Everything a driver needs to run a job, frozen at invoke time (stored in ``jobs.spec``)."""

    deployment: dict[str, Any]
    model: dict[str, Any] | None = None
    code_manifest: str | None = None
    scoring_script: str | None = None
    builtin_scorer: str | None = None
    compute: dict[str, Any] = Field(default_factory=dict)
    environment: str | None = None
    settings: BatchDeploymentSettings
    input: JobInput
    output: JobOutput
    program_arguments: list[str] = Field(default_factory=list)
    mini_batch_bytes: int | None = None
    """Mini-batches by size: files grouped until they reach this many bytes (``settings.mini_batch_size`` unused)."""
    mini_batch_error_threshold: int = -1
    """Failed mini-batches tolerated before the job fails; -1: any number (a parallel step's setting)."""
    step: str | None = None
    """The pipeline step this job runs (a parallel step: a pipeline's child job)."""
    component: str | None = None
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """A pipeline step's named outputs (``ResolvedOutput`` dumps), which downstream steps read."""


class Counts(BaseModel):
    total: int = 0
    done: int = 0
    failed: int = 0
    pending: int = 0


class ItemCounts(BaseModel):
    total: int = 0
    succeeded: int = 0
    failed: int = 0


class Progress(BaseModel):
    mini_batches: Counts = Field(default_factory=Counts)
    items: ItemCounts = Field(default_factory=ItemCounts)
    retries: int = 0
    rate_items_per_second: float | None = None
    eta_seconds: float | None = None


class DriverInfo(BaseModel):
    pid: int | None = None
    host: str | None = None
    epoch: int = 0
    heartbeat_age_seconds: float | None = None
    alive: bool = False
    lost: bool = False


class JobEvent(BaseModel):
    """One transition of the job's state machine (``jobs/lifecycle.py``), as recorded."""

    at: datetime | None = None
    actor: str
    """user, driver or supervisor."""
    action: str
    from_state: str | None = None
    to_state: str
    epoch: int
    detail: str | None = None


class JobStep(BaseModel):
    """One step of a pipeline job, as ``job show`` of the pipeline lists it (in dependency order)."""

    name: str
    status: str = "NotStarted"
    job: str | None = None
    """Its child job (``job show -n`` it for the logs); the latest attempt."""
    component: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    reused_from: str | None = None
    """The completed job whose outputs this step reused (step reuse), if it did."""
    failure_reason: str | None = None


class Job(BaseModel):
    """A batch job as ``batchpoint job show`` reports it."""

    name: str
    type: str = "batch"
    status: JobState
    endpoint_name: str | None = None
    deployment_name: str | None = None
    experiment_name: str | None = None
    parent_job_name: str | None = None
    """The job this one is a step of (a pipeline's child jobs)."""
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, JobOutput] = Field(default_factory=dict)
    settings: BatchDeploymentSettings | None = None
    progress: Progress = Field(default_factory=Progress)
    error: dict[str, Any] | None = None
    failure_reason: str | None = None
    message: str | None = None
    """The state in plain words (why it failed, that its driver is lost, ...)."""
    driver: DriverInfo = Field(default_factory=DriverInfo)
    environment: dict[str, Any] | None = None
    logs_path: str | None = None
    invoked_by: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: float | None = None
    steps: list[JobStep] = Field(default_factory=list)
    """A pipeline job's steps and their states (``job show`` only; empty for other kinds and in lists)."""
    history: list[JobEvent] = Field(default_factory=list)
    """The job's transitions, oldest first (``job show`` only; empty in lists)."""
    run_id: str | None = None
    """The job's MLflow run (``docs/runs.md``); None when it could not be recorded."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """The latest value of each metric of the job's run (``job show`` only; ``jobs.get_metrics`` has the history)."""
    params: dict[str, str] = Field(default_factory=dict)
    """The params of the job's run: literal inputs, or a batch job's settings (``job show`` only)."""
