"""Job kinds: what a job's ``type`` column names, and the runner its driver hands the job to.

The lifecycle around a job is the same for every kind (``jobs/service.py``: create, states, cancel,
resume, logs, show/list/stream, download; ``launcher/``: starting its driver; ``supervisor/``:
queueing and restarting it). What differs is how a driver runs it, which is a ``JobKind``:

    class CommandJob:
        type = "command"
        def run(self, ctx, job, epoch, prestarted): ...   # returns the final JobState

Registering a kind is one entry in ``KINDS`` below (and, for a kind that ``job create -f`` makes
from a YAML file, one in ``CREATORS``) (the runner's module is imported only when a
driver runs a job of that kind, so the CLI and the server do not pay for kinds they do not run).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from batchpoint.errors import InvalidInput

if TYPE_CHECKING:
    from batchpoint.executors.launch import Launched
    from batchpoint.jobs.schemas import JobState
    from batchpoint.services import Services

KINDS: dict[str, str] = {
    "batch": "batchpoint.batch.kind:BatchJob",
    "command": "batchpoint.command_jobs.kind:CommandJob",
    "pipeline": "batchpoint.pipelines.kind:PipelineJob",
}
"""Job type → ``module:Class`` of its runner."""

CREATORS: dict[str, str] = {
    "command": "batchpoint.command_jobs.service:create_command_job",
    "pipeline": "batchpoint.pipelines.service:create_pipeline_job",
}
"""YAML ``type`` → ``module:function`` that creates such a job from its YAML (``job create -f``; see
``jobs/creation.py``): ``fn(ctx, data, *, base_dir, file, name, start) -> Job``. Batch jobs are made
by invoking an endpoint, not here."""


@dataclass(frozen=True)
class DriverJob:
    """The job a driver was started for, as the driver finds it in the database."""

    id: int
    name: str
    type: str
    parent_job_name: str | None


class JobKind(Protocol):
    type: str

    def run(self, ctx: Services, job: DriverJob, epoch: int, prestarted: list[Launched]) -> JobState:
        """Run the job to a final state (or return early when a newer driver took over)."""
        ...


def kind_of(job_type: str) -> JobKind:
    target = KINDS.get(job_type)
    if target is None:
        known = ", ".join(sorted(KINDS))
        raise InvalidInput(f"unknown job type '{job_type}' (this batchpoint runs: {known})", field="type")
    module, _, name = target.partition(":")
    kind: JobKind = getattr(importlib.import_module(module), name)()
    return kind
