"""Components through the Python SDK: register, show, list, archive, restore, resolve, and the errors users meet."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from batchpoint import Client
from batchpoint.common import expressions
from batchpoint.errors import BatchpointError, Conflict, InvalidInput, NotFound

DATA = Path(__file__).parents[1] / "data" / "components"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A private copy of the component files (tests edit them)."""
    folder = tmp_path / "components"
    shutil.copytree(DATA, folder)
    return folder


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _error(call: Any, kind: type[BatchpointError] = InvalidInput) -> BatchpointError:
    with pytest.raises(kind) as info:
        call()
    return info.value


def test_register_show_list_archive_restore(client: Client, files: Path) -> None:
    train = client.components.create(files / "train.yml")
    assert (train.id, train.type, train.display_name, train.anonymous) == (
        "azureml:train_model:1",
        "command",
        "Train a model",
        False,
    )
    assert train.code is not None and train.code.startswith("snapshot:")
    assert train.environment is not None and train.environment.startswith("azureml:anon-env-")
    assert train.inputs["max_epochs"].default == 10 and train.inputs["early_stop"].optional
    assert train.outputs["model_output"].type == "uri_folder" and train.environment_variables == {"MODE": "train"}
    assert train.is_deterministic and len(train.content_hash) == 64

    # The same definition again: the same version (Azure's behaviour), by version or without one.
    assert client.components.create(files / "train.yml") == train
    assert client.components.create(files / "train.yml", version=None, overrides=[("version", None)]) == train
    # The same version with another definition: refused; without a version: the next number.
    changed = [("command", "echo ${{inputs.training_data}} ${{outputs.model_output}}")]
    conflict = _error(lambda: client.components.create(files / "train.yml", overrides=changed), Conflict)
    assert conflict.field == "version" and "different definition" in conflict.message
    second = client.components.create(files / "train.yml", overrides=[*changed, ("version", None)])
    assert second.version == "2" and second.content_hash != train.content_hash
    renamed = client.components.create(files / "train.yml", name="other", version="7")
    assert renamed.id == "azureml:other:7" and renamed.content_hash == train.content_hash

    assert [c.id for c in client.components.list()] == ["azureml:other:7", "azureml:train_model:2"]
    assert [c.version for c in client.components.list("train_model")] == ["1", "2"]
    assert client.components.get("train_model").version == "2"
    assert client.components.resolve("azureml:train_model@latest").version == "2"

    client.components.archive("train_model", "2")
    assert client.components.get("train_model").version == "1"
    assert [c.version for c in client.components.list("train_model")] == ["1"]
    assert [c.version for c in client.components.list("train_model", include_archived=True)] == ["1", "2"]
    assert client.components.get("train_model", "2").archived  # an archived version is still usable by id
    client.components.archive("train_model")
    missing = _error(lambda: client.components.get("train_model"), NotFound)
    assert "archived" in missing.message
    assert client.components.restore("train_model", "1").archived is False
    assert client.components.get("train_model").version == "1"
    client.components.restore("train_model")
    assert client.components.get("train_model").version == "2"
    assert _error(lambda: client.components.get("nothing"), NotFound).message == "component 'nothing' does not exist"


def test_code_is_snapshotted_without_what_amlignore_lists(client: Client, files: Path) -> None:
    (files / "src" / "notes.tmp").write_text("scratch")
    train = client.components.create(files / "train.yml")
    assert train.code is not None
    manifest = client.services.artifacts.manifest(train.code.removeprefix("snapshot:"))
    assert sorted(e.path for e in manifest.entries) == [".amlignore", "train.py"]
    # Editing the code afterwards changes nothing registered; registering again makes a new definition.
    (files / "src" / "train.py").write_text("print('v2')\n")
    assert client.components.get("train_model", "1").code == train.code
    again = client.components.create(files / "train.yml", version="2")
    assert again.code != train.code and again.content_hash != train.content_hash


def test_resolve_every_form_and_store_local_and_inline_ones_once(client: Client, files: Path) -> None:
    train = client.components.create(files / "train.yml")
    service = client.services.components
    for ref in ("azureml:train_model:1", "azureml:train_model@latest", "train_model:1", "train_model@latest"):
        assert service.resolve(ref, base_dir=None, field="component", file=None) == train

    local = service.resolve("score.yml", base_dir=files, field="jobs.s.component", file=None)
    assert local.anonymous and local.name == "score_model" and local.version == local.content_hash[:16]
    assert service.resolve("file:score.yml", base_dir=files, field="component", file=None) == local
    assert service.resolve(str(files / "score.yml"), base_dir=None, field="component", file=None) == local
    assert service.resolve(local.id, base_dir=None, field="component", file=None) == local

    inline = {"type": "command", "command": "echo ${{inputs.x}}", "inputs": {"x": {"type": "string"}}}
    first = client.components.resolve(inline)
    assert first.anonymous and first.name == "azureml_anonymous"
    assert client.components.resolve(dict(inline)) == first  # the same definition: the same row
    other = client.components.resolve({**inline, "command": "echo again ${{inputs.x}}"})
    assert other.id != first.id

    assert [c.id for c in client.components.list()] == ["azureml:train_model:1"]  # anonymous ones are hidden
    assert client.components.list("score_model") == []
    assert service.find_by_hash(local.content_hash) == [local]

    bad = _error(lambda: service.resolve("nope.yml", base_dir=files, field="jobs.a.component", file="p.yml"))
    assert bad.field == "jobs.a.component" and bad.file == "p.yml" and "does not exist" in bad.message
    unknown = _error(lambda: service.resolve("azureml:nope:1", base_dir=None, field="jobs.a.component", file="p.yml"),
                     NotFound)  # fmt: skip
    assert unknown.field == "jobs.a.component" and "'azureml:nope:1'" in unknown.message
    wrong = _error(lambda: service.resolve(42, base_dir=None, field="component", file=None))  # type: ignore[arg-type]
    assert wrong.field == "component"


def test_pipeline_component_pins_its_steps_and_is_stable(client: Client, files: Path) -> None:
    pipeline = client.components.create(files / "pipeline.yml")
    assert pipeline.type == "pipeline" and pipeline.jobs is not None
    ids = {step: body["component"] for step, body in pipeline.jobs.items()}
    train = client.components.resolve(ids["train"])
    assert train.anonymous and train.name == "train_model" and train.inputs["max_epochs"].type == "integer"
    assert client.components.resolve(ids["report"]).name == "azureml_anonymous"
    assert pipeline.jobs["score"]["type"] == "command"
    assert pipeline.jobs["score"]["inputs"]["model_input"] == "${{parent.jobs.train.outputs.model_output}}"
    assert pipeline.inputs["epochs"].default == 3 and set(pipeline.outputs) == {"scores"}

    # Registering the same files again adds nothing; a changed step file changes the pipeline's hash.
    assert client.components.create(files / "pipeline.yml") == pipeline
    score = yaml.safe_load((files / "score.yml").read_text())
    _write(files / "score.yml", {**score, "command": score["command"] + " --verbose"})
    changed = client.components.create(files / "pipeline.yml")
    assert changed.version == "2" and changed.content_hash != pipeline.content_hash
    assert changed.jobs is not None and changed.jobs["score"]["component"] != ids["score"]
    assert changed.jobs["train"]["component"] == ids["train"]

    # A pipeline component may use a registered component by reference, and another pipeline component.
    client.components.create(files / "score.yml", version="1")
    outer = {
        "name": "outer",
        "type": "pipeline",
        "inputs": {"data": {"type": "uri_folder"}},
        "jobs": {
            "inner": {"component": "./pipeline.yml", "inputs": {"pipeline_data": "${{parent.inputs.data}}"}},
            "again": {
                "component": "azureml:score_model@latest",
                "inputs": {"model_input": "${{parent.inputs.data}}", "test_data": "${{parent.inputs.data}}"},
            },
        },
    }
    made = client.components.create(outer, base_dir=files)
    assert made.jobs is not None and made.jobs["again"]["component"] == "azureml:score_model:1"
    assert made.jobs["inner"]["type"] == "pipeline"


def _spec_error(client: Client, folder: Path, name: str, data: dict[str, Any]) -> BatchpointError:
    path = _write(folder / name, data)
    return _error(lambda: client.components.create(path), BatchpointError)


def test_bad_fields_name_the_file_and_the_field(client: Client, files: Path) -> None:
    train = yaml.safe_load((files / "train.yml").read_text())

    def check(data: dict[str, Any], field: str, *words: str, name: str = "bad.yml") -> None:
        err = _spec_error(client, files, name, data)
        assert err.file is not None and err.file.endswith(name), (err.file, err.message)
        assert err.field == field, (err.field, err.message)
        for word in words:
            assert word in err.message, (word, err.message)

    check({**train, "comand": "x"}, "comand", "unknown field")
    check({**train, "type": "spark"}, "type", "'spark' is not supported")
    check({k: v for k, v in train.items() if k not in ("type", "command")}, "type", "needs a type")
    check({**train, "inputs": {"x": {"type": "dataframe"}}}, "inputs.x.type")
    check({**train, "inputs": {"x": {"type": "integer", "default": "ten"}}}, "inputs.x", "expected an integer")
    check({**train, "inputs": {"x": {"type": "string", "enum": ["a"], "default": "b"}}}, "inputs.x", "enum")
    check({**train, "inputs": {"x": {"type": "number", "min": 2, "max": 1}}}, "inputs.x", "min (2.0) is above")
    check({**train, "inputs": {"9x": {"type": "string"}}}, "inputs.9x", "not a valid input name")
    check({**train, "outputs": {"o": {"type": "string"}}}, "outputs.o.type")
    check({**train, "code": "./nowhere"}, "code", "does not exist")
    check({**train, "environment": "azureml:no-env:1"}, "environment", "'azureml:no-env:1'")
    check({**train, "environment": {"conda_file": "missing.yml"}}, "environment.conda_file", "does not exist")
    check({k: v for k, v in train.items() if k != "name"}, "name", "needs a name")

    # Binding expressions of the command: the component, the field and the expression are named.
    check({**train, "command": "python x.py ${{inputs.nope}}"}, "command",
          "component 'train_model'", "${{inputs.nope}}", "not declared")  # fmt: skip
    check({**train, "command": "echo ${{parent.inputs.x}}"}, "command", "${{parent.inputs.x}}", "cannot be used")
    check({**train, "command": "echo ${{inputs.a b}}"}, "command", "not a valid binding expression")
    check({**train, "command": "echo $[[--flag ${{outputs.missing}}]]"}, "command", "${{outputs.missing}}")


def test_bad_pipeline_components_name_the_step_port_and_expression(client: Client, files: Path) -> None:
    pipeline = yaml.safe_load((files / "pipeline.yml").read_text())
    jobs = pipeline["jobs"]

    def check(new_jobs: dict[str, Any], field: str, *words: str, file: str = "bad-pipeline.yml") -> None:
        err = _spec_error(client, files, "bad-pipeline.yml", {**pipeline, "jobs": new_jobs})
        assert err.field == field, (err.field, err.message)
        assert err.file is not None and err.file.endswith(file), err.file
        for word in words:
            assert word in err.message, (word, err.message)

    train = jobs["train"]
    check({"train": {**train, "inputs": {**train["inputs"], "nope": 1}}}, "jobs.train.inputs.nope",
          "component 'train_model' has no input 'nope'")  # fmt: skip
    check({"train": {**train, "inputs": {"training_data": "${{parent.inputs.missing}}"}}},
          "jobs.train.inputs.training_data", "${{parent.inputs.missing}}", "not declared")  # fmt: skip
    check({"train": {**train, "inputs": {}}}, "jobs.train.inputs", "needs input 'training_data'")
    check({**jobs, "score": {**jobs["score"], "inputs": {**jobs["score"]["inputs"],
          "model_input": "${{parent.jobs.nope.outputs.model_output}}"}}},
          "jobs.score.inputs.model_input", "step 'nope'")  # fmt: skip
    check({**jobs, "score": {**jobs["score"], "inputs": {**jobs["score"]["inputs"],
          "model_input": "${{parent.jobs.train.outputs.weights}}"}}},
          "jobs.score.inputs.model_input", "has no output 'weights'")  # fmt: skip
    check({**jobs, "score": {**jobs["score"], "outputs": {"score_output": "${{parent.outputs.nope}}"}}},
          "jobs.score.outputs.score_output", "pipeline output 'nope'")  # fmt: skip
    check({**jobs, "train": {**train, "inputs": {**train["inputs"],
          "training_data": "${{parent.jobs.report.outputs.x}}"}}},
          "jobs.train.inputs.training_data", "has no output 'x'")  # fmt: skip
    looped = {
        "a": {"component": "./score.yml", "inputs": {"model_input": "${{parent.jobs.b.outputs.score_output}}",
                                                      "test_data": "${{parent.inputs.pipeline_data}}"}},
        "b": {"component": "./score.yml", "inputs": {"model_input": "${{parent.jobs.a.outputs.score_output}}",
                                                      "test_data": "${{parent.inputs.pipeline_data}}"}},
    }  # fmt: skip
    check(looped, "jobs", "loop", "a -> b -> a")
    check({"x": {"command": "echo hi"}}, "jobs.x.component", "needs a 'component:'")
    check({"x": {"type": "pipeline", "component": "./score.yml"}}, "jobs.x.type", "command component")
    check({"x": {"component": "./nope.yml"}}, "jobs.x.component", "does not exist")
    check({"bad name!": train}, "jobs.bad name!", "not a valid step name")
    check({}, "jobs", "at least one step")
    # An error inside an inline step component names the field under the step.
    check({"x": {"component": {"type": "command", "command": "echo ${{inputs.y}}"}}}, "jobs.x.component.command",
          "${{inputs.y}}")  # fmt: skip
    # An error inside a step's component file names that file and its own field.
    _write(files / "broken.yml", {"type": "command", "command": "echo", "inputz": {}})
    check({"x": {"component": "./broken.yml"}}, "inputz", "unknown field", file="broken.yml")
    # Files that include each other.
    _write(files / "self.yml", {"type": "pipeline", "jobs": {"me": {"component": "./self.yml"}}})
    check({"x": {"component": "./self.yml"}}, "jobs.me.component", "include each other", file="self.yml")


def test_render_command_on_a_registered_component(client: Client, files: Path) -> None:
    train = client.components.create(files / "train.yml")
    assert train.command is not None
    inputs = {"training_data": "/data", "max_epochs": "10", "learning_rate": "0.01", "early_stop": None}
    outputs = {"model_output": "/out"}
    rendered = expressions.render_command(train.command, inputs, outputs, owner=f"component '{train.name}'")
    assert rendered == "python train.py --data /data --epochs 10 --lr 0.01  --out /out"
    with_flag = expressions.render_command(train.command, {**inputs, "early_stop": "True"}, outputs, owner="c")
    assert "--early-stop True --out /out" in with_flag
    err = _error(lambda: expressions.render_command(train.command or "", {**inputs, "max_epochs": None}, outputs,
                                                    owner=f"component '{train.name}'"))  # fmt: skip
    assert "component 'train_model'" in err.message and "'max_epochs' is optional" in err.message


def test_environments_by_reference_and_none(client: Client, files: Path) -> None:
    env = client.environments.create("tiny-env", version="3", python_version="3.11")
    train = yaml.safe_load((files / "train.yml").read_text())
    by_ref = client.components.create({**train, "environment": "azureml:tiny-env@latest"}, base_dir=files)
    assert by_ref.environment == "azureml:tiny-env:3"
    none = client.components.create({**train, "environment": None, "version": "2"}, base_dir=files)
    assert none.environment is None and none.content_hash != by_ref.content_hash
    # A new environment version behind @latest is a new definition (the id and its hash are part of it).
    assert env.spec_hash
    client.environments.create("tiny-env", version="4", python_version="3.12")
    again = client.components.create({**train, "environment": "azureml:tiny-env@latest", "version": "3"},
                                     base_dir=files)  # fmt: skip
    assert again.environment == "azureml:tiny-env:4"


def test_additional_includes_are_accepted_with_a_warning(client: Client, files: Path) -> None:
    from batchpoint.components.specs import ComponentWarning

    train = yaml.safe_load((files / "train.yml").read_text())
    with pytest.warns(ComponentWarning, match="additional_includes is not supported"):
        made = client.components.create({**train, "additional_includes": ["../shared"]}, base_dir=files)
    assert made.version == "1"
