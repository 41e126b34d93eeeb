"""Pipelines through the real console script, in the form of Azure's public batch-pipeline examples.

Each scenario is an Azure shell script's sequence with ``az ml`` renamed: register the models and
the prepare component, deploy the pipeline component behind a batch endpoint, invoke it with an
``inputs.yml``, follow it, list its child jobs and download the named output; then the same
pipeline as a job (``job create``), its reuse, and a pipeline driver killed and resumed.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.conftest import Cli
from tests.e2e.pipelines.examples import HELLO_YML, INPUTS_YML, expected_predictions, read_scores, write_project


def _register(cli: Cli) -> None:
    cli("model", "create", "--name", "heart-classifier", "--type", "mlflow_model", "--path", "model")
    cli("model", "create", "--name", "heart-classifier-transforms", "--type", "custom_model", "--path", "transforms")
    cli("component", "create", "-f", "components/prepare/prepare.yml")


def _children(cli: Cli, job: str) -> dict[str, dict]:
    listed = json.loads(cli("job", "list", "--parent-job-name", job).stdout)
    return {c["display_name"] or c["name"]: c for c in listed}


def _show(cli: Cli, job: str) -> dict:
    return json.loads(cli("job", "show", "-n", job).stdout)


def test_pipeline_deployment_scores_row_by_row(workspace: Path, cli: Cli) -> None:
    write_project(workspace)
    _register(cli)
    cli("batch-endpoint", "create", "-n", "uci-classifier-batch")
    cli("batch-deployment", "create", "-f", "deployment.yml", "--set-default")
    (workspace / "inputs.yml").write_text(INPUTS_YML.format(mode="append"))
    job = cli(
        "batch-endpoint", "invoke", "-n", "uci-classifier-batch", "--f", "inputs.yml", "--query", "name", "-o", "tsv"
    ).stdout.strip()
    cli("job", "stream", "-n", job)
    shown = _show(cli, job)
    assert shown["status"] == "Completed", shown["message"]
    assert shown["type"] == "pipeline"
    assert [s["name"] for s in shown["steps"]] == ["preprocess_job", "score_job"]
    assert all(s["status"] == "Completed" for s in shown["steps"])
    children = cli("job", "list", "--parent-job-name", job, "--query", "[].name", "-o", "tsv").stdout.split()
    assert sorted(children) == [f"{job}-preprocess_job", f"{job}-score_job"]
    cli("job", "download", "-n", job, "--output-name", "scores", "--download-path", "dl")
    rows = read_scores(workspace / "dl" / "named-outputs" / "scores" / "scores.csv")
    assert [int(r["prediction"]) for r in rows] == expected_predictions(workspace)
    assert {r["mode"] for r in rows} == {"append"}


def test_pipeline_job_reuses_identical_steps_and_reruns_downstream_of_a_change(workspace: Path, cli: Cli) -> None:
    write_project(workspace)
    _register(cli)
    first = cli("job", "create", "-f", "pipeline-job.yml", "--query", "name", "-o", "tsv").stdout.strip()
    cli("job", "stream", "-n", first)
    assert _show(cli, first)["status"] == "Completed"

    started = time.monotonic()
    second = cli("job", "create", "-f", "pipeline-job.yml", "--stream", "--query", "name", "-o", "tsv")
    elapsed = time.monotonic() - started
    name = second.stdout.strip().splitlines()[0]
    steps = {s["name"]: s for s in _show(cli, name)["steps"]}
    assert all(s["reused_from"] for s in steps.values()), steps
    assert steps["score_job"]["reused_from"] == f"{first}-score_job"
    assert elapsed < 15, elapsed  # nothing ran: two CLI processes and the planning

    third = cli(
        "job",
        "create",
        "-f",
        "pipeline-job.yml",
        "--set",
        "inputs.score_mode=overwrite",
        "--query",
        "name",
        "-o",
        "tsv",
    ).stdout.strip()
    cli("job", "stream", "-n", third)
    steps = {s["name"]: s for s in _show(cli, third)["steps"]}
    assert steps["preprocess_job"]["reused_from"] == f"{first}-preprocess_job"
    assert steps["score_job"]["reused_from"] is None and steps["score_job"]["status"] == "Completed"
    cli("job", "download", "-n", third, "--output-name", "scores", "--download-path", "dl3")
    rows = read_scores(workspace / "dl3" / "named-outputs" / "scores" / "scores.csv")
    assert {r["mode"] for r in rows} == {"overwrite"}
    assert [int(r["prediction"]) for r in rows] == expected_predictions(workspace)


def test_pipeline_errors_name_the_step_and_field_before_anything_runs(workspace: Path, cli: Cli) -> None:
    write_project(workspace)
    _register(cli)
    text = (workspace / "pipeline-job.yml").read_text()
    cases = {
        "cycle.yml": text.replace("${{parent.inputs.input_data}}", "${{parent.jobs.score_job.outputs.scores}}"),
        "missing-step.yml": text.replace("parent.jobs.preprocess_job.outputs", "parent.jobs.nope.outputs"),
        "missing-output.yml": text.replace("outputs.prepared_data}}", "outputs.cleaned}}"),
        "type.yml": text.replace(
            "score_mode: ${{parent.inputs.score_mode}}", "score_mode: ${{parent.inputs.input_data}}"
        ),
        "unknown-input.yml": text.replace("score_mode: ${{parent.inputs.score_mode}}", "mode: x"),
    }
    expected = {
        "cycle.yml": "cycle",
        "missing-step.yml": "no step 'nope'",
        "missing-output.yml": "has no output 'cleaned'",
        "type.yml": "declared string but is given a uri_folder",
        "unknown-input.yml": "has no input 'mode'",
    }
    for file, content in cases.items():
        (workspace / file).write_text(content)
        result = cli("job", "create", "-f", file, check=False)
        assert result.returncode == 2, result.output
        assert expected[file] in result.stderr and file in result.stderr, result.stderr
        assert "Traceback" not in result.output
    assert json.loads(cli("job", "list").stdout) == []


def test_killed_pipeline_driver_resumes_without_rerunning_completed_steps(workspace: Path, cli: Cli) -> None:
    write_project(workspace)
    _register(cli)
    slow = (workspace / "components" / "score" / "src" / "score.py").read_text()
    marker = workspace / "score-may-finish"
    (workspace / "components" / "score" / "src" / "score.py").write_text(
        f"import os, time\nwhile not os.path.exists({str(marker)!r}):\n    time.sleep(0.05)\n" + slow
    )
    job = cli("job", "create", "-f", "pipeline-job.yml", "--query", "name", "-o", "tsv").stdout.strip()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        steps = {s["name"]: s for s in _show(cli, job)["steps"]}
        if steps["score_job"]["status"] == "Running":
            break
        time.sleep(0.2)
    assert steps["preprocess_job"]["status"] == "Completed"
    os.kill(_show(cli, job)["driver"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not _show(cli, job)["driver"]["lost"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cli("job", "resume", "-n", job)
    marker.write_text("")
    cli("job", "stream", "-n", job)
    shown = _show(cli, job)
    assert shown["status"] == "Completed", shown["message"]
    children = cli("job", "list", "--parent-job-name", job, "--query", "[].name", "-o", "tsv").stdout.split()
    assert sorted(children) == [f"{job}-preprocess_job", f"{job}-score_job"]  # nothing ran twice


def test_hello_pipeline_with_no_inputs_and_a_curated_environment(workspace: Path, cli: Cli) -> None:
    (workspace / "src").mkdir()
    (workspace / "src" / "hello.py").write_text("print('hello from a pipeline step')\n")
    (workspace / "hello.yml").write_text(HELLO_YML)
    result = cli("job", "create", "-f", "hello.yml", "--stream", "--query", "name", "-o", "tsv")
    job = result.stdout.split()[0]
    assert "step hello_job: Completed" in result.stderr and f"Job {job}: Completed" in result.stderr
    step = _show(cli, job)["steps"][0]
    log = cli("job", "logs", "-n", step["job"], "--file", "user_logs/std_log.txt").stdout
    assert "hello from a pipeline step" in log
