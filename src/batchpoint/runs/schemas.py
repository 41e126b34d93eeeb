"""What the SDK returns for experiments and a job's metrics."""

from __future__ import annotations

from pydantic import BaseModel


class Experiment(BaseModel):
    """An MLflow experiment of the workspace (jobs name theirs with ``experiment_name``)."""

    experiment_id: str
    name: str
    artifact_location: str | None = None
    lifecycle_stage: str = "active"
    creation_time: int | None = None
    """Milliseconds since the epoch, as MLflow records it."""
    last_update_time: int | None = None
    run_count: int = 0


class MetricPoint(BaseModel):
    """One logged value of a metric."""

    step: int
    timestamp: int
    """Milliseconds since the epoch."""
    value: float
