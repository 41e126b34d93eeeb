"""`client.batch_endpoints` / `client.batch_deployments`: the SDK mirrors the services, with the same errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from batchpoint import Client, Conflict, InvalidInput, NotFound
from batchpoint.endpoints.settings import BatchDeploymentSettings
from batchpoint.endpoints.specs import (
    BatchEndpointSpec,
    CodeConfigurationSpec,
    ModelDeploymentSpec,
    PipelineDeploymentSpec,
)

DATA = Path(__file__).parents[1] / "data" / "azureml"
TORCH = "mnist-classifier/deployment-torch/deployment.yml"


@pytest.fixture
def azure(tmp_path: Path, client: Client) -> Path:
    target = tmp_path / "azureml"
    shutil.copytree(DATA, target)
    client.services.computes.create_from_file(target / "compute/batch-cluster.yml")
    return target


def test_spec_objects_create_the_same_things_as_files(client: Client, azure: Path) -> None:
    endpoint = client.batch_endpoints.create(BatchEndpointSpec(name="sdk-endpoint", tags={"team": "ml"}))
    assert endpoint.tags == {"team": "ml"} and endpoint.scoring_uri
    folder = azure / "mnist-classifier/deployment-torch"
    spec = ModelDeploymentSpec(
        name="sdk-dpl",
        endpoint_name="sdk-endpoint",
        model={"name": "sdk-model", "path": "model"},
        code_configuration=CodeConfigurationSpec(code="code", scoring_script="batch_driver.py"),
        compute="batch-cluster",
        settings=BatchDeploymentSettings(mini_batch_size=3),
    )
    deployment = client.batch_deployments.create(spec, base_dir=folder, set_default=True)
    assert deployment.model == "azureml:sdk-model:1" and deployment.is_default
    assert deployment.settings is not None and deployment.settings.mini_batch_size == 3
    hello = azure / "deploy-pipelines/hello-batch/hello-component/hello.yml"
    client.components.create(hello)
    client.components.create(hello, version="2", overrides=[("display_name", "v2")])
    pipeline = PipelineDeploymentSpec(
        name="sdk-pipeline", endpoint_name="sdk-endpoint", type="pipeline", component="azureml:hello_batch:2"
    )
    assert client.batch_deployments.create(pipeline).component == "azureml:hello_batch:2"
    assert [d.name for d in client.batch_deployments.list("sdk-endpoint")] == ["sdk-dpl", "sdk-pipeline"]
    assert client.batch_endpoints.get("sdk-endpoint").deployments == ["sdk-dpl", "sdk-pipeline"]


def test_overrides_in_every_form(client: Client, azure: Path) -> None:
    client.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml", overrides={"description": "d1"})
    deployment = client.batch_deployments.create_from_file(
        azure / TORCH, overrides=["settings.mini_batch_size=4", "resources.instance_count=2"]
    )
    assert deployment.settings is not None
    assert (deployment.settings.mini_batch_size, deployment.settings.instance_count) == (4, 2)
    updated = client.batch_deployments.update(
        "mnist-torch-dpl", "mnist-batch", overrides=[("settings.retry_settings.timeout", 90)], set_default=True
    )
    assert updated.settings is not None and updated.settings.retry_settings.timeout == 90
    assert updated.settings.mini_batch_size == 4 and updated.is_default
    assert client.batch_endpoints.update("mnist-batch", overrides={"tags.owner": "me"}).tags["owner"] == "me"


def test_routing_invoke_and_list_jobs(client: Client, azure: Path, tmp_path: Path) -> None:
    client.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml")
    with pytest.raises(Conflict, match="No valid deployments to route to"):
        client.batch_deployments.route("mnist-batch")
    client.batch_deployments.create_from_file(azure / TORCH)
    with pytest.raises(Conflict, match="No valid deployments to route to"):
        client.batch_endpoints.invoke("mnist-batch", input=str(tmp_path), start=False)
    assert client.batch_deployments.route("mnist-batch", "mnist-torch-dpl").name == "mnist-torch-dpl"
    client.batch_endpoints.update("mnist-batch", overrides=[("defaults.deployment_name", "mnist-torch-dpl")])
    data = tmp_path / "inputs"
    data.mkdir()
    (data / "a.txt").write_text("a")
    job = client.batch_endpoints.invoke("mnist-batch", input=str(data), start=False)
    assert [j.name for j in client.batch_endpoints.list_jobs("mnist-batch")] == [job.name]
    assert [j.name for j in client.batch_deployments.list_jobs("mnist-torch-dpl", "mnist-batch")] == [job.name]
    with pytest.raises(NotFound):
        client.batch_deployments.route("mnist-batch", "green")


def test_errors_are_the_same_classes(client: Client, azure: Path) -> None:
    with pytest.raises(NotFound) as info:
        client.batch_deployments.create_from_file(azure / TORCH)
    assert info.value.field == "endpoint_name"
    client.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml")
    with pytest.raises(InvalidInput) as bad:
        client.batch_deployments.create_from_file(azure / TORCH, name="x" * 40)
    assert bad.value.field == "name"
    # Creating it again updates it, as az ml batch-endpoint create does.
    assert client.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml").name == "mnist-batch"
    client.batch_deployments.create_from_file(azure / TORCH)
    client.batch_deployments.delete("mnist-torch-dpl", "mnist-batch")
    with pytest.raises(NotFound):
        client.batch_deployments.get("mnist-torch-dpl", "mnist-batch")
    client.batch_endpoints.delete("mnist-batch")
    assert client.batch_endpoints.list() == []
