"""The path fields of the spec models: every one is marked, and one walker finds them for the SDK,
the server's path checks and the refusal of overrides that would name files."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from batchpoint.client.transport import Transport
from batchpoint.common import validation
from batchpoint.common.specpaths import (
    Inline,
    SpecPath,
    override_names_path,
    path_fields,
    replace_paths,
    top_level_paths,
    walk_paths,
)
from batchpoint.components import specs as component_specs
from batchpoint.endpoints import settings as endpoint_settings
from batchpoint.endpoints import specs as endpoint_specs
from batchpoint.endpoints.specs import (
    DEPLOYMENT_SPEC,
    DeploymentSpec,
    ModelDeploymentSpec,
    PipelineDeploymentSpec,
    parse_deployment,
)
from batchpoint.errors import InvalidInput
from batchpoint.jobs import invoke as invoke_module
from batchpoint.jobs.invoke import DATA_PLANE, OVERRIDABLE, InvokeRequest, names_a_path
from batchpoint.registry import specs as registry_specs
from batchpoint.registry.specs import DataSpec, EnvironmentSpec, ModelSpec

SPEC_MODULES = (endpoint_specs, registry_specs, endpoint_settings, invoke_module, component_specs)
PATH_LIKE = re.compile(
    r"(^|_)(path|paths|code|file|files|script|folder|dir|directory|requirements|component|input)($|_)"
)
NOT_PATHS = {
    "output_file_name": "a bare file name inside the job's output folder (common.names.file_name refuses folders)",
    "input_type": "uri_file or uri_folder, the kind of the input",
    "code_configuration": "a nested spec whose own fields (code, scoring_script) are marked",
    "input_data": "a parallel component's ${{inputs.<name>}} binding: the input it names is the path",
}


def _spec_models() -> list[type[BaseModel]]:
    found = []
    for module in SPEC_MODULES:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseModel) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


def test_every_field_named_like_a_path_is_marked() -> None:
    unmarked = []
    for model in _spec_models():
        for name, info in model.model_fields.items():
            marked = any(isinstance(m, SpecPath | Inline) for m in info.metadata)
            if PATH_LIKE.search(name) and not marked and name not in NOT_PATHS:
                unmarked.append(f"{model.__module__}.{model.__name__}.{name}")
    assert not unmarked, (
        "fields that look like paths but carry no SpecPath marker (mark them, so the SDK uploads them and the "
        "server checks them; or explain in NOT_PATHS why they are not paths):\n" + "\n".join(unmarked)
    )
    assert len(_spec_models()) > 8


def test_the_declared_path_fields() -> None:
    assert set(path_fields(DeploymentSpec)) == {
        "model.path", "code_configuration.code", "code_configuration.scoring_script", "environment.conda_file",
        "environment.pip_requirements", "component",
    }  # fmt: skip
    assert set(path_fields(InvokeRequest)) == {"input", "output_path"}
    assert top_level_paths(ModelSpec) == ("path",) and top_level_paths(DataSpec) == ("path",)
    assert top_level_paths(EnvironmentSpec) == ("conda_file", "pip_requirements")
    assert top_level_paths(registry_specs.ComputeSpec) == ()


def test_walk_a_deployment_mapping_by_its_type() -> None:
    model = {
        "name": "dpl", "endpoint_name": "ep1", "model": {"path": "./m"}, "environment": {"conda_file": "c.yml"},
        "code_configuration": {"code": "src", "scoring_script": "score.py"},
    }  # fmt: skip
    found = {ref.field: ref.value for ref in walk_paths(model, DeploymentSpec)}
    assert found == {
        "model.path": "./m", "code_configuration.code": "src", "code_configuration.scoring_script": "score.py",
        "environment.conda_file": "c.yml",
    }  # fmt: skip
    pipeline = {"name": "dpl", "endpoint_name": "ep1", "type": "pipeline", "component": "p/pipeline.yml"}
    assert [(r.field, r.value) for r in walk_paths(pipeline, DeploymentSpec)] == [("component", "p/pipeline.yml")]
    referenced = {"name": "dpl", "endpoint_name": "ep1", "model": "azureml:m:1", "environment": "azureml:e:1"}
    assert list(walk_paths(referenced, DeploymentSpec)) == []


def test_replace_paths_keeps_models_models_and_leaves_the_input_alone() -> None:
    spec = parse_deployment(
        {"name": "dpl", "endpoint_name": "ep1", "model": {"path": "m"},
         "code_configuration": {"code": "src", "scoring_script": "score.py"}}
    )  # fmt: skip
    changed = replace_paths(spec, lambda ref: ref.value if ref.location is None else f"uri://{ref.value}")
    assert isinstance(changed, ModelDeploymentSpec) and changed.code_configuration is not None
    assert changed.code_configuration.code == "uri://src" and changed.code_configuration.scoring_script == "score.py"
    assert changed.model == {"path": "uri://m"}
    assert spec.model == {"path": "m"}  # the original is not changed
    data: dict[str, Any] = {"name": "x", "path": "here"}
    assert replace_paths(data, lambda ref: "there", DataSpec) == {"name": "x", "path": "there"}
    assert data == {"name": "x", "path": "here"}


def test_location_skips_references_snapshots_and_relative_scripts() -> None:
    refs = {
        r.field: r.location
        for r in walk_paths({"type": "pipeline", "component": "azureml:pipe@latest"}, DeploymentSpec)
    }
    assert refs == {"component": None}
    code = {"code_configuration": {"code": "snapshot:abc", "scoring_script": "s.py"}, "model": {"path": "/m"}}
    assert {r.field: r.location for r in walk_paths(code, ModelDeploymentSpec)} == {
        "code_configuration.code": None, "code_configuration.scoring_script": None, "model.path": "/m",
    }  # fmt: skip
    assert next(walk_paths(InvokeRequest(input="azureml:d@latest"))).location is None


def test_overrides_that_name_paths() -> None:
    for key in ("model", "model.path", "code_configuration", "code_configuration.code", "environment.conda_file",
                "component"):  # fmt: skip
        assert override_names_path(DeploymentSpec, key) is not None, key
    for key in ("code_configuration.scoring_script", "settings.mini_batch_size", "compute", "environment.image"):
        assert override_names_path(DeploymentSpec, key) is None, key
    assert not any(names_a_path(key) for key in OVERRIDABLE | DATA_PLANE)
    assert names_a_path("code_configuration.code") and names_a_path("model")


def test_deployment_spec_is_a_union_discriminated_by_type() -> None:
    base = {"name": "dpl", "endpoint_name": "ep1"}
    assert isinstance(DEPLOYMENT_SPEC.validate_python({**base, "model": "azureml:m:1"}), ModelDeploymentSpec)
    pipeline = DEPLOYMENT_SPEC.validate_python({**base, "type": "pipeline", "component": "azureml:p:1"})
    assert isinstance(pipeline, PipelineDeploymentSpec)
    assert isinstance(parse_deployment({**base, "type": "model", "model": "azureml:m:1"}), ModelDeploymentSpec)
    with pytest.raises(InvalidInput, match="unknown deployment type 'batch'"):
        parse_deployment({**base, "type": "batch"})
    with pytest.raises(InvalidInput, match="unknown deployment type"):
        parse_deployment({**base, "type": ["model"]})


def test_invoke_request_keeps_the_messages_of_the_checks_it_makes_early(tmp_path: Path) -> None:
    request = InvokeRequest(input=tmp_path, overrides=["mini_batch_size=5"])  # type: ignore[arg-type]
    assert request.input == str(tmp_path) and request.pairs() == [("mini_batch_size", 5)]

    with pytest.raises(InvalidInput, match="unsupported input type 'mltable'; use uri_folder or uri_file"):
        validation.parse(InvokeRequest, {"input_type": "mltable"})
    with pytest.raises(InvalidInput, match="invalid experiment name") as info:
        validation.parse(InvokeRequest, {"experiment_name": "x" * 300})
    assert info.value.field == "experiment_name"
    with pytest.raises(InvalidInput, match="invalid job name"):
        validation.parse(InvokeRequest, {"job_name": "a b"})
    inputs = tmp_path / "inputs.yml"
    inputs.write_text("inputs:\n  d: {type: uri_file, path: data.csv}\noutputs:\n  score: {path: out}\n")
    filled = InvokeRequest(deployment_name="d").with_inputs_file(inputs)
    assert filled.input == str(tmp_path / "data.csv") and filled.input_type == "uri_file"
    assert filled.output_path == str(tmp_path / "out")
    assert InvokeRequest(input="given").with_inputs_file(inputs).input == "given"


class _Uploads(Transport):
    """A transport that records uploads instead of sending them."""

    def __init__(self) -> None:
        super().__init__("http://server.invalid", None)
        self.sent: list[Path] = []

    def upload(self, local: Path) -> str:
        self.sent.append(local.resolve())
        return f"azureml://datastores/workspaceblobstore/paths/uploads/{len(self.sent):032x}/{local.name}"


def test_the_remote_sdk_uploads_what_the_markers_say(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "conda.yml").write_text("dependencies: [python=3.11]\n")
    (tmp_path / "req.txt").write_text("# pinned\nnumpy\n\n")
    (tmp_path / "pipe").mkdir()
    (tmp_path / "pipe" / "pipeline.yml").write_text("type: pipeline\n")
    t = _Uploads()
    data = {
        "name": "dpl", "endpoint_name": "ep1", "model": {"path": "model"},
        "code_configuration": {"code": "src", "scoring_script": "score.py"},
        "environment": {"conda_file": "conda.yml", "pip_requirements": "req.txt"},
    }  # fmt: skip
    sent = t.upload_paths(data, DeploymentSpec, base_dir=tmp_path)
    assert t.sent == [tmp_path / "model", tmp_path / "src"]
    assert sent["model"]["path"].endswith("/model") and sent["code_configuration"]["scoring_script"] == "score.py"
    assert sent["environment"] == {"conda_file": {"dependencies": ["python=3.11"]}, "pip_requirements": ["numpy"]}
    pipeline = t.upload_paths({"type": "pipeline", "component": "pipe/pipeline.yml"}, DeploymentSpec, base_dir=tmp_path)
    assert t.sent[-1] == tmp_path / "pipe" and pipeline["component"].endswith("/pipe/pipeline.yml")
    with pytest.raises(InvalidInput) as info:
        t.upload_paths(ModelSpec(name="m", path="missing"), base_dir=tmp_path)
    assert info.value.field == "path"
    request = t.upload_paths(InvokeRequest(input="data/*.csv", output_path="/out"), base_dir=tmp_path)
    assert request.input == "data/*.csv" and request.output_path == "/out"  # a glob and an output travel as given
    t.close()
