"""A training pipeline behind a batch endpoint, two deployments that differ in one literal, through the real CLI.

Azure's ``training-batch-scoring`` sequence with ``az ml`` renamed: register the training data and
two versions of the pipeline component (``--set inputs.n_estimators.default=…``: in Azure a
deployment carries no input values, each deployment is a published pipeline version), create the
endpoint and one deployment per version, invoke each by ``--deployment-name``, follow it, list its
child jobs and download both named outputs; then the default deployment again, which reuses every step.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from tests.conftest import Cli
from tests.e2e.pipelines.training_example import (
    COMPONENT,
    DEPLOYMENT_YML,
    ENDPOINT,
    read_csv,
    split_rows,
    write_training_project,
)

STEPS = ["prepare_data", "train_model", "evaluate_model"]
TREES = {"uci-heart-train-rf-small": 3, "uci-heart-train-rf-large": 9}
"""Each deployment and the ``n_estimators`` default of the pipeline version it runs (version 1, version 2)."""


def _show(cli: Cli, job: str) -> dict:
    return json.loads(cli("job", "show", "-n", job).stdout)


def _children(cli: Cli, job: str) -> list[str]:
    return sorted(cli("job", "list", "--parent-job-name", job, "--query", "[].name", "-o", "tsv").stdout.split())


def _invoke(cli: Cli, deployment: str) -> str:
    job = cli(
        "batch-endpoint", "invoke", "-n", ENDPOINT, "--deployment-name", deployment, "-f", "inputs.yml",
        "--query", "name", "-o", "tsv",
    ).stdout.strip()  # fmt: skip
    cli("job", "stream", "-n", job)
    return job


def _expected(workspace: Path, trees: int) -> list[dict[str, str]]:
    """predictions.csv as evaluate.py must write it for a forest of ``trees`` trained here on the same split."""
    from sklearn.ensemble import RandomForestClassifier

    train, test = split_rows(workspace)
    model = RandomForestClassifier(n_estimators=trees, random_state=0)
    model.fit([[float(v) for v in r[:-1]] for r in train], [int(r[-1]) for r in train])
    x = [[float(v) for v in r[:-1]] for r in test]
    return [
        {"row": str(i), "target": r[-1], "prediction": str(int(p)), "probability": repr(float(q))}
        for i, (r, p, q) in enumerate(zip(test, model.predict(x), model.predict_proba(x)[:, 1], strict=True))
    ]


def test_two_deployments_differing_in_one_literal_train_and_evaluate_their_own_models(
    workspace: Path, cli: Cli
) -> None:
    write_training_project(workspace)
    cli("data", "create", "--name", "heart-classifier-train", "--type", "uri_folder", "--path", "data")
    (small, large) = TREES
    # version 1 as the file says (n_estimators: 3); version 2 publishes it again with 9
    versions = [
        cli("component", "create", "-f", "pipeline.yml"),
        cli("component", "create", "-f", "pipeline.yml", "--version", "2", "--set", "inputs.n_estimators.default=9"),
    ]
    for (deployment, trees), registered in zip(TREES.items(), versions, strict=True):
        component = json.loads(registered.stdout)
        assert component["name"] == COMPONENT and component["inputs"]["n_estimators"]["default"] == trees
        (workspace / f"{deployment}.yml").write_text(
            DEPLOYMENT_YML.format(name=deployment, version=component["version"])
        )
    cli("batch-endpoint", "create", "-n", ENDPOINT)
    cli("batch-deployment", "create", "-f", f"{small}.yml", "--set-default")
    cli("batch-deployment", "create", "-f", f"{large}.yml")

    jobs: dict[str, str] = {}
    predictions: dict[str, list[dict[str, str]]] = {}
    for deployment, trees in TREES.items():
        job = jobs[deployment] = _invoke(cli, deployment)
        shown = _show(cli, job)
        assert shown["status"] == "Completed", shown["message"]
        assert (shown["type"], shown["deployment_name"]) == ("pipeline", deployment)
        assert [s["name"] for s in shown["steps"]] == STEPS
        assert shown["inputs"]["n_estimators"]["value"] == str(trees)  # the version's default, given by no one
        assert _children(cli, job) == sorted(f"{job}-{step}" for step in STEPS)

        for output in ("model", "evaluation_results"):
            cli("job", "download", "-n", job, "--output-name", output, "--download-path", f"dl-{deployment}")
        named = workspace / f"dl-{deployment}" / "named-outputs"
        assert (named / "model" / "MLmodel").is_file()
        model = pickle.loads((named / "model" / "model.pkl").read_bytes())
        assert model.n_estimators == len(model.estimators_) == trees
        metrics = json.loads((named / "evaluation_results" / "metrics.json").read_text())
        assert (metrics["n_estimators"], metrics["trees"]) == (trees, trees)
        rows = predictions[deployment] = read_csv(named / "evaluation_results" / "predictions.csv")
        assert rows == _expected(workspace, trees)  # row by row, value by value
        assert metrics["accuracy"] == sum(r["prediction"] == r["target"] for r in rows) / len(rows)
        _, test = split_rows(workspace)
        x = [[float(v) for v in r[:-1]] for r in test]
        assert [str(int(p)) for p in model.predict(x)] == [r["prediction"] for r in rows]  # the downloaded model

    assert [r["probability"] for r in predictions[small]] != [r["probability"] for r in predictions[large]]
    steps = {s["name"]: s for s in _show(cli, jobs[large])["steps"]}
    # the literal feeds train_model only: the second version's data preparation is the first's
    assert steps["prepare_data"]["reused_from"] == f"{jobs[small]}-prepare_data"
    assert steps["train_model"]["reused_from"] is None and steps["evaluate_model"]["reused_from"] is None

    again = cli(
        "batch-endpoint", "invoke", "-n", ENDPOINT, "-f", "inputs.yml", "--query", "name", "-o", "tsv"
    ).stdout.strip()  # the default deployment, with the same inputs
    cli("job", "stream", "-n", again)
    shown = _show(cli, again)
    assert (shown["status"], shown["deployment_name"]) == ("Completed", small)
    assert {s["name"]: s["reused_from"] for s in shown["steps"]} == {step: f"{jobs[small]}-{step}" for step in STEPS}
    assert _children(cli, again) == sorted(f"{again}-{step}" for step in STEPS)
    cli("job", "download", "-n", again, "--output-name", "evaluation_results", "--download-path", "dl-again")
    rows = read_csv(workspace / "dl-again" / "named-outputs" / "evaluation_results" / "predictions.csv")
    assert rows == predictions[small]
