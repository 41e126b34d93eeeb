"""`batchpoint batch-endpoint` / `batch-deployment` through the real console script.

Registry assets (the cluster, the MLflow model) are set up through the SDK to keep the number of
subprocesses, and so the run time, small; everything about endpoints goes through the CLI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from batchpoint import Client

DATA = Path(__file__).parents[2] / "data" / "azureml"
TORCH = "mnist-classifier/deployment-torch/deployment.yml"
LEGACY = "mnist-classifier/deployment-legacy/deployment.yml"


@pytest.fixture
def azure(tmp_path: Path) -> Path:
    target = tmp_path / "azureml"
    shutil.copytree(DATA, target)
    return target


@pytest.fixture
def ready(client: Client, azure: Path) -> Path:
    """The cluster, the MLflow model and every example endpoint exist."""
    client.services.computes.create_from_file(azure / "compute/batch-cluster.yml")
    client.services.models.create_from_file(azure / "heart-classifier-mlflow/model.yml")
    client.services.components.create_from_file(azure / "deploy-pipelines/hello-batch/hello-component/hello.yml")
    for endpoint in (
        "mnist-classifier",
        "heart-classifier-mlflow",
        "deploy-pipelines/hello-batch",
        "deploy-pipelines/batch-scoring-with-preprocessing",
    ):
        client.batch_endpoints.create_from_file(azure / endpoint / "endpoint.yml")
    return azure


def _json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_endpoint_and_deployment_lifecycle(cli: Any, client: Client, azure: Path) -> None:
    client.services.computes.create_from_file(azure / "compute/batch-cluster.yml")
    endpoint = _json(cli("batch-endpoint", "create", "-f", str(azure / "mnist-classifier/endpoint.yml")))
    assert endpoint["name"] == "mnist-batch" and endpoint["defaults"] == {"deployment_name": None}

    torch = _json(
        cli(
            "batch-deployment", "create", "--file", str(azure / TORCH), "--set-default",
            "--set", "settings.mini_batch_size=20", "--set", "settings.environment_variables.MODE=fast",
        )
    )  # fmt: skip
    assert torch["is_default"] and torch["model"] == "azureml:mnist-classifier-torch:1"
    assert torch["settings"]["mini_batch_size"] == 20
    assert torch["settings"]["environment_variables"] == {"MODE": "fast"}

    legacy = cli("batch-deployment", "create", "-f", str(azure / LEGACY), "-e", "mnist-batch", "-n", "legacy-two")
    assert _json(legacy)["name"] == "legacy-two" and not _json(legacy)["is_default"]

    listed = cli("batch-deployment", "list", "--endpoint-name", "mnist-batch", "-o", "table")
    assert "legacy-two" in listed.stdout and "mnist-torch-dpl" in listed.stdout

    switched = cli("batch-endpoint", "update", "-n", "mnist-batch", "--set", "defaults.deployment_name=legacy-two")
    assert _json(switched)["defaults"]["deployment_name"] == "legacy-two"

    refused = cli(
        "batch-deployment", "delete", "--name", "legacy-two", "--endpoint-name", "mnist-batch", "--yes", check=False
    )
    assert refused.returncode == 2 and "is the default" in refused.stderr
    assert "defaults.deployment_name=mnist-torch-dpl" in refused.stderr and "Traceback" not in refused.output

    cli("batch-deployment", "delete", "-n", "mnist-torch-dpl", "-e", "mnist-batch", "--yes")
    shown = yaml.safe_load(cli("batch-endpoint", "show", "-n", "mnist-batch", "-o", "yaml").stdout)
    assert shown["deployments"] == ["legacy-two"] and shown["defaults"]["deployment_name"] == "legacy-two"

    cli("batch-endpoint", "delete", "-n", "mnist-batch", "--yes")
    assert [e.name for e in client.services.batch_endpoints.list()] == []
    cli("batch-endpoint", "create", "-n", "bare-endpoint")  # az allows a name alone
    assert [e["name"] for e in _json(cli("batch-endpoint", "list"))] == ["bare-endpoint"]


def test_code_edits_reach_the_deployment_only_through_update(cli: Any, client: Client, ready: Path) -> None:
    created = client.batch_deployments.create_from_file(ready / TORCH).model_dump()
    script = ready / "mnist-classifier/deployment-torch/code/batch_driver.py"
    script.write_text(script.read_text() + "\n# v2\n")
    query = ("--query", "code_configuration.code", "-o", "tsv")
    shown = cli("batch-deployment", "show", "-n", "mnist-torch-dpl", "-e", "mnist-batch", *query)
    assert shown.stdout.strip() == created["code_configuration"]["code"]
    updated = cli("batch-deployment", "update", "-f", str(ready / TORCH), *query)
    assert updated.stdout.strip().startswith("snapshot:")
    assert updated.stdout.strip() != created["code_configuration"]["code"]


CASES = {
    "mnist-torch-dpl": (TORCH, "mnist-batch"),
    "mnist-legacy-dpl": (LEGACY, "mnist-batch"),
    "classifier-xgboost-mlflow": ("heart-classifier-mlflow/deployment-simple/deployment.yml", "heart-classifier-batch"),
    "hello-batch-dpl": ("deploy-pipelines/hello-batch/deployment.yml", "hello-pipeline-batch"),
    "uci-classifier-prepros-xgb": (
        "deploy-pipelines/batch-scoring-with-preprocessing/deployment.yml",
        "uci-classifier-batch",
    ),
}


def test_azure_files_round_trip_through_show_yaml(cli: Any, client: Client, ready: Path) -> None:
    for file, _ in CASES.values():
        client.batch_deployments.create_from_file(ready / file)
    shown: dict[str, Any] = {}
    for endpoint in sorted({endpoint for _, endpoint in CASES.values()}):
        if endpoint == "mnist-batch":  # `show` for one, `list` (same shape) for the others
            for name in ("mnist-torch-dpl", "mnist-legacy-dpl"):
                out = cli("batch-deployment", "show", "-n", name, "-e", endpoint, "-o", "yaml").stdout
                shown[name] = yaml.safe_load(out)
        else:
            for item in yaml.safe_load(cli("batch-deployment", "list", "-e", endpoint, "-o", "yaml").stdout):
                shown[item["name"]] = item
    for name, (file, _) in CASES.items():
        _compare(shown[name], yaml.safe_load((ready / file).read_text()))


def _compare(shown: dict[str, Any], source: dict[str, Any]) -> None:
    assert (shown["name"], shown["endpoint_name"]) == (source["name"], source["endpoint_name"])
    assert shown["type"] == source.get("type", "model")
    if shown["type"] == "pipeline":
        assert shown["pipeline_settings"] == source["settings"]
        # a registered component is pinned to the version it resolved to; a local file is snapshotted
        pinned = source["component"].replace("@latest", ":1")
        assert shown["component"] == pinned or shown["component"].endswith("/pipeline.yml")
        return
    assert shown["compute"] == source["compute"].removeprefix("azureml:")
    settings = source.get("settings") or source  # the legacy form keeps its settings at the root
    for key in ("mini_batch_size", "max_concurrency_per_instance", "output_file_name", "error_threshold"):
        assert shown["settings"][key] == settings[key], (shown["name"], key)
    assert shown["settings"]["retry_settings"] == settings["retry_settings"]
    assert shown["settings"]["instance_count"] == source["resources"]["instance_count"]
    assert shown["model"].startswith("azureml:") and shown["model"].count(":") == 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--set", "settings.mini_bach_size=3"], "field 'settings.mini_bach_size': unknown field"),
        (["--set", "settings.mini_batch_size=ten"], "field 'settings.mini_batch_size': expected an integer"),
        (["DROP", "endpoint_name"], "field 'endpoint_name': expected a value (the field is required)"),
        (["--set", "compute=azureml:gpu-cluster"], "field 'compute': 'azureml:gpu-cluster'"),
    ],
)
def test_bad_deployment_input_is_one_clear_message(
    cli: Any, client: Client, ready: Path, args: list[str], words: str
) -> None:
    if args[0] == "DROP":  # a required field missing from the file itself
        data = yaml.safe_load((ready / TORCH).read_text())
        del data[args[1]]
        (ready / TORCH).write_text(yaml.safe_dump(data))
        args = []
    result = cli("batch-deployment", "create", "-f", str(ready / TORCH), *args, check=False)
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    assert str(ready / TORCH) in result.stderr and words in result.stderr, result.stderr
    assert client.batch_deployments.list("mnist-batch") == []


def test_malformed_yaml_missing_endpoint_and_duplicate(cli: Any, client: Client, ready: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\n  settings: [\n")
    result = cli("batch-deployment", "create", "-f", str(bad), check=False)
    assert result.returncode == 2 and "malformed YAML" in result.stderr and str(bad) in result.stderr
    client.batch_deployments.create_from_file(ready / TORCH)
    # Creating it again updates it, as az ml batch-deployment create does (see tests/e2e/cli/test_az_output.py).
    again = cli("batch-deployment", "create", "-f", str(ready / TORCH), "--set", "description=again")
    assert json.loads(again.stdout)["description"] == "again"
    missing = cli("batch-deployment", "show", "-n", "nope-dpl", "-e", "mnist-batch", check=False)
    assert missing.returncode == 2 and "not found" in missing.stderr
