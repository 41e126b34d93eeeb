"""Fixtures for MLflow no-code deployments and isolated environments.

Models are saved at test time (iris, bundled with scikit-learn, so nothing is downloaded but
packages). Environments are built from PyPI with uv; uv's own cache makes later builds fast.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchpoint import Client
from batchpoint.common import yamlio
from batchpoint.jobs.schemas import Job
from batchpoint.workspace import init_workspace

SKLEARN_OLD = "1.1.3"
OLD_REQUIREMENTS = [f"scikit-learn=={SKLEARN_OLD}", "numpy<1.25"]
"""An old scikit-learn that has a cp311 wheel, with a NumPy it was built for."""


def iris() -> Any:
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True, return_X_y=True)


def save_iris_mlflow_model(folder: Path) -> Any:
    """An MLflow scikit-learn model with a column signature saved to ``folder``; returns the fitted estimator."""
    import mlflow.sklearn
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    x, y = iris()
    estimator = LogisticRegression(max_iter=500).fit(x, y)
    mlflow.sklearn.save_model(
        estimator,
        str(folder),
        signature=infer_signature(x, estimator.predict(x)),
        serialization_format="pickle",
        # Explicit requirements: inferring them runs the model in a subprocess, which is slow.
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    return estimator


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def read_errors(job_dir: Path) -> list[dict[str, Any]]:
    path = job_dir / "logs" / "errors.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Space:
    """A workspace with one endpoint; deployments are written as YAML and created through the SDK."""

    def __init__(self, root: Path) -> None:
        self.root = root
        init_workspace(root)
        self.client = Client(root)
        self.client.batch_endpoints.create_from_file(None, name="env-ep")

    def deploy(self, name: str, spec: dict[str, Any], files: dict[str, str] | None = None) -> str:
        """Write ``files`` (relative path → text) and ``deployment.yml`` under ``<root>/<name>``, then create it."""
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        for rel, text in (files or {}).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        body = {"name": name, "endpoint_name": "env-ep", "type": "model", **spec}
        (folder / "deployment.yml").write_text(yamlio.dumps(body))
        self.client.batch_deployments.create_from_file(folder / "deployment.yml")
        return name

    def run(self, deployment: str, data: Path, timeout: float = 540, **kwargs: Any) -> Job:
        job = self.client.batch_endpoints.invoke("env-ep", deployment_name=deployment, input=str(data), **kwargs)
        final = self.client.jobs.wait(job.name, timeout=timeout)
        assert final.status.terminal, f"job {job.name} did not end in {timeout} s: {final.message}"
        return final

    def job_dir(self, job: Job | str) -> Path:
        name = job if isinstance(job, str) else job.name
        return self.client.workspace_path / "jobs" / name

    def output(self, job: Job) -> list[dict[str, str]]:
        return read_rows(Path(job.outputs["score"].file or ""))

    def close(self) -> None:
        for job in self.client.jobs.list():
            if not job.status.terminal and job.driver.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(job.driver.pid, signal.SIGKILL)
        self.client.close()


@pytest.fixture
def space(tmp_path: Path) -> Iterator[Space]:
    s = Space(tmp_path / "ws")
    yield s
    s.close()


def cli_command(*args: str) -> tuple[list[str], dict[str, str]]:
    """The installed ``batchpoint`` command line and its environment."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("BATCHPOINT_WORKSPACE", None)
    return [str(Path(sys.executable).parent / "batchpoint"), *args], env


def run_cli(cwd: Path, *args: str, timeout: float = 540) -> Any:
    """Run ``batchpoint`` in ``cwd``; its JSON output parsed (fails on a non-zero exit)."""
    command, env = cli_command(*args)
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"batchpoint {' '.join(args)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return json.loads(proc.stdout)
