"""``client.experiments``: the workspace's MLflow experiments (each job is a run of one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchpoint.runs.schemas import Experiment

if TYPE_CHECKING:
    from batchpoint.contracts import ServiceHub


class ExperimentOperations:
    """Experiments of one workspace; a job's metrics are ``client.jobs.get_metrics(name)``."""

    def __init__(self, services: ServiceHub) -> None:
        self._services = services

    def list(self) -> list[Experiment]:
        """Active experiments, oldest first, with their run counts."""
        return self._services.experiments.list_experiments()

    def get(self, name: str) -> Experiment:
        return self._services.experiments.get_experiment(name)

    show = get
