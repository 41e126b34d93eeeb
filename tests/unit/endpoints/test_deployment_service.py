"""BatchDeploymentService: pinning, code snapshots, both YAML forms, errors that leave nothing behind, routing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from batchpoint.common import yamlio
from batchpoint.errors import BatchpointError, Conflict, InvalidInput, NotFound
from batchpoint.services import Services
from batchpoint.store.tables import BatchDeploymentRow, EnvironmentRow, ModelRow

TORCH = "mnist-classifier/deployment-torch/deployment.yml"
LEGACY = "mnist-classifier/deployment-legacy/deployment.yml"
MLFLOW = "heart-classifier-mlflow/deployment-simple/deployment.yml"
PREPROS = "deploy-pipelines/batch-scoring-with-preprocessing"


@pytest.fixture
def mnist(services: Services, azure: Path, cluster: str) -> str:
    return services.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml").name


def _rows(services: Services, table: type) -> list:
    with services.db.read() as s:
        return list(s.scalars(select(table)))


def _snapshot_file(services: Services, code: str, path: str) -> bytes:
    manifest = services.artifacts.manifest(code.removeprefix("snapshot:").split("/")[0])
    entry = next(e for e in manifest.entries if e.path == path)
    return (services.artifacts.blobs / entry.sha256[:2] / entry.sha256).read_bytes()


def test_settings_form_pins_everything(services: Services, azure: Path, mnist: str) -> None:
    dep = services.batch_deployments.create_from_file(azure / TORCH)
    assert dep.model == "azureml:mnist-classifier-torch:1"
    assert dep.environment == "azureml:batch-torch-py38:1"
    assert dep.compute == "batch-cluster"
    assert dep.code_configuration is not None and dep.code_configuration.code.startswith("snapshot:")
    assert dep.code_configuration.scoring_script == "batch_driver.py"
    assert dep.code_configuration.source == str((azure / "mnist-classifier/deployment-torch/code").resolve())
    assert dep.settings is not None and dep.settings.max_concurrency_per_instance == 2
    assert not dep.is_default
    [row] = _rows(services, BatchDeploymentRow)
    assert (row.model_name, row.model_version, row.type) == ("mnist-classifier-torch", "1", "model")
    assert row.spec["model"] == "azureml:mnist-classifier-torch:1"


def test_legacy_form_and_reference_to_latest(services: Services, azure: Path, mnist: str) -> None:
    services.batch_deployments.create_from_file(azure / TORCH)
    dep = services.batch_deployments.create_from_file(azure / LEGACY)
    assert dep.model == "azureml:mnist-classifier-torch:1"
    assert dep.settings is not None
    assert (dep.settings.mini_batch_size, dep.settings.instance_count, dep.settings.error_threshold) == (5, 2, 10)
    assert dep.settings.environment_variables == {"SCORE_MODE": "fast"}
    assert dep.environment is None


def test_code_snapshot_is_immutable_until_update(services: Services, azure: Path, mnist: str) -> None:
    script = azure / "mnist-classifier/deployment-torch/code/batch_driver.py"
    original = script.read_bytes()
    first = services.batch_deployments.create_from_file(azure / TORCH)
    assert first.code_configuration is not None
    script.write_text(original.decode() + "\n# edited\n")
    shown = services.batch_deployments.get("mnist-torch-dpl", "mnist-batch")
    assert shown.code_configuration == first.code_configuration
    assert _snapshot_file(services, first.code_configuration.code, "batch_driver.py") == original
    # --set alone keeps the snapshot
    tuned = services.batch_deployments.update(
        "mnist-torch-dpl", "mnist-batch", overrides=[("settings.mini_batch_size", 20)]
    )
    assert tuned.code_configuration == first.code_configuration
    assert tuned.settings is not None and tuned.settings.mini_batch_size == 20
    # a file re-snapshots the folder and registers no second model version for the same files
    updated = services.batch_deployments.update("mnist-torch-dpl", "mnist-batch", path=azure / TORCH)
    assert updated.code_configuration is not None
    assert updated.code_configuration.code != first.code_configuration.code
    assert _snapshot_file(services, updated.code_configuration.code, "batch_driver.py").endswith(b"# edited\n")
    assert updated.model == "azureml:mnist-classifier-torch:1"
    assert len(_rows(services, ModelRow)) == 1


def test_changed_inline_model_gets_a_new_version(services: Services, azure: Path, mnist: str) -> None:
    services.batch_deployments.create_from_file(azure / TORCH)
    (azure / "mnist-classifier/deployment-torch/model/model.txt").write_text("retrained\n")
    updated = services.batch_deployments.update("mnist-torch-dpl", "mnist-batch", path=azure / TORCH)
    assert updated.model == "azureml:mnist-classifier-torch:2"


def test_mlflow_model_needs_no_code(services: Services, azure: Path, cluster: str) -> None:
    services.models.create_from_file(azure / "heart-classifier-mlflow/model.yml")
    services.batch_endpoints.create_from_file(azure / "heart-classifier-mlflow/endpoint.yml")
    dep = services.batch_deployments.create_from_file(azure / MLFLOW)
    assert dep.model == "azureml:heart-classifier-mlflow:1"
    assert dep.code_configuration is None and dep.environment is None
    assert dep.settings is not None and dep.settings.instance_count == 2
    assert dep.settings.retry_settings.timeout == 300


def test_custom_model_without_code_is_refused(services: Services, azure: Path, mnist: str) -> None:
    with pytest.raises(InvalidInput) as info:
        services.batch_deployments.create_from_file(azure / TORCH, overrides=[("code_configuration", None)])
    assert info.value.field == "code_configuration"
    assert _rows(services, ModelRow) == [] and _rows(services, BatchDeploymentRow) == []


@pytest.mark.parametrize(
    ("pairs", "error", "field"),
    [
        ([("compute", "azureml:no-such-cluster")], NotFound, "compute"),
        ([("code_configuration.code", "missing-folder")], InvalidInput, "code_configuration.code"),
        ([("code_configuration.scoring_script", "nope.py")], InvalidInput, "code_configuration.scoring_script"),
        ([("code_configuration.scoring_script", "../code/batch_driver.py")], InvalidInput, None),
        ([("environment.conda_file", "missing.yml")], InvalidInput, "environment.conda_file"),
        ([("model.path", "no-model-here")], InvalidInput, "model.path"),
        ([("settings.mini_batch_size", "ten")], InvalidInput, "settings.mini_batch_size"),
    ],
)
def test_errors_leave_nothing_behind(
    services: Services, azure: Path, mnist: str, pairs: list, error: type[BatchpointError], field: str | None
) -> None:
    with pytest.raises(error) as info:
        services.batch_deployments.create_from_file(azure / TORCH, overrides=pairs)
    if field is not None:
        assert info.value.field == field
    assert info.value.file == str(azure / TORCH)
    assert _rows(services, BatchDeploymentRow) == []
    assert _rows(services, ModelRow) == [] and _rows(services, EnvironmentRow) == []


def test_missing_model_reference_and_missing_endpoint(services: Services, azure: Path, mnist: str) -> None:
    with pytest.raises(NotFound) as info:
        services.batch_deployments.create_from_file(azure / LEGACY)
    assert info.value.field == "model"
    with pytest.raises(NotFound) as info:
        services.batch_deployments.create_from_file(azure / TORCH, endpoint_name="no-endpoint")
    assert info.value.field == "endpoint_name"
    assert _rows(services, BatchDeploymentRow) == []


def test_create_of_an_existing_deployment_updates_it(services: Services, azure: Path, mnist: str) -> None:
    # As az ml batch-deployment create (a create-or-update): the same name again replaces the deployment.
    first = services.batch_deployments.create_from_file(azure / TORCH)
    again = services.batch_deployments.create_from_file(
        azure / TORCH, overrides=[("settings.mini_batch_size", 3)], set_default=True
    )
    assert again.settings is not None and again.settings.mini_batch_size == 3 and again.is_default
    assert again.created_at == first.created_at and again.updated_at is not None
    assert len(_rows(services, BatchDeploymentRow)) == 1


def test_default_rules_and_routing(services: Services, azure: Path, mnist: str) -> None:
    with pytest.raises(Conflict, match="No valid deployments to route to") as info:
        services.batch_deployments.route("mnist-batch")
    assert "--set-default" in str(info.value)
    services.batch_deployments.create_from_file(azure / TORCH)
    assert services.batch_endpoints.get("mnist-batch").default_deployment is None  # Azure sets no default itself
    services.batch_deployments.create_from_file(azure / LEGACY, set_default=True)
    assert services.batch_deployments.route("mnist-batch").name == "mnist-legacy-dpl"
    assert services.batch_deployments.route("mnist-batch", "mnist-torch-dpl").name == "mnist-torch-dpl"
    with pytest.raises(NotFound):
        services.batch_deployments.route("mnist-batch", "blue")
    with pytest.raises(Conflict, match="is the default") as info:
        services.batch_deployments.delete("mnist-legacy-dpl", "mnist-batch")
    assert "defaults.deployment_name=mnist-torch-dpl" in str(info.value)
    services.batch_deployments.update("mnist-torch-dpl", "mnist-batch", set_default=True)
    services.batch_deployments.delete("mnist-legacy-dpl", "mnist-batch")
    services.batch_deployments.delete("mnist-torch-dpl", "mnist-batch")  # the last one: the default goes too
    assert services.batch_endpoints.get("mnist-batch").default_deployment is None
    assert services.batch_deployments.list("mnist-batch") == []


def test_update_cannot_change_the_type(services: Services, azure: Path, mnist: str) -> None:
    services.batch_deployments.create_from_file(azure / TORCH)
    with pytest.raises(InvalidInput) as info:
        services.batch_deployments.update(
            "mnist-torch-dpl",
            "mnist-batch",
            path=azure / "deploy-pipelines/hello-batch/deployment.yml",
        )
    assert info.value.field == "type"


def test_local_pipeline_component_is_snapshotted(services: Services, azure: Path, cluster: str) -> None:
    services.batch_endpoints.create_from_file(azure / PREPROS / "endpoint.yml")
    dep = services.batch_deployments.create_from_file(azure / PREPROS / "deployment.yml")
    assert dep.type == "pipeline" and dep.model is None and dep.settings is None
    assert dep.component is not None and dep.component.endswith("/pipeline.yml")
    assert dep.pipeline_settings == {"default_compute": "batch-cluster", "continue_on_step_failure": False}
    snapshot = _snapshot_file(services, dep.component, "components/score/score.yml")
    assert b"type: command" in snapshot
    (azure / PREPROS / "pipeline.yml").write_text("edited after deployment\n")
    again = services.batch_deployments.update(
        "uci-classifier-prepros-xgb", "uci-classifier-batch", overrides=[("settings.force_rerun", True)]
    )
    assert again.component == dep.component and again.pipeline_settings["force_rerun"] is True
    [row] = _rows(services, BatchDeploymentRow)
    assert row.model_name is None


def test_registry_component_reference_is_pinned_to_its_version(services: Services, azure: Path, cluster: str) -> None:
    services.batch_endpoints.create_from_file(azure / "deploy-pipelines/hello-batch/endpoint.yml")
    deployment_file = azure / "deploy-pipelines/hello-batch/deployment.yml"
    with pytest.raises(NotFound, match="hello_batch"):  # not registered yet: refused now, not at invoke
        services.batch_deployments.create_from_file(deployment_file)
    services.components.create_from_file(azure / "deploy-pipelines/hello-batch/hello-component/hello.yml")
    dep = services.batch_deployments.create_from_file(deployment_file, set_default=True)
    assert dep.component == "azureml:hello_batch:1" and dep.is_default  # @latest, pinned as Azure's CLI does
    services.components.create_from_file(
        azure / "deploy-pipelines/hello-batch/hello-component/hello.yml", version="2",
        set_pairs=[("display_name", "newer")],
    )  # fmt: skip
    assert services.batch_deployments.get("hello-batch-dpl", "hello-pipeline-batch").component == dep.component
    again = services.batch_deployments.update(
        "hello-batch-dpl", "hello-pipeline-batch", overrides=[("settings.force_rerun", True)]
    )
    assert again.pipeline_settings == {"default_compute": "batch-cluster", "force_rerun": True}


@pytest.mark.parametrize(
    ("pipeline_text", "field"),
    [
        ("type: command\ncommand: echo hi\n", "type"),
        ("type: pipeline\njobs: {}\n", "jobs"),
    ],
)
def test_a_local_component_must_be_a_pipeline(
    services: Services, azure: Path, cluster: str, pipeline_text: str, field: str
) -> None:
    (azure / PREPROS / "pipeline.yml").write_text(pipeline_text)
    services.batch_endpoints.create_from_file(azure / PREPROS / "endpoint.yml")
    with pytest.raises(InvalidInput) as info:
        services.batch_deployments.create_from_file(azure / PREPROS / "deployment.yml")
    assert info.value.field == field and info.value.file == str(azure / PREPROS / "pipeline.yml")


@pytest.mark.parametrize(
    ("pairs", "error", "field"),
    [
        ([("component", "nowhere.yml")], InvalidInput, "component"),
        ([("component", "azureml://registries/azureml/components/x/labels/latest")], InvalidInput, "component"),
        ([("settings.default_compute", "no-cluster")], NotFound, "settings.default_compute"),
        ([("settings.default_datastore", "no-store")], NotFound, "settings.default_datastore"),
    ],
)
def test_bad_pipeline_references(
    services: Services, azure: Path, cluster: str, pairs: list, error: type[BatchpointError], field: str
) -> None:
    services.batch_endpoints.create_from_file(azure / PREPROS / "endpoint.yml")
    with pytest.raises(error) as info:
        services.batch_deployments.create_from_file(azure / PREPROS / "deployment.yml", overrides=pairs)
    assert info.value.field == field
    assert _rows(services, BatchDeploymentRow) == []


def test_the_workspace_is_never_part_of_a_snapshot(services: Services, workspace: Path, azure: Path) -> None:
    """``batchpoint init`` in the example folder, then ``component: pipeline.yml`` next to ``.batchpoint``."""
    shutil.copy(azure / PREPROS / "pipeline.yml", workspace / "pipeline.yml")
    shutil.copytree(azure / PREPROS / "components", workspace / "components")
    deployment = yamlio.load_file(azure / PREPROS / "deployment.yml")
    deployment["settings"] = {}
    (workspace / "deployment.yml").write_text(yamlio.dumps(deployment))
    services.batch_endpoints.create_from_file(None, name="uci-classifier-batch")
    dep = services.batch_deployments.create_from_file(workspace / "deployment.yml")
    assert dep.component is not None
    manifest = services.artifacts.manifest(dep.component.removeprefix("snapshot:").split("/")[0])
    paths = {e.path for e in manifest.entries}
    assert "pipeline.yml" in paths and "components/score/src/score.py" in paths
    assert not any(p.startswith(".batchpoint") for p in paths)


def test_per_worker_resources_are_kept_for_ray(tmp_path: Path) -> None:
    from batchpoint.endpoints.specs import ResourcesSpec

    spec = ResourcesSpec(instance_count=2, instance_type="Standard_DS3_v2", cpu=2, gpu=0.5, memory=2**30)
    assert spec.per_worker() == {"cpu": 2.0, "gpu": 0.5, "memory": 2**30}
    assert ResourcesSpec().per_worker() == {}
