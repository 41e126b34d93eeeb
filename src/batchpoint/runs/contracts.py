"""What the runs service offers the SDK's operations, embedded (``runs/service.py``) or over HTTP
(``client/remote_runs.py``)."""

from __future__ import annotations

import builtins
from typing import Protocol

from batchpoint.runs.schemas import Experiment, MetricPoint


class ExperimentContract(Protocol):
    def list_experiments(self) -> builtins.list[Experiment]: ...
    def get_experiment(self, name: str) -> Experiment: ...
    def job_metrics(self, job_name: str) -> dict[str, builtins.list[MetricPoint]]: ...
