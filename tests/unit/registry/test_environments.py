from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint.errors import Conflict, InvalidInput, NotFound
from batchpoint.registry.environments import spec_hash
from batchpoint.registry.specs import EnvironmentSpec
from batchpoint.services import Services

from .conftest import add_deployment

CONDA = "name: scoring\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip:\n    - pandas\n"


def _env_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "environment"
    folder.mkdir()
    (folder / "conda.yaml").write_text(CONDA)
    (folder / "requirements.txt").write_text("# pinned\nscikit-learn==1.1.3\n\n  xgboost==1.3.3  \n")
    return folder


def test_environment_yaml_stores_file_contents(services: Services, tmp_path: Path) -> None:
    folder = _env_folder(tmp_path)
    spec = tmp_path / "env.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
        "name: batch-torch\n"
        "image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest\n"
        "conda_file: environment/conda.yaml\n"
        "pip_requirements: environment/requirements.txt\n"
        "python_version: 3.11\n"
        "description: torch for batch\n"
        "inference_config: {liveness_route: {path: /, port: 5001}}\n"
    )
    env = services.environments.create_from_file(spec)
    assert (env.name, env.version, env.python_version) == ("batch-torch", "1", "3.11")
    assert env.conda_file is not None and env.conda_file["dependencies"][0] == "python=3.11"
    assert env.pip_requirements == ["scikit-learn==1.1.3", "xgboost==1.3.3"]
    assert env.inference_config == {"liveness_route": {"path": "/", "port": 5001}}
    assert env.spec_hash == spec_hash(
        {
            "image": env.image,
            "conda_file": env.conda_file,
            "pip_requirements": env.pip_requirements,
            "python_version": "3.11",
        }
    )
    (folder / "conda.yaml").write_text("dependencies: [python=3.9]\n")  # later edits change nothing stored
    assert services.environments.get("batch-torch", "1").conda_file == env.conda_file
    second = services.environments.create_from_file(spec)
    assert second.version == "2" and second.spec_hash != env.spec_hash


def test_environment_errors_name_the_field(services: Services, tmp_path: Path) -> None:
    spec = tmp_path / "env.yml"
    spec.write_text("name: e\nconda_file: missing.yaml\n")
    with pytest.raises(InvalidInput) as info:
        services.environments.create_from_file(spec)
    assert (info.value.field, info.value.file) == ("conda_file", str(spec))
    (tmp_path / "broken.yaml").write_text("dependencies: [\n")
    with pytest.raises(InvalidInput, match="malformed YAML") as info:
        services.environments.create_from_file(spec, conda_file=str(tmp_path / "broken.yaml"))
    assert info.value.field == "conda_file"
    spec.write_text("name: e\ndescription: nothing to install\n")
    with pytest.raises(InvalidInput, match="at least one of"):
        services.environments.create_from_file(spec)
    assert services.environments.list() == []


def test_inline_environments_are_reused_by_content(services: Services, tmp_path: Path) -> None:
    folder = _env_folder(tmp_path)
    inline = {"image": "python:3.11", "conda_file": "conda.yaml"}
    first = services.environments.create_inline(inline, base_dir=folder)
    assert first.name == f"anon-env-{first.spec_hash[:12]}" and first.version == "1"
    again = services.environments.create_inline(dict(inline), base_dir=folder)
    assert (again.name, again.version) == (first.name, first.version)
    assert len(services.environments.list()) == 1
    other = services.environments.create_inline({"image": "python:3.12"}, base_dir=folder)
    assert other.name != first.name

    named = {"name": "batch-env", "image": "python:3.11", "conda_file": "conda.yaml"}
    assert services.environments.create_inline(named, base_dir=folder).version == "1"
    assert services.environments.create_inline(named, base_dir=folder).version == "1"
    changed = {**named, "image": "python:3.12"}
    assert services.environments.create_inline(changed, base_dir=folder).version == "2"
    with pytest.raises(Conflict):
        services.environments.create_inline({**changed, "version": "1"}, base_dir=folder)

    with pytest.raises(InvalidInput) as info:
        services.environments.create_inline({"conda_file": "nope.yml"}, base_dir=folder, file="deployment.yml")
    assert (info.value.field, info.value.file) == ("environment.conda_file", "deployment.yml")
    with pytest.raises(InvalidInput) as info:
        services.environments.create_inline({"name": "a/b", "image": "x"}, base_dir=folder, file="d.yml")
    assert info.value.field == "environment.name"
    with pytest.raises(InvalidInput) as info:
        services.environments.create_inline({"image": "x", "imagee": "y"}, base_dir=folder, file="d.yml")
    assert info.value.field == "environment.imagee"


def test_environment_lifecycle_and_in_use(services: Services) -> None:
    envs = services.environments
    envs.create(EnvironmentSpec(name="e", image="python:3.11"))
    envs.create(EnvironmentSpec(name="e", pip_requirements=["pandas"]))
    assert envs.resolve("azureml:e:1").image == "python:3.11"
    assert envs.resolve("azureml:e@latest").pip_requirements == ["pandas"]
    with pytest.raises(NotFound) as info:
        envs.resolve("azureml:e:7", file="deployment.yml")
    assert (info.value.field, info.value.file) == ("environment", "deployment.yml")
    add_deployment(services, endpoint="ep", name="green", spec={"environment": "azureml:e:1"})
    with pytest.raises(Conflict, match="ep/green"):
        envs.delete("e", "1")
    with pytest.raises(Conflict, match="ep/green"):
        envs.archive("e")
    assert envs.archive("e", "2").archived
    assert envs.get("e").version == "1"
    assert envs.restore("e", "2").archived is False
    envs.delete("e", "2")
    assert [e.version for e in envs.list(include_archived=True)] == ["1"]
    assert envs.find_by_hash(envs.get("e", "1").spec_hash)[0].version == "1"
