"""Resolving environments without building them: conda files in pip terms, a model's own environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint.environments.conda import translate
from batchpoint.environments.definitions import from_model, from_registered
from batchpoint.errors import InvalidInput
from batchpoint.registry.schemas import Environment, Model


def test_conda_packages_become_pip_requirements() -> None:
    conda = {
        "name": "scoring",
        "channels": ["conda-forge", "pytorch"],
        "dependencies": [
            "python=3.11.5",
            "pip=23.2",
            "setuptools",
            "openssl",
            "libgcc-ng=13.2.0=h807b86a_2",
            "conda-forge::scikit-learn=1.1",
            "numpy==1.24.4",
            "pandas>=1.5,<2.1",
            "pytorch=2.1.0=py3.11_cpu_0",
            "py-xgboost 1.7.6 cpu_py311",
            "pyarrow 14.*",
            {"pip": ["mlflow-skinny==2.10", "# a comment", "  azureml-core  "]},
        ],
    }
    result = translate(conda)
    assert result.python_version == "3.11.5"
    assert result.requirements == [
        "scikit-learn==1.1.*",
        "numpy==1.24.4",
        "pandas>=1.5,<2.1",
        "torch==2.1.0.*",
        "xgboost==1.7.6",
        "pyarrow==14.*",
        "mlflow-skinny==2.10",
        "azureml-core",
    ]
    assert result.notes == [
        "conda packages not needed in a pip environment were left out: pip, setuptools, openssl, libgcc-ng"
    ]


@pytest.mark.parametrize(
    ("spec", "python"),
    [("python=3.10", "3.10"), ("python==3.12.1", "3.12.1"), ("python 3.11.*", "3.11"), ("python>=3.8", None)],
)
def test_conda_python_versions(spec: str, python: str | None) -> None:
    assert translate({"dependencies": [spec]}).python_version == python


@pytest.mark.parametrize("package", ["mkl", "cudatoolkit=11.8", "r-base", "cuda-nvcc"])
def test_conda_only_packages_are_named(package: str) -> None:
    with pytest.raises(InvalidInput) as info:
        translate({"dependencies": ["numpy", package]})
    name = package.split("=")[0]
    assert f"conda package '{name}' has no pip equivalent" in info.value.message
    assert info.value.field == "conda_file.dependencies[1]"


def test_a_registered_environment_drops_azure_runtime_packages_and_notes_the_image() -> None:
    env = Environment(
        name="e", version="2", spec_hash="x", image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
        conda_file={"dependencies": ["python=3.8", {"pip": ["azureml-core==1.50", "azureml_defaults", "scipy"]}]},
        pip_requirements=["joblib"], python_version=None,
    )  # fmt: skip
    request = from_registered(env)
    assert (request.kind, request.python_version, request.requirements) == ("registered", "3.8", ["scipy", "joblib"])
    assert request.notes == [
        "image 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest' is recorded and ignored locally",
        "left out azureml-core, azureml-defaults: Azure's batch runtime needs them, batchpoint's does not",
    ]
    image_only = from_registered(Environment(name="i", version="1", spec_hash="y", image="ubuntu:22.04"))
    assert image_only.kind == "current"


def _model(tmp_path: Path, files: dict[str, str]) -> tuple[Model, Path]:
    base = tmp_path / "model-dir"
    for name, text in files.items():
        (base / "m" / name).parent.mkdir(parents=True, exist_ok=True)
        (base / "m" / name).write_text(text)
    model_type = "mlflow_model" if "MLmodel" in files else "custom_model"
    return Model(name="m", version="3", type=model_type, path="m", manifest="x"), base


MLMODEL = """
flavors:
  python_function:
    env: {conda: conda.yaml, virtualenv: python_env.yaml}
    loader_module: mlflow.sklearn
    python_version: 3.11.4
mlflow_version: 2.22.0
"""


def test_an_mlflow_model_environment_reads_python_env_and_requirements(tmp_path: Path) -> None:
    model, base = _model(
        tmp_path,
        {
            "MLmodel": MLMODEL,
            "python_env.yaml": "python: 3.11.4\nbuild_dependencies: [pip]\ndependencies:\n- -r requirements.txt\n",
            "requirements.txt": "mlflow==2.22.0\n-r extra.txt\n-c constraints.txt\nscikit-learn==1.1.3\npandas<2.1\n",
            "extra.txt": "# more\nxgboost==1.3.3\n",
            "constraints.txt": "numpy<1.25\n",
            "conda.yaml": "dependencies: [python=3.9, mkl]\n",  # not read: python_env.yaml wins
        },
    )
    request = from_model(model, base)
    assert (request.kind, request.model, request.python_version) == ("model", "azureml:m:3", "3.11.4")
    assert request.requirements == [
        "mlflow-skinny==2.22.0",
        "xgboost==1.3.3",
        f"-c {(base / 'm' / 'constraints.txt').resolve()}",
        "scikit-learn==1.1.3",
        "pandas<2.1",
        "pyarrow",
        "pillow",
    ]


def test_an_mlflow_model_with_only_a_conda_file_gets_mlflow_skinny_at_its_version(tmp_path: Path) -> None:
    model, base = _model(
        tmp_path,
        {"MLmodel": MLMODEL.replace("virtualenv: python_env.yaml", "virtualenv: missing.yaml"),
         "conda.yaml": "dependencies:\n- python=3.11\n- pip:\n  - scikit-learn\n  - pandas\n"},
    )  # fmt: skip
    request = from_model(model, base)
    assert request.python_version == "3.11"
    assert request.requirements == ["scikit-learn", "pandas", "mlflow-skinny==2.22.0", "pyarrow", "pillow"]
    assert "added mlflow-skinny, which loads the model" in request.notes


def test_a_custom_model_with_requirements_gets_nothing_added(tmp_path: Path) -> None:
    model, base = _model(tmp_path, {"requirements.txt": "torch==2.1\n", "weights.bin": "0"})
    assert from_model(model, base).requirements == ["torch==2.1"]


def test_a_model_without_environment_files_is_refused(tmp_path: Path) -> None:
    model, base = _model(tmp_path, {"weights.bin": "0"})
    with pytest.raises(InvalidInput, match="has no python_env.yaml, requirements.txt or conda.yaml"):
        from_model(model, base)
    model, base = _model(tmp_path / "x", {"requirements.txt": "-r ../../outside.txt\n"})
    with pytest.raises(InvalidInput, match="points outside the model folder"):
        from_model(model, base)
