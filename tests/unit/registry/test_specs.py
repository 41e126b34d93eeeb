from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint.common import validation
from batchpoint.errors import InvalidInput, UnsafePath
from batchpoint.registry.specs import ComputeSpec, DataSpec, EnvironmentSpec, ModelSpec, load_spec, spec_from_fields


def test_yaml_scalars_become_text() -> None:
    spec = validation.parse(ModelSpec, {"name": "m", "path": "x", "version": 2, "tags": {"n": 1, "ok": True}})
    assert spec.version == "2" and spec.tags == {"n": "1", "ok": "true"}
    assert validation.parse(ModelSpec, {"name": "m", "path": "x", "version": 1.0}).version == "1.0"
    assert validation.parse(EnvironmentSpec, {"name": "e", "python_version": 3.11}).python_version == "3.11"


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"name": "m", "path": "x", "verison": "1"}, "verison", InvalidInput),
        ({"name": "m"}, "path", InvalidInput),
        ({"name": "m", "path": "x", "type": "onnx_model"}, "type", InvalidInput),
        ({"name": "m", "path": "x", "tags": ["a"]}, "tags", InvalidInput),
        ({"name": "m", "path": "x", "tags": {"a": {"b": 1}}}, "tags.a", InvalidInput),
        ({"name": "m", "path": "x", "version": [1]}, "version", InvalidInput),
        ({"name": "m", "path": "x", "version": "../1"}, "version", UnsafePath),
        ({"name": "../m", "path": "x"}, "name", UnsafePath),
        ({"name": "m\x00", "path": "x"}, "name", UnsafePath),
        ({"name": "x" * 300, "path": "x"}, "name", InvalidInput),
        ({"name": "-m", "path": "x"}, "name", InvalidInput),
    ],
)
def test_model_spec_errors_name_the_field(data: dict[str, object], field: str, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        validation.parse(ModelSpec, data, file="model.yml")
    assert isinstance(info.value, InvalidInput)
    assert (info.value.field, info.value.file) == (field, "model.yml")


def test_other_specs() -> None:
    with pytest.raises(InvalidInput, match="unknown field"):
        validation.parse(DataSpec, {"name": "d", "path": "x", "datastore": "y"})
    assert validation.parse(DataSpec, {"name": "d", "path": "x"}).type == "uri_folder"
    assert validation.parse(ComputeSpec, {"name": "c", "size": "STANDARD_DS3_v2"}).type == "amlcompute"
    with pytest.raises(InvalidInput) as info:
        validation.parse(ComputeSpec, {"name": "c", "max_instances": 0})
    assert info.value.field == "max_instances"


def test_flags_are_relative_to_the_cwd_and_yaml_paths_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    doc = tmp_path / "sub" / "model.yml"
    doc.write_text("name: m\npath: model\ntags: {a: '1'}\n")
    monkeypatch.chdir(tmp_path)
    assert load_spec(ModelSpec, doc).path == "model"  # resolved later against the file's folder
    flagged = load_spec(ModelSpec, doc, fields={"path": "other", "tags": {"b": "2"}}, pairs=[("description", "d")])
    assert flagged.path == str(tmp_path / "other")
    assert flagged.tags == {"a": "1", "b": "2"} and flagged.description == "d"
    uri = "azureml://datastores/workspaceblobstore/paths/m"
    assert spec_from_fields(ModelSpec, {"name": "m", "path": uri}).path == uri
    assert spec_from_fields(ModelSpec, {"name": "m", "path": "rel", "version": None}).path == str(tmp_path / "rel")
