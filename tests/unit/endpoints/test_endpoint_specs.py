"""Parsing of Azure batch endpoint and deployment YAML: both model forms, pipeline deployments, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batchpoint.common import yamlio
from batchpoint.endpoints.specs import (
    ModelDeploymentSpec,
    PipelineDeploymentSpec,
    apply_overrides,
    parse_deployment,
    parse_endpoint,
)
from batchpoint.errors import InvalidInput, UnsafePath

DATA = Path(__file__).parents[2] / "data" / "azureml"


def _model(**extra: Any) -> dict[str, Any]:
    return {"name": "dpl", "endpoint_name": "ep1", "model": "azureml:m:1", **extra}


def test_endpoint_yaml_loads_unchanged() -> None:
    spec = parse_endpoint(yamlio.load_file(DATA / "mnist-classifier/endpoint.yml"))
    assert spec.name == "mnist-batch"
    assert spec.tags == {"type": "deep-learning"}
    assert spec.auth_mode == "aad_token"


def test_endpoint_tags_become_text_and_auth_mode_is_checked() -> None:
    assert parse_endpoint({"name": "abc", "tags": {"v": 1, "ok": True}}).tags == {"v": "1", "ok": "True"}
    with pytest.raises(InvalidInput) as info:
        parse_endpoint({"name": "abc", "auth_mode": "key"}, file="e.yml")
    assert info.value.field == "auth_mode" and info.value.file == "e.yml"


def test_settings_form_folds_resources_into_instance_count() -> None:
    spec = parse_deployment(yamlio.load_file(DATA / "mnist-classifier/deployment-torch/deployment.yml"))
    assert isinstance(spec, ModelDeploymentSpec)
    settings = spec.effective_settings()
    assert (settings.max_concurrency_per_instance, settings.mini_batch_size, settings.instance_count) == (2, 10, 1)
    assert isinstance(spec.model, dict) and spec.model["path"] == "model"


def test_legacy_flat_form_becomes_settings() -> None:
    spec = parse_deployment(yamlio.load_file(DATA / "mnist-classifier/deployment-legacy/deployment.yml"))
    assert isinstance(spec, ModelDeploymentSpec) and spec.type == "model"
    settings = spec.effective_settings()
    assert settings.mini_batch_size == 5
    assert settings.instance_count == 2
    assert settings.output_file_name == "legacy-predictions.csv"
    assert (settings.retry_settings.max_retries, settings.retry_settings.timeout) == (2, 60)
    assert settings.error_threshold == 10 and settings.logging_level == "warning"
    assert settings.environment_variables == {"SCORE_MODE": "fast"}


def test_defaults_are_azures() -> None:
    spec = parse_deployment(_model())
    assert isinstance(spec, ModelDeploymentSpec)
    s = spec.effective_settings()
    assert (s.mini_batch_size, s.max_concurrency_per_instance, s.instance_count) == (10, 1, 1)
    assert (s.output_action, s.output_file_name, s.error_threshold, s.logging_level) == (
        "append_row",
        "predictions.csv",
        -1,
        "info",
    )
    assert (s.retry_settings.max_retries, s.retry_settings.timeout) == (3, 30)


def test_same_setting_in_both_places_must_agree() -> None:
    spec = parse_deployment(_model(mini_batch_size=5, settings={"mini_batch_size": 5}))
    assert isinstance(spec, ModelDeploymentSpec) and spec.effective_settings().mini_batch_size == 5
    with pytest.raises(InvalidInput) as info:
        parse_deployment(_model(mini_batch_size=5, settings={"mini_batch_size": 6}), file="d.yml")
    assert info.value.field == "settings.mini_batch_size"


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (_model(settings={"mini_bach_size": 3}), "settings.mini_bach_size", "unknown field"),
        (_model(settings={"mini_batch_size": "ten"}), "settings.mini_batch_size", "integer"),
        (_model(mini_batch_size="ten"), "mini_batch_size", "integer"),
        (_model(settings={"retry_settings": {"timeout": "soon"}}), "settings.retry_settings.timeout", "integer"),
        (_model(settings={"output_action": "append"}), "settings.output_action", "append_row"),
        (_model(resources={"instance_count": 0}), "resources.instance_count", "greater"),
        (_model(colour="red"), "colour", "unknown field"),
        ({"name": "dpl", "model": "azureml:m:1"}, "endpoint_name", "required"),
        (_model(name="../x"), "name", "path separator"),
        (_model(name="a" * 33), "name", "3-32"),
        (_model(endpoint_name="1bad"), "endpoint_name", "invalid name"),
        (_model(type="online"), "type", "'model' or 'pipeline'"),
        (_model(settings={"output_file_name": "../p.csv"}), "settings.output_file_name", "path separator"),
    ],
)
def test_bad_model_deployments_name_the_field(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_deployment(data, file="deployment.yml")
    assert info.value.field == field
    assert info.value.file == "deployment.yml"
    assert words in str(info.value)


def test_unsafe_names_are_unsafe_path_errors() -> None:
    with pytest.raises(UnsafePath):
        parse_deployment(_model(name="../x"))


def test_instance_count_in_two_places_must_agree() -> None:
    spec = parse_deployment(_model(resources={"instance_count": 2}, settings={"instance_count": 3}))
    assert isinstance(spec, ModelDeploymentSpec)
    with pytest.raises(InvalidInput) as info:
        spec.effective_settings()
    assert info.value.field == "resources.instance_count"


def test_pipeline_deployments_load() -> None:
    hello = parse_deployment(yamlio.load_file(DATA / "deploy-pipelines/hello-batch/deployment.yml"))
    assert isinstance(hello, PipelineDeploymentSpec)
    assert hello.component == "azureml:hello_batch@latest"
    assert hello.settings.default_compute == "batch-cluster"
    prepros = parse_deployment(
        yamlio.load_file(DATA / "deploy-pipelines/batch-scoring-with-preprocessing/deployment.yml")
    )
    assert isinstance(prepros, PipelineDeploymentSpec)
    assert prepros.component == "pipeline.yml" and prepros.settings.continue_on_step_failure is False


def _pipeline(**extra: Any) -> dict[str, Any]:
    return {"name": "pdpl", "endpoint_name": "ep1", "type": "pipeline", "component": "azureml:c@latest", **extra}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_pipeline(compute="azureml:batch-cluster"), "compute"),
        (_pipeline(resources={"instance_count": 2}), "resources"),
        (_pipeline(mini_batch_size=3), "mini_batch_size"),
        (_pipeline(settings={"mini_batch_size": 3}), "settings.mini_batch_size"),
        (_pipeline(settings={"default_compte": "x"}), "settings.default_compte"),
        (_pipeline(job_definition="azureml:job1"), "component"),
        ({"name": "pdpl", "endpoint_name": "ep1", "type": "pipeline"}, "component"),
    ],
)
def test_bad_pipeline_deployments_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_deployment(data, file="deployment.yml")
    assert info.value.field == field and info.value.file == "deployment.yml"


def test_pipeline_deployment_refuses_compute_in_plain_words() -> None:
    with pytest.raises(InvalidInput, match="does not apply to a pipeline deployment"):
        parse_deployment(_pipeline(compute="azureml:batch-cluster"))


def test_overrides_go_where_the_setting_lives() -> None:
    legacy = apply_overrides(_model(mini_batch_size=5), [("settings.mini_batch_size", 20)])
    assert legacy["mini_batch_size"] == 20 and "settings" not in legacy
    nested = apply_overrides(_model(settings={"mini_batch_size": 5}), [("mini_batch_size", 20)])
    assert nested["settings"]["mini_batch_size"] == 20 and "mini_batch_size" not in nested
    env = apply_overrides(_model(settings={}), [("settings.environment_variables.A", "1")])
    assert env["settings"]["environment_variables"] == {"A": "1"}
    plain = apply_overrides(_model(), [("settings.mini_batch_size", 7)])
    assert plain["settings"] == {"mini_batch_size": 7}
