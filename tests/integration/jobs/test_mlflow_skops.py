"""scikit-learn models saved by MLflow in the skops format (MLflow 3's default), deployed with no code.

Saving needs ``skops`` (the ``mlflow`` extra brings it); loading goes through the built-in scorer,
which leaves skops's trusted types to what the model's MLmodel file records. Jobs run in
batchpoint's interpreter (``BATCHPOINT_MLFLOW_ENVIRONMENT=current``), so nothing is built; the
model's own environment is checked by resolving it, not by building it.
"""

from __future__ import annotations

import logging
import operator
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow", reason="the mlflow extra is not installed (pip install -e '.[mlflow]')")
pytest.importorskip("skops", reason="skops is not installed: it comes with the mlflow extra")
pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore:.*input example was not provided"),
    pytest.mark.filterwarnings("ignore:.*pickle or cloudpickle format"),
]

import mlflow.sklearn  # noqa: E402
import pandas as pd  # noqa: E402
import sklearn  # noqa: E402

from batchpoint import Client  # noqa: E402
from batchpoint.common import yamlio  # noqa: E402
from batchpoint.environments.definitions import from_model  # noqa: E402
from batchpoint.registry.schemas import Model  # noqa: E402
from batchpoint.runtime import mlflow_scorer  # noqa: E402
from batchpoint.runtime.results import PartialResult  # noqa: E402

SKOPS = mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS
# Explicit requirements skip MLflow's inference, which loads the model in a subprocess (slow).
FAST_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}"]


def iris() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_iris

    x, y = load_iris(as_frame=True, return_X_y=True)
    return x, y


def logistic_regression() -> Any:
    from sklearn.linear_model import LogisticRegression

    x, y = iris()
    return LogisticRegression(max_iter=500).fit(x, y)


def negating_pipeline() -> Any:
    """A pipeline with a function skops does not trust by default (``_operator.neg``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x, y = iris()
    return make_pipeline(FunctionTransformer(operator.neg), LogisticRegression(max_iter=500)).fit(x, y)


def flavor(folder: Path) -> dict[str, Any]:
    conf: dict[str, Any] = yamlio.load_file(folder / "MLmodel")["flavors"]["sklearn"]
    return conf


def as_model(folder: Path) -> tuple[Model, Path]:
    """A registry record for a model saved in ``folder``, and its ``AZUREML_MODEL_DIR``."""
    return Model(name="iris-skops", version="1", type="mlflow_model", path=folder.name, manifest="x"), folder.parent


class Saved:
    """A skops-format iris model with the requirements MLflow chose itself."""

    def __init__(self, root: Path) -> None:
        self.estimator = logistic_regression()
        self.folder = root / "iris-skops"
        mlflow.sklearn.save_model(self.estimator, str(self.folder), serialization_format=SKOPS)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    return Saved(tmp_path_factory.mktemp("skops"))


@pytest.fixture
def scorer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The built-in scorer in this process, its module state restored afterwards."""
    monkeypatch.setenv(mlflow_scorer.INPUT_ROOT_VARIABLE, str(tmp_path))
    saved_state = dict(mlflow_scorer._state)
    yield
    mlflow_scorer._state.clear()
    mlflow_scorer._state.update(saved_state)


# -- saving ----------------------------------------------------------------------------------------------
def test_saving_with_mlflows_default_format_works(tmp_path: Path) -> None:
    """The reproduction: with MLflow 3 this failed with ``No module named 'skops'``."""
    mlflow.sklearn.save_model(logistic_regression(), str(tmp_path / "m"), pip_requirements=FAST_REQUIREMENTS)
    conf = flavor(tmp_path / "m")
    assert conf["serialization_format"] in mlflow.sklearn.SUPPORTED_SERIALIZATION_FORMATS
    if conf["serialization_format"] == SKOPS:
        assert (tmp_path / "m" / "model.skops").is_file()


def test_mlflow_lists_skops_in_the_requirements_it_chooses(saved: Saved) -> None:
    conf = flavor(saved.folder)
    assert conf["serialization_format"] == SKOPS and conf["skops_trusted_types"] is None
    requirements = (saved.folder / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("skops==") for line in requirements), requirements


# -- the model's own environment ---------------------------------------------------------------------------
def test_the_model_environment_keeps_the_skops_mlflow_listed(saved: Saved) -> None:
    request = from_model(*as_model(saved.folder))
    skops_lines = [line for line in request.requirements if line.startswith("skops")]
    assert len(skops_lines) == 1 and skops_lines[0].startswith("skops==")
    assert not any("added skops" in note for note in request.notes)


def test_the_model_environment_gets_skops_when_the_user_chose_the_requirements(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    mlflow.sklearn.save_model(
        logistic_regression(), str(folder), serialization_format=SKOPS, pip_requirements=FAST_REQUIREMENTS
    )
    assert "skops" not in (folder / "requirements.txt").read_text()  # MLflow keeps the user's list as it is
    request = from_model(*as_model(folder))
    assert "skops" in request.requirements
    assert any("saved in the skops format" in note for note in request.notes)


def test_a_pickled_model_environment_gets_no_skops(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    mlflow.sklearn.save_model(
        logistic_regression(), str(folder), serialization_format="cloudpickle", pip_requirements=FAST_REQUIREMENTS
    )
    assert not any(line.startswith("skops") for line in from_model(*as_model(folder)).requirements)


# -- the built-in scorer in process: trusted types -----------------------------------------------------------
def _score(folder: Path, frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(folder))
    mlflow_scorer.init()
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    result = mlflow_scorer.run([str(path)])
    assert isinstance(result, PartialResult) and not result.failed, result.failed
    return [int(p) for p in result.rows["prediction"]]


def test_a_model_that_needs_trusted_types_loads_with_those_mlflow_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, scorer: None
) -> None:
    estimator = negating_pipeline()
    with pytest.raises(mlflow.exceptions.MlflowException, match="skops_trusted_types"):
        mlflow.sklearn.save_model(estimator, str(tmp_path / "refused"), serialization_format=SKOPS)
    folder = tmp_path / "m"
    mlflow.sklearn.save_model(
        estimator, str(folder), serialization_format=SKOPS, skops_trusted_types=["_operator.neg"],
        pip_requirements=FAST_REQUIREMENTS,
    )  # fmt: skip
    assert flavor(folder)["skops_trusted_types"] == ["_operator.neg"]
    x, _ = iris()
    with caplog.at_level(logging.INFO, logger="batchpoint.mlflow_scorer"):
        predictions = _score(folder, x.iloc[::7], tmp_path, monkeypatch)
    assert predictions == [int(p) for p in estimator.predict(x.iloc[::7])]
    assert "types trusted beyond skops's defaults: _operator.neg" in caplog.text


def test_the_scorer_trusts_no_type_the_model_does_not_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scorer: None
) -> None:
    from skops.io.exceptions import UntrustedTypesFoundException

    folder = tmp_path / "m"
    mlflow.sklearn.save_model(
        negating_pipeline(), str(folder), serialization_format=SKOPS, skops_trusted_types=["_operator.neg"],
        pip_requirements=FAST_REQUIREMENTS,
    )  # fmt: skip
    mlmodel = yamlio.load_file(folder / "MLmodel")
    mlmodel["flavors"]["sklearn"]["skops_trusted_types"] = None
    (folder / "MLmodel").write_text(yamlio.dumps(mlmodel))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(folder))
    with pytest.raises(UntrustedTypesFoundException, match="_operator.neg"):
        mlflow_scorer.init()


def test_a_skops_model_without_skops_installed_names_the_package(
    saved: Saved, monkeypatch: pytest.MonkeyPatch, scorer: None
) -> None:
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(saved.folder))
    with pytest.raises(ImportError, match="saved in the skops format .* add skops to the environment"):
        mlflow_scorer.init()


# -- a no-code deployment and a job ------------------------------------------------------------------------
def _deploy(client: Client, root: Path, folder: Path) -> None:
    client.batch_endpoints.create_from_file(None, name="skops-ep")
    model = client.models.create("iris-skops", folder, type="mlflow_model")
    spec = {
        "name": "nocode",
        "endpoint_name": "skops-ep",
        "type": "model",
        "model": f"azureml:{model.name}:{model.version}",
        # batchpoint's interpreter has skops through the mlflow extra; the model's own environment
        # would be built from PyPI, which test_mlflow_nocode.py already covers.
        "settings": {"environment_variables": {"BATCHPOINT_MLFLOW_ENVIRONMENT": "current"}},
    }
    (root / "deployment.yml").write_text(yamlio.dumps(spec))
    client.batch_deployments.create_from_file(root / "deployment.yml")


def test_a_skops_model_deploys_with_no_code(saved: Saved, client: Client, tmp_path: Path) -> None:
    _deploy(client, tmp_path, saved.folder)
    x, _ = iris()
    frames = {"a.csv": x.iloc[:60], "b.csv": x.iloc[60:]}
    data = tmp_path / "data"
    data.mkdir()
    for name, frame in frames.items():
        frame.to_csv(data / name, index=False)
    job = client.batch_endpoints.invoke("skops-ep", deployment_name="nocode", input=str(data))
    final = client.jobs.wait(job.name, timeout=300)
    assert final.status == "Completed", final.message
    assert (final.environment or {}).get("kind") == "current"
    assert final.progress.items.succeeded == 2 and final.progress.items.failed == 0
    output = pd.read_csv(final.outputs["score"].file or "")
    got = sorted(zip(output["file"], output["row"], output["prediction"], strict=True))
    expected = sorted(
        (name, row, int(p)) for name, frame in frames.items() for row, p in enumerate(saved.estimator.predict(frame))
    )
    assert got == expected
