"""MLflow models deployed without code: the built-in scorer, its output columns, per-file errors, environments.

One workspace for the module: the model's own environment is built by the first job (from PyPI,
through uv's cache) and every later job reuses it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Space, iris, read_errors, save_iris_mlflow_model

pytestmark = pytest.mark.timeout(900)

FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


class Iris:
    """The module's workspace: an MLflow model, a no-code deployment of it, and input folders."""

    def __init__(self, root: Path) -> None:
        self.space = Space(root / "ws")
        self.estimator = save_iris_mlflow_model(root / "iris-model")
        self.x, _ = iris()
        self.space.deploy(
            "nocode",
            {
                "model": {"name": "iris-mlflow", "path": str(root / "iris-model")},
                "settings": {"mini_batch_size": 2, "max_concurrency_per_instance": 2},
            },
        )
        self.data = root / "data"

    def folder(self, name: str, files: dict[str, Any]) -> Path:
        """Write ``{file name: DataFrame | bytes | str}`` into a fresh input folder."""
        folder = self.data / name
        folder.mkdir(parents=True)
        for file, content in files.items():
            path = folder / file
            if isinstance(content, bytes):
                path.write_bytes(content)
            elif isinstance(content, str):
                path.write_text(content)
            elif file.endswith(".csv"):
                content.to_csv(path, index=False)
            else:
                content.to_parquet(path)
        return folder

    def expected(self, frames: dict[str, Any]) -> list[tuple[str, int, int]]:
        return sorted(
            (name, row, int(p)) for name, df in frames.items() for row, p in enumerate(self.estimator.predict(df))
        )


@pytest.fixture(scope="module")
def iris_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Iris]:
    env = Iris(tmp_path_factory.mktemp("mlflow"))
    yield env
    env.space.close()


def _rows(space: Space, job: Any) -> list[tuple[str, int, int]]:
    return sorted((r["file"], int(r["row"]), int(r["prediction"])) for r in space.output(job))


def test_no_code_deployment_scores_a_csv_folder_in_the_models_environment(iris_ws: Iris) -> None:
    x = iris_ws.x
    frames = {"a.csv": x.iloc[:50], "b.csv": x.iloc[50:100], "nested/c.csv": x.iloc[100:]}
    folder = iris_ws.data / "csv"
    (folder / "nested").mkdir(parents=True)
    for name, df in frames.items():
        df.to_csv(folder / name, index=False)
    job = iris_ws.space.run("nocode", folder)
    assert job.status == "Completed", job.message
    with open(job.outputs["score"].file or "") as fh:
        assert fh.readline().strip() == "file,row,prediction"
    assert _rows(iris_ws.space, job) == iris_ws.expected(frames)
    assert job.progress.items.succeeded == 3 and job.progress.items.failed == 0
    env = job.environment or {}
    assert env["kind"] == "model" and env["model"] == "azureml:iris-mlflow:1"
    cache = iris_ws.space.client.workspace_path / "cache" / "envs" / env["spec_hash"]
    assert env["python"] == str(cache / "venv" / "bin" / "python") and Path(env["build_log"]).is_file()
    assert "mlflow-skinny" in (cache / "requirements.txt").read_text()
    summary = (iris_ws.space.job_dir(job) / "logs" / "environment.txt").read_text()
    assert env["build_log"] in summary


def test_no_code_deployment_scores_parquet_files(iris_ws: Iris) -> None:
    x = iris_ws.x
    frames = {"a.parquet": x.iloc[:70], "b.pqt": x.iloc[70:]}
    job = iris_ws.space.run("nocode", iris_ws.folder("parquet", frames))
    assert job.status == "Completed", job.message
    assert _rows(iris_ws.space, job) == iris_ws.expected(frames)


def test_a_corrupt_csv_and_an_avro_file_fail_alone(iris_ws: Iris) -> None:
    x = iris_ws.x
    corrupt = x.iloc[:5].astype(object)
    corrupt.iloc[3, 2] = "n/a?"
    good = {"a.csv": x.iloc[:40], "b.csv": x.iloc[40:80]}
    folder = iris_ws.folder("mixed", {**good, "corrupt.csv": corrupt, "data.avro": b"Obj\x01\x04\x14avro.codec"})
    job = iris_ws.space.run("nocode", folder)
    assert job.status == "Completed", job.message
    assert job.progress.items.succeeded == 2 and job.progress.items.failed == 2
    errors = {Path(e["file"]).name: e for e in read_errors(iris_ws.space.job_dir(job))}
    assert sorted(errors) == ["corrupt.csv", "data.avro"]
    assert errors["corrupt.csv"]["exception"] == "SchemaMismatch"
    assert errors["corrupt.csv"]["message"] == (
        "column 'petal length (cm)' expects double numbers: row 3 (line 5) has 'n/a?'"
    )
    assert errors["data.avro"]["exception"] == "UnsupportedFileType"
    assert errors["data.avro"]["message"].startswith("file type 'avro' is not supported by the MLflow scorer")
    assert _rows(iris_ws.space, job) == iris_ws.expected(good)


def test_missing_columns_are_named_with_their_types(iris_ws: Iris) -> None:
    frames = {"ok.csv": iris_ws.x.iloc[:3], "short.csv": iris_ws.x.iloc[:3].drop(columns=[FEATURES[3]])}
    job = iris_ws.space.run("nocode", iris_ws.folder("columns", frames))
    assert job.status == "Completed", job.message
    [error] = read_errors(iris_ws.space.job_dir(job))
    assert Path(error["file"]).name == "short.csv"
    assert error["message"].startswith("missing column 'petal width (cm)' (double) required by the model's signature")


def test_a_scripted_deployment_of_the_model_shares_its_environment(iris_ws: Iris) -> None:
    script = (
        "import os, sys\n"
        "import mlflow.pyfunc, pandas as pd\n"
        "def init():\n"
        "    global model\n"
        "    base = os.environ['AZUREML_MODEL_DIR']\n"
        "    model = mlflow.pyfunc.load_model(os.path.join(base, os.listdir(base)[0]))\n"
        "def run(mini_batch):\n"
        "    out = []\n"
        "    for path in mini_batch:\n"
        "        for p in model.predict(pd.read_csv(path)):\n"
        "            out.append((os.path.basename(path), int(p), sys.prefix))\n"
        "    return out\n"
    )
    iris_ws.space.deploy(
        "scripted",
        {
            "model": "azureml:iris-mlflow@latest",
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "environment": "model",
        },
        files={"code/score.py": script},
    )
    frames = {"s.csv": iris_ws.x.iloc[::10]}
    job = iris_ws.space.run("scripted", iris_ws.folder("scripted", frames))
    assert job.status == "Completed", job.message
    env = job.environment or {}
    assert env["kind"] == "model"
    with open(job.outputs["score"].file or "") as fh:
        rows = [line.strip().split(",") for line in fh if line.strip()]
    assert [int(r[1]) for r in rows] == [int(p) for p in iris_ws.estimator.predict(frames["s.csv"])]
    assert {r[2] for r in rows} == {str(Path(env["path"]))}


def test_the_current_interpreter_when_told(iris_ws: Iris) -> None:
    job = iris_ws.space.run(
        "nocode",
        iris_ws.folder("current", {"a.csv": iris_ws.x.iloc[:7]}),
        overrides={"environment_variables.BATCHPOINT_MLFLOW_ENVIRONMENT": "current"},
    )
    assert job.status == "Completed", job.message
    env = job.environment or {}
    assert env["kind"] == "current" and env["python"] == sys.executable
    assert "BATCHPOINT_MLFLOW_ENVIRONMENT=current" in env["note"]


def test_an_environment_without_mlflow_fails_while_preparing(iris_ws: Iris) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    iris_ws.space.client.environments.create("bare", python_version=version)
    iris_ws.space.deploy(
        "bare-env",
        {"model": "azureml:iris-mlflow@latest", "environment": "azureml:bare@latest"},
    )
    job = iris_ws.space.run("bare-env", iris_ws.folder("bare", {"a.csv": iris_ws.x.iloc[:3]}))
    assert job.status == "Failed"
    assert "the built-in MLflow scorer needs mlflow, which environment bare:1 does not have" in (job.message or "")
    assert "add mlflow-skinny" in (job.message or "")
    assert job.progress.mini_batches.total == 0  # it never got past Preparing


def test_the_model_environment_was_built_once(iris_ws: Iris) -> None:
    envs = [j.environment for j in iris_ws.space.client.jobs.list() if j.environment]
    model_envs = [e for e in envs if e["kind"] == "model"]
    if not model_envs:
        pytest.skip("no job of this module ran in the model environment")
    assert len({e["spec_hash"] for e in model_envs}) == 1
    assert sum(1 for e in model_envs if not e["reused"]) == 1
    assert all(e["build_seconds"] == 0 for e in model_envs if e["reused"])
