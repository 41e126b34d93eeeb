"""The registry through the Python SDK (``Client``), as a notebook user would call it."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint import Client
from batchpoint.errors import Conflict, InvalidInput, NotFound

DATA = Path(__file__).parents[1] / "data" / "registry"


def test_sdk_registers_every_asset_kind(client: Client, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workspace)
    model = client.models.create(file=DATA / "models" / "heart-mlflow" / "model.yml", version=5)
    assert (model.name, model.version, model.type, model.id) == (
        "heart-classifier-mlflow",
        "5",
        "mlflow_model",
        "azureml:heart-classifier-mlflow:5",
    )
    assert client.models.resolve("azureml:heart-classifier-mlflow@latest") == model
    model_dir = client.services.models.materialise(model)
    assert (model_dir / "model" / "MLmodel").is_file()
    downloaded = client.models.download(model.name, download_path=workspace / "dl")
    assert sorted(p.name for p in downloaded.iterdir()) == ["MLmodel", "conda.yaml", "model.pkl"]

    env = client.environments.create(file=DATA / "environments" / "environment.yml", overrides=[("version", "3")])
    assert env.version == "3" and env.conda_file and env.conda_file["name"] == "batch-sklearn"
    assert client.environments.resolve("batch-sklearn:3").spec_hash == env.spec_hash

    data = client.data.create(file=DATA / "data" / "heart-unlabeled.yml")
    assert Path(data.path, "heart-0.csv").is_file()
    uri_data = client.data.create("scratch", "azureml://datastores/workspaceblobstore/paths/")
    assert uri_data.path == "azureml://datastores/workspaceblobstore/paths/"

    compute = client.computes.create(file=DATA / "computes" / "batch-cluster.yml", name="cluster-2")
    assert compute.name == "cluster-2" and client.computes.resolve("azureml:cluster-2").max_instances == 5
    assert client.computes.update("cluster-2", max_instances=2).max_instances == 2


def test_sdk_errors_are_batchpoint_errors(client: Client, tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"w")
    client.models.create("m", tmp_path / "w.bin", version="1")
    with pytest.raises(Conflict):
        client.models.create("m", tmp_path / "w.bin", version="1")
    with pytest.raises(InvalidInput) as info:
        client.models.create("m", tmp_path / "w.bin", type="mlflow_model")
    assert info.value.field == "type"
    with pytest.raises(InvalidInput) as info:
        client.models.create(path=tmp_path)
    assert info.value.field == "name"
    with pytest.raises(NotFound):
        client.models.get("m", "2")
    with pytest.raises(NotFound):
        client.computes.get("gpu")
    with pytest.raises(InvalidInput):
        client.data.create("d", tmp_path / "w.bin", type="uri_folder")
    assert [m.version for m in client.models.list()] == ["1"] and client.data.list() == []
