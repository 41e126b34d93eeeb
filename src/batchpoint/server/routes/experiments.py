"""``/api/v1/experiments`` and ``/api/v1/jobs/{name}/metrics``: experiments and the metrics of a job's run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import AfterValidator

from batchpoint.runs.schemas import Experiment, MetricPoint
from batchpoint.server.deps import JobName, Svc, allow
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.routes.jobs import visible_job
from batchpoint.tokens.auth import Action, Principal


def _experiment_name(value: str) -> str:
    if "\x00" in value:
        from batchpoint.errors import InvalidInput

        raise InvalidInput("an experiment name has no NUL character", field="name")
    return value


router = APIRouter(tags=["experiments"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(allow(Action.read))]
JobReader = Annotated[Principal, Depends(allow(Action.job_read))]
ExperimentName = Annotated[str, Path(min_length=1, max_length=256), AfterValidator(_experiment_name)]


@router.get("/experiments", response_model=list[Experiment])
def list_experiments(svc: Svc, who: Reader) -> list[Experiment]:
    return svc.experiments.list_experiments()


@router.get("/experiments/{name}", response_model=Experiment)
def get_experiment(name: ExperimentName, svc: Svc, who: Reader) -> Experiment:
    return svc.experiments.get_experiment(name)


@router.get("/jobs/{name}/metrics", response_model=dict[str, list[MetricPoint]])
def job_metrics(name: JobName, svc: Svc, who: JobReader) -> dict[str, list[MetricPoint]]:
    """The metric histories of the job's MLflow run, if the caller may see the job."""
    visible_job(svc, who, name)
    return svc.experiments.job_metrics(name)
