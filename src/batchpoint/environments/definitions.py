"""Which environment a job runs in, resolved to a Python version and pip requirement lines.

Three kinds:

* ``registered``: an environment asset (``azureml:NAME:VERSION``), from its ``conda_file``,
  ``pip_requirements`` and ``python_version``; its ``image`` is recorded and ignored with a note.
* ``model``: the model's own environment, read the way ``mlflow models serve`` reads it
  (``python_env.yaml`` and ``requirements.txt``, else ``conda.yaml``). For MLflow models ``mlflow`` is
  installed as ``mlflow-skinny`` (added when the model does not list it), and ``pandas``, ``pyarrow``
  and ``pillow`` are added when missing, so the built-in scorer can read every supported file type
  and a no-code and a scripted deployment of the same model share one environment. A scikit-learn
  model saved in the ``skops`` format also gets ``skops``, which loads it: MLflow lists it only when
  it chose the requirements itself, not when ``pip_requirements`` or ``conda_env`` were given.
* ``current``: batchpoint's own interpreter, nothing to build.

A deployment without ``environment`` runs in ``current``, except a no-code MLflow deployment,
which runs in ``model`` unless ``BATCHPOINT_MLFLOW_ENVIRONMENT=current`` is set (in the deployment's
``settings.environment_variables``, at invoke time with ``--set``, or in the environment of the
process that runs the job).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from batchpoint.common import yamlio
from batchpoint.environments.conda import translate
from batchpoint.errors import InvalidInput

if TYPE_CHECKING:
    from batchpoint.jobs.schemas import RunSpec
    from batchpoint.registry.schemas import Environment, Model
    from batchpoint.services import Services

MLFLOW_ENVIRONMENT_VARIABLE = "BATCHPOINT_MLFLOW_ENVIRONMENT"
"""``model`` (default) or ``current``: where a no-code MLflow deployment without an environment runs."""

AZUREML_RUNTIME_PACKAGES = frozenset(
    {
        "azureml-core", "azureml-defaults", "azureml-dataset-runtime", "azureml-dataprep", "azureml-dataprep-rslex",
        "azureml-inference-server-http", "azureml-telemetry", "azureml-mlflow",
    }
)  # fmt: skip
"""Packages Azure's batch runtime needs in every environment; batchpoint's runtime does not."""

SCORER_PACKAGES = ("pandas", "pyarrow", "pillow")
"""What the built-in MLflow scorer reads files with, added to MLflow model environments that lack them."""

SKOPS_FORMAT = "skops"
"""``mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS``, MLflow 3's default: loading such a model imports ``skops``."""

Kind = Literal["registered", "model", "current"]
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


@dataclass
class EnvironmentRequest:
    """What to build: a Python version and requirement lines, with where they came from."""

    kind: Kind
    name: str | None = None
    version: str | None = None
    python_version: str | None = None
    requirements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    model: str | None = None
    """The model id, for ``kind == "model"``."""

    @property
    def label(self) -> str:
        if self.kind == "model":
            return f"the environment of model {self.model}"
        if self.kind == "registered":
            return f"environment {self.name}:{self.version}"
        return "batchpoint's interpreter"


def normalise_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str | None:
    """The normalised project name of a requirement line (None for options, URLs and paths)."""
    if line.startswith(("-", ".", "/")) or "://" in line.split(";")[0].split("@")[0]:
        return None
    match = _REQUIREMENT_NAME.match(line)
    return normalise_name(match.group(1)) if match else None


def drop_azureml_runtime(lines: list[str], notes: list[str]) -> list[str]:
    kept: list[str] = []
    dropped: list[str] = []
    for line in lines:
        name = requirement_name(line)
        (dropped if name in AZUREML_RUNTIME_PACKAGES else kept).append(line)
    if dropped:
        notes.append(
            f"left out {', '.join(requirement_name(d) or d for d in dropped)}: Azure's batch runtime needs them, "
            "batchpoint's does not"
        )
    return kept


# -- registered environments -------------------------------------------------------------------------
def from_registered(env: Environment) -> EnvironmentRequest:
    """A registered environment's dependencies; an image-only environment runs in batchpoint's interpreter."""
    notes: list[str] = []
    curated = (env.tags or {}).get("batchpoint.curated")
    if curated:
        notes.append(f"Azure ML curated environment {env.name}, approximated locally as {curated}")
    elif env.image:
        notes.append(f"image '{env.image}' is recorded and ignored locally")
    if env.build:
        notes.append("the Docker build context is recorded and ignored locally")
    python = env.python_version
    requirements: list[str] = []
    if env.conda_file:
        conda = translate(env.conda_file, field_name=f"environment {env.name}:{env.version}: conda_file")
        python = python or conda.python_version
        requirements += conda.requirements
        notes += conda.notes
    requirements += env.pip_requirements or []
    requirements = drop_azureml_runtime(requirements, notes)
    if not requirements and not python:
        notes.append("it lists no conda or pip dependencies, so jobs run in batchpoint's interpreter")
        return EnvironmentRequest(kind="current", name=env.name, version=env.version, notes=notes)
    return EnvironmentRequest(
        kind="registered", name=env.name, version=env.version, python_version=python,
        requirements=requirements, notes=notes,
    )  # fmt: skip


# -- the model's own environment -----------------------------------------------------------------------
def from_model(model: Model, model_dir: Path) -> EnvironmentRequest:
    """The environment a model was saved with (``model_dir`` is its ``AZUREML_MODEL_DIR``)."""
    folder = Path(model_dir) / model.path
    if not folder.is_dir():
        raise InvalidInput(
            f"model {model.id} is a single file: it has no requirements.txt or conda.yaml to build an environment from",
            field="environment",
            hint="give the deployment an environment (azureml:NAME:VERSION or an inline one)",
        )
    notes: list[str] = []
    mlmodel = _read_mlmodel(folder)
    pyfunc = (mlmodel.get("flavors") or {}).get("python_function") or {}
    python, requirements = _model_dependencies(folder, pyfunc, notes, model)
    if mlmodel:
        requirements = _with_mlflow_skinny(requirements, mlmodel.get("mlflow_version"), notes)
        python = python or pyfunc.get("python_version")
        requirements = _with_model_loader(requirements, mlmodel, notes)
        present = {requirement_name(line) for line in requirements}
        missing = [p for p in SCORER_PACKAGES if p not in present]
        if missing:
            requirements += missing
            notes.append(f"added {', '.join(missing)} for the built-in MLflow scorer")
    requirements = drop_azureml_runtime(requirements, notes)
    return EnvironmentRequest(
        kind="model", name="model", python_version=str(python) if python else None,
        requirements=requirements, notes=notes, model=model.id,
    )  # fmt: skip


def _read_mlmodel(folder: Path) -> dict[str, Any]:
    path = folder / "MLmodel"
    if not path.is_file():
        return {}
    data = yamlio.load_file(path)
    return data if isinstance(data, dict) else {}


def _model_dependencies(
    folder: Path, pyfunc: dict[str, Any], notes: list[str], model: Model
) -> tuple[str | None, list[str]]:
    """(Python version, requirement lines) from python_env.yaml + requirements.txt, else conda.yaml."""
    env_files = pyfunc.get("env")
    conda_name = env_files if isinstance(env_files, str) else (env_files or {}).get("conda")
    venv_name = (env_files or {}).get("virtualenv") if isinstance(env_files, dict) else None
    python_env = _inside(folder, venv_name or "python_env.yaml")
    if python_env.is_file():
        data = yamlio.load_file(python_env)
        lines = [str(line) for line in (data.get("dependencies") or [])]
        version = data.get("python")
        return (str(version) if version else None), _expand(lines, folder, folder)
    if (folder / "requirements.txt").is_file():
        return None, read_requirements(folder / "requirements.txt", folder)
    for name in filter(None, (conda_name, "conda.yaml", "conda.yml")):
        conda_path = _inside(folder, name)
        if conda_path.is_file():
            conda = translate(yamlio.load_file(conda_path), field_name=f"model {model.id}: {name}")
            notes.extend(conda.notes)
            return conda.python_version, conda.requirements
    raise InvalidInput(
        f"model {model.id} has no python_env.yaml, requirements.txt or conda.yaml to build its environment from",
        field="environment",
        hint="give the deployment an environment (azureml:NAME:VERSION or an inline one)",
    )


def _inside(folder: Path, name: str | Path) -> Path:
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise InvalidInput(f"'{name}' points outside the model folder", field="environment")
    return path


def read_requirements(path: Path, folder: Path) -> list[str]:
    """A requirements file's lines; ``-r`` files are inlined, ``-c`` files made absolute."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return _expand([line for line in lines if line and not line.startswith("#")], path.parent, folder)


def _expand(lines: list[str], base: Path, folder: Path) -> list[str]:
    out: list[str] = []
    for line in lines:
        option, _, rest = line.partition(" ")
        if option in ("-r", "--requirement") and rest.strip():
            out += read_requirements(_inside(folder, base / rest.strip()), folder)
        elif option in ("-c", "--constraint") and rest.strip():
            out.append(f"-c {_inside(folder, base / rest.strip())}")
        else:
            out.append(line)
    return out


def _with_mlflow_skinny(lines: list[str], mlflow_version: Any, notes: list[str]) -> list[str]:
    """``mlflow`` becomes ``mlflow-skinny`` (same version); added when missing."""
    out: list[str] = []
    has_skinny = any(requirement_name(line) == "mlflow-skinny" for line in lines)
    replaced = False
    for line in lines:
        if requirement_name(line) == "mlflow":
            if not has_skinny:
                match = _REQUIREMENT_NAME.match(line)
                out.append("mlflow-skinny" + (match.group(3) if match else ""))
                has_skinny = replaced = True
            continue
        out.append(line)
    if replaced:
        notes.append("mlflow is installed as mlflow-skinny (the same version, without the tracking server and UI)")
    if not has_skinny:
        out.append(f"mlflow-skinny=={mlflow_version}" if mlflow_version else "mlflow-skinny")
        notes.append("added mlflow-skinny, which loads the model")
    return out


def _with_model_loader(lines: list[str], mlmodel: dict[str, Any], notes: list[str]) -> list[str]:
    """``skops`` added for a scikit-learn model saved in the skops format whose requirements lack it.

    Unpinned: the skops file format is read by later skops versions, and the resolver then picks one
    that fits the model's scikit-learn pin.
    """
    sklearn_flavor = (mlmodel.get("flavors") or {}).get("sklearn") or {}
    if not isinstance(sklearn_flavor, dict) or sklearn_flavor.get("serialization_format") != SKOPS_FORMAT:
        return lines
    if any(requirement_name(line) == "skops" for line in lines):
        return lines
    notes.append("added skops: the scikit-learn model was saved in the skops format, and loading it needs skops")
    return [*lines, "skops"]


# -- a job's environment ---------------------------------------------------------------------------------
def for_job(ctx: Services, spec: RunSpec, model: Model | None, model_dir: Path | None) -> EnvironmentRequest:
    """The environment a job's workers run in."""
    builtin = spec.builtin_scorer == "mlflow"
    ref = spec.environment
    if ref == "model":
        if model is None or model_dir is None:
            raise InvalidInput("'environment: model' needs a deployment with a model", field="environment")
        return from_model(model, model_dir)
    if ref:
        return from_registered(ctx.environments.resolve(ref))
    if not builtin:
        return EnvironmentRequest(kind="current", notes=["the deployment names no environment"])
    choice = spec.settings.environment_variables.get(MLFLOW_ENVIRONMENT_VARIABLE) or os.environ.get(
        MLFLOW_ENVIRONMENT_VARIABLE, "model"
    )
    if choice == "current":
        note = f"{MLFLOW_ENVIRONMENT_VARIABLE}=current: the MLflow model runs in batchpoint's interpreter"
        return EnvironmentRequest(kind="current", notes=[note])
    if choice != "model":
        raise InvalidInput(
            f"{MLFLOW_ENVIRONMENT_VARIABLE} is '{choice}'; expected 'model' or 'current'",
            field=f"settings.environment_variables.{MLFLOW_ENVIRONMENT_VARIABLE}",
        )
    assert model is not None and model_dir is not None  # a no-code deployment always has an MLflow model
    return from_model(model, model_dir)
