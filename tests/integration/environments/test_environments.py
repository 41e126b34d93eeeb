"""Deployments in their own environments: pinned packages, the build cache, old pickles, build failures."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import OLD_REQUIREMENTS, SKLEARN_OLD, Space, cli_command, run_cli

pytestmark = pytest.mark.timeout(900)

VERSION_SCRIPT = """
import os, sys
import sklearn

def run(mini_batch):
    return [(os.path.basename(path), sklearn.__version__, sys.executable) for path in mini_batch]
"""

PICKLE_SCRIPT = """
import os, pickle, warnings
import numpy as np
import sklearn

def init():
    global model, caught
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "rf", "model.pkl"), "rb") as fh:
            model = pickle.load(fh)

def run(mini_batch):
    rows = []
    for path in mini_batch:
        x = np.loadtxt(path, delimiter=",", ndmin=2)
        for i, p in enumerate(model.predict(x)):
            rows.append((os.path.basename(path), i, int(p), sklearn.__version__, len(caught)))
    return rows
"""

TRAIN_OLD_MODEL = """
import json, pickle, sys
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
x, y = load_iris(return_X_y=True)
model = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
with open(sys.argv[1], "wb") as fh:
    pickle.dump(model, fh)
json.dump([int(p) for p in model.predict(x)], open(sys.argv[2], "w"))
"""


def _inputs(folder: Path, n_files: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        (folder / f"f{i}.txt").write_text(f"{i}\n")
    return folder


def _placeholder_model(space: Space, name: str) -> dict[str, str]:
    (space.root / name / "model").mkdir(parents=True, exist_ok=True)
    (space.root / name / "model" / "README").write_text("no model: the scoring script reports versions\n")
    return {"name": f"{name}-model", "path": "model"}


def test_a_pinned_environment_is_built_once_and_reused(space: Space) -> None:
    import sklearn

    assert sklearn.__version__ != SKLEARN_OLD
    conda = (
        "name: old-sklearn\nchannels: [conda-forge]\ndependencies:\n"
        f"  - python=3.11\n  - pip\n  - scikit-learn={SKLEARN_OLD}\n  - pip:\n    - numpy<1.25\n"
    )
    space.deploy(
        "pinned",
        {
            "model": _placeholder_model(space, "pinned"),
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "environment": {
                "name": "old-sklearn",
                "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
                "conda_file": "conda.yaml",
            },
            "settings": {"max_concurrency_per_instance": 2, "mini_batch_size": 1},
        },
        files={"code/score.py": VERSION_SCRIPT, "conda.yaml": conda},
    )
    data = _inputs(space.root / "data")
    first = space.run("pinned", data)
    assert first.status == "Completed", first.message
    rows = read_rows_plain(Path(first.outputs["score"].file or ""))
    assert {r[1] for r in rows} == {SKLEARN_OLD}
    env = first.environment or {}
    assert (env["kind"], env["name"], env["version"]) == ("registered", "old-sklearn", "1")
    assert {r[2] for r in rows} == {env["python"]}
    assert env["build_seconds"] > 0 and env["reused"] is False
    assert "image 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest' is recorded and ignored" in env["note"]
    log = Path(env["build_log"]).read_text()
    assert f"scikit-learn=={SKLEARN_OLD}" in log and "# built in" in log

    second = run_cli(space.root, "batch-endpoint", "invoke", "-n", "env-ep", "-d", "pinned", "--input", str(data))
    final = space.client.jobs.wait(second["name"], timeout=300)
    assert final.status == "Completed", final.message
    shown = run_cli(space.root, "job", "show", "-n", second["name"], "--query", "environment")
    assert shown["build_seconds"] == 0 and shown["reused"] is True
    assert shown["spec_hash"] == env["spec_hash"] and shown["build_log"] == env["build_log"]


def read_rows_plain(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines() if line]


@pytest.mark.filterwarnings("ignore:Trying to unpickle estimator")
def test_a_model_pickled_by_an_old_scikit_learn_scores_in_its_pinned_environment(space: Space, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("\n".join(OLD_REQUIREMENTS) + "\n")
    created = run_cli(
        space.root, "environment", "create", "-n", "sk-old", "--pip-requirements", str(tmp_path / "requirements.txt")
    )
    assert created["pip_requirements"] == OLD_REQUIREMENTS
    built = run_cli(space.root, "environment", "build", "-n", "sk-old")
    assert built["reused"] is False and Path(built["python"]).is_file()
    assert run_cli(space.root, "environment", "build", "-n", "sk-old")["reused"] is True

    # Train and pickle with the old scikit-learn, in the environment that was just built.
    model_dir = tmp_path / "rf"
    model_dir.mkdir()
    (tmp_path / "train.py").write_text(TRAIN_OLD_MODEL)
    subprocess.run(
        [built["python"], str(tmp_path / "train.py"), str(model_dir / "model.pkl"), str(tmp_path / "expected.json")],
        check=True,
    )
    with open(model_dir / "model.pkl", "rb") as fh, pytest.raises(ValueError, match="incompatible dtype"):
        pickle.load(fh)  # today's scikit-learn cannot read a forest pickled by 1.1

    from sklearn.datasets import load_iris

    x, _ = load_iris(return_X_y=True)
    data = tmp_path / "data"
    data.mkdir()
    for i, chunk in enumerate((x[:60], x[60:])):
        (data / f"part{i}.csv").write_text("\n".join(",".join(str(v) for v in row) for row in chunk) + "\n")
    space.deploy(
        "old-model",
        {
            "model": {"name": "old-rf", "path": str(model_dir)},
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "environment": "azureml:sk-old@latest",
        },
        files={"code/score.py": PICKLE_SCRIPT},
    )
    job = space.run("old-model", data)
    assert job.status == "Completed", job.message
    rows = read_rows_plain(Path(job.outputs["score"].file or ""))
    expected = json.loads((tmp_path / "expected.json").read_text())
    predictions = [int(r[2]) for r in sorted(rows, key=lambda r: (r[0], int(r[1])))]
    assert predictions == expected
    assert {r[3] for r in rows} == {SKLEARN_OLD} and {r[4] for r in rows} == {"0"}  # no version warning
    env = job.environment or {}
    assert env["reused"] is True and env["build_seconds"] == 0 and env["python"] == built["python"]


def test_a_failed_build_fails_the_job_while_preparing_with_the_resolvers_message(space: Space) -> None:
    space.deploy(
        "broken",
        {
            "model": _placeholder_model(space, "broken"),
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "environment": {"name": "broken-env", "pip_requirements": ["batchpoint-no-such-package-xyz==0.0.1"]},
        },
        files={"code/score.py": VERSION_SCRIPT},
    )
    job = space.run("broken", _inputs(space.root / "data"))
    assert job.status == "Failed"
    reason = job.failure_reason or ""
    assert reason.startswith("environment broken-env:1 did not build: 'uv pip install' failed:")
    assert "batchpoint-no-such-package-xyz" in reason  # uv's own words name the package
    log = reason.rsplit("(build log: ", 1)[1].rstrip(")").split(")")[0]
    assert Path(log).is_file() and "build FAILED" in Path(log).read_text()
    assert job.progress.mini_batches.total == 0
    assert not list(Path(log).parent.glob("venv*"))  # nothing half-built is left


def test_a_python_version_is_honoured_when_this_machine_has_it(space: Space) -> None:
    from batchpoint.environments.builder import find_interpreter, uv_binary

    other = "3.12" if sys.version_info[:2] != (3, 12) else "3.13"
    found, warning = find_interpreter(other, uv_binary())
    space.client.environments.create("py-other", python_version=other)
    script = "import os, sys\ndef run(mini_batch):\n    return [(os.path.basename(p), sys.version.split()[0]) for p in mini_batch]\n"
    space.deploy(
        "other-python",
        {
            "model": _placeholder_model(space, "other-python"),
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "environment": "azureml:py-other@latest",
        },
        files={"code/score.py": script},
    )
    job = space.run("other-python", _inputs(space.root / "data", 2))
    assert job.status == "Completed", job.message
    versions = {r[1] for r in read_rows_plain(Path(job.outputs["score"].file or ""))}
    env = job.environment or {}
    assert versions == {env["python_version"]} == {found.version}
    if warning is None:  # the runtime imported under another Python, with nothing installed but the stdlib
        assert found.version.startswith(other + ".")
    else:
        assert f"Python {other} was asked for" in env["note"]


def test_conda_only_packages_are_refused_by_name(space: Space) -> None:
    space.client.environments.create("mkl-env", conda_file=str(_conda(space.root, "  - numpy\n  - mkl\n")))
    space.deploy(
        "mkl",
        {
            "model": _placeholder_model(space, "mkl"),
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "environment": "azureml:mkl-env@latest",
        },
        files={"code/score.py": VERSION_SCRIPT},
    )
    job = space.run("mkl", _inputs(space.root / "data", 1))
    assert job.status == "Failed"
    assert "conda package 'mkl' has no pip equivalent" in (job.failure_reason or "")


def _conda(folder: Path, deps: str) -> Path:
    path = folder / "conda.yaml"
    path.write_text(f"name: e\ndependencies:\n  - python=3.11\n{deps}")
    return path


def test_two_builds_of_one_environment_at_once_build_it_once(space: Space, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    space.client.environments.create("tiny", pip_requirements=tmp_path / "requirements.txt")
    command, env = cli_command("environment", "build", "-n", "tiny")
    procs = [
        subprocess.Popen(command, cwd=space.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [json.loads(proc.communicate(timeout=300)[0]) for proc in procs]
    assert sorted(r["reused"] for r in results) == [False, True]
    assert results[0]["path"] == results[1]["path"]
    log = Path(results[0]["build_log"]).read_text()
    assert log.count(" venv --relocatable ") == 1 and "# built in" in log
