"""The runs service over HTTP (``/api/v1/experiments``, ``/api/v1/jobs/{name}/metrics``)."""

from __future__ import annotations

import builtins

from pydantic import TypeAdapter

from batchpoint.client.transport import API, Transport, q
from batchpoint.runs.schemas import Experiment, MetricPoint

_HISTORY = TypeAdapter(dict[str, builtins.list[MetricPoint]])


class RemoteExperiments:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def list_experiments(self) -> builtins.list[Experiment]:
        return self.t.get_list(Experiment, f"{API}/experiments")

    def get_experiment(self, name: str) -> Experiment:
        return self.t.get(Experiment, f"{API}/experiments/{q(name)}")

    def job_metrics(self, job_name: str) -> dict[str, builtins.list[MetricPoint]]:
        return _HISTORY.validate_python(self.t.json("GET", f"{API}/jobs/{q(job_name)}/metrics"))
