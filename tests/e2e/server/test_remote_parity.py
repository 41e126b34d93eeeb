"""The SDK against a server does what it does embedded: one scenario, run both ways, compared.

The scenario uses the Azure ML example files (a compute, an environment with a conda file, a data
asset, an MLflow model, endpoints, a deployment with an inline model, code and environment) and
the mistakes users make. Results and errors (class, field, message) must be the same, but for what
necessarily differs: timestamps, who created what, where uploaded files sit on the server.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from batchpoint import Client
from batchpoint.errors import BatchpointError, InvalidInput
from batchpoint.workspace import init_workspace

from .conftest import Server, ServerFactory

DATA = Path(__file__).resolve().parents[2] / "data"
VOLATILE = {"created_at", "updated_at", "created_by", "source", "scoring_uri", "path_on_server"}


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return _plain(call())
    except BatchpointError as exc:
        return {"error": type(exc).__name__, "field": exc.field, "message": exc.message}


class _Loosely:
    """A step whose error may differ in wording only: an absolute path that exists nowhere is, remotely,
    a path of the server (refused as outside its input folders), embedded a missing local path."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call

    def __call__(self) -> Any:
        try:
            return _plain(self.call())
        except InvalidInput as exc:
            return {"error": "InvalidInput or a subclass", "field": exc.field}


def scenario(client: Client, files: Path) -> list[Any]:
    """Every step's result or error, in order."""
    az, reg = files / "azureml", files / "registry"
    heart, mnist = az / "heart-classifier-mlflow", az / "mnist-classifier" / "deployment-torch"
    steps: list[Callable[[], Any]] = [
        lambda: client.computes.create(file=reg / "computes" / "batch-cluster.yml"),
        lambda: client.computes.update("batch-cluster", max_instances=3),
        lambda: client.environments.create(file=reg / "environments" / "environment.yml"),
        lambda: client.environments.get("batch-sklearn"),
        lambda: {**_plain(client.data.create(file=reg / "data" / "heart-unlabeled.yml")), "path": "(differs)"},
        lambda: client.models.create(file=heart / "model.yml"),
        lambda: client.models.create("weights", str(mnist / "model" / "model.txt"), version="7", tags={"a": "1"}),
        lambda: client.models.list(),
        lambda: client.models.archive("weights"),
        lambda: client.models.list(include_archived=False),
        lambda: client.models.restore("weights", "7"),
        lambda: client.models.resolve("azureml:heart-classifier-mlflow@latest"),
        lambda: client.batch_endpoints.create_from_file(heart / "endpoint.yml"),
        lambda: client.batch_endpoints.create_from_file(None, name="mnist-batch"),
        lambda: client.batch_deployments.create_from_file(
            heart / "deployment-simple" / "deployment.yml", set_default=True
        ),
        lambda: client.batch_deployments.create_from_file(mnist / "deployment.yml", set_default=True),
        lambda: client.batch_deployments.update(
            "mnist-torch-dpl", "mnist-batch", overrides=[("settings.mini_batch_size", 5)]
        ),
        lambda: client.batch_deployments.update(
            "mnist-torch-dpl", "mnist-batch", overrides=[("code_configuration.code", str(mnist / "code"))]
        ),
        lambda: client.batch_endpoints.update("mnist-batch", overrides=[("description", "digits")]),
        lambda: client.batch_endpoints.get("heart-classifier-batch"),
        lambda: client.batch_deployments.route("mnist-batch"),
        lambda: client.batch_deployments.list("mnist-batch"),
        lambda: client.environments.list(),
        # the mistakes
        lambda: client.models.get("no-such-model"),
        lambda: client.models.get("weights", "99"),
        lambda: client.models.delete("mnist-classifier-torch", "1"),
        _Loosely(lambda: client.models.create("bad", str(files / "no-such-folder"))),
        lambda: client.models.create("Bad/Name", str(mnist / "model")),
        lambda: client.batch_endpoints.create_from_file(None, name="x"),
        lambda: client.batch_endpoints.create_from_file(heart / "endpoint.yml"),
        lambda: client.batch_deployments.create_from_file(
            mnist / "deployment.yml", overrides=[("settings.mini_batch_size", 0)]
        ),
        lambda: client.batch_deployments.delete("mnist-torch-dpl", "no-such-endpoint"),
        lambda: client.computes.delete("batch-cluster"),
        _Loosely(lambda: client.batch_endpoints.invoke("mnist-batch", input=str(files / "no-such-input"))),
        lambda: client.jobs.get("no-such-job"),
        # clean-up, in an order that works
        lambda: client.batch_deployments.delete("classifier-xgboost-mlflow", "heart-classifier-batch"),
        lambda: client.batch_endpoints.delete("mnist-batch"),
        lambda: client.models.delete("weights", "7"),
        lambda: client.batch_endpoints.list(),
    ]
    return [_outcome(step) for step in steps]


@pytest.fixture(scope="module")
def server(server_factory: ServerFactory) -> Server:
    return server_factory()


def test_the_sdk_through_a_server_behaves_as_embedded(server: Server, tmp_path: Path) -> None:
    files = tmp_path / "files"
    shutil.copytree(DATA, files)
    project = tmp_path / "embedded"
    project.mkdir()
    init_workspace(project)
    with Client(project) as embedded:
        local = scenario(embedded, files)
    with server.client() as remote:
        through_server = scenario(remote, files)
    assert len(local) == len(through_server)
    for i, (a, b) in enumerate(zip(local, through_server, strict=True)):
        assert a == b, f"step {i} differs:\nembedded: {a}\nserver:   {b}"
    errors = [r for r in local if isinstance(r, dict) and "error" in r]
    assert len(errors) >= 10
