"""A job's MLflow run through the team server: metrics and params on the job, metric histories, experiments."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from batchpoint.errors import NotFound

from .conftest import ServerFactory

pytest.importorskip("mlflow")

TRAIN = """\
import mlflow
for i, loss in enumerate([0.5, 0.25]):
    mlflow.log_metric("loss", loss, step=i)
"""


def test_a_jobs_run_metrics_and_experiments_through_the_server(server_factory: ServerFactory, tmp_path: Path) -> None:
    server = server_factory()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(TRAIN)
    spec = {
        "type": "command", "code": "src", "command": f"{sys.executable} train.py --lr ${{{{inputs.lr}}}}",
        "inputs": {"lr": 0.1}, "experiment_name": "remote-exp",
    }  # fmt: skip
    with server.client() as client:
        job = client.jobs.create(spec, base_dir=tmp_path)
        final = client.jobs.wait(job.name, timeout=120)
        assert final.status.value == "Completed", final.message
        shown = client.jobs.get(job.name)
        assert shown.run_id and shown.metrics == {"loss": 0.25} and shown.params == {"lr": "0.1"}
        history = client.jobs.get_metrics(job.name)
        assert [(p.step, p.value) for p in history["loss"]] == [(0, 0.5), (1, 0.25)]
        assert "remote-exp" in [e.name for e in client.experiments.list()]
        assert client.experiments.get("remote-exp").run_count == 1
        with pytest.raises(NotFound):
            client.experiments.get("no-such-experiment")
        with pytest.raises(NotFound):
            client.jobs.get_metrics("no-such-job")
