"""Every job is an MLflow run: written by batchpoint without mlflow, read back with the stock ``MlflowClient``.

Real jobs (drivers, command processes, batch workers) on a real workspace; the runs are checked
through batchpoint's SDK and through MLflow's own client on the same tracking URI, so that a row
batchpoint writes differently from MLflow's store fails here.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.integration.jobs.conftest import Env, write_inputs

from batchpoint.common import yamlio
from batchpoint.jobs.schemas import JobState
from batchpoint.runs.jobruns import job_run
from batchpoint.runs.tracking import tracking_url

mlflow_tracking = pytest.importorskip("mlflow.tracking")

TRAIN = """\
import sys
import mlflow
import pandas as pd
from sklearn.linear_model import LinearRegression

mlflow.autolog()
with mlflow.start_run() as run:
    print("run", run.info.run_id)
    LinearRegression().fit(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), [1.0, 3.0, 5.0, 7.0])
    for i, loss in enumerate([0.9, 0.5, 0.25, 0.1]):
        mlflow.log_metric("loss", loss, step=i)
    mlflow.log_param("epochs", 4)
    mlflow.set_tag("stage", "test")
    with open("notes.txt", "w") as fh:
        fh.write("hello")
    mlflow.log_artifact("notes.txt")
print("alpha", sys.argv[-1])
"""

SCORE_WITH_METRIC = """
import os, mlflow

def init():
    pass

def run(mini_batch):
    mlflow.log_metric("files_scored", len(mini_batch))
    return [(os.path.basename(p), 1) for p in mini_batch]
"""


def _client(env: Env) -> Any:
    return mlflow_tracking.MlflowClient(tracking_url(env.client.services))


def _command_job(env: Env, script: str, **fields: Any) -> dict[str, Any]:
    code = env.root / "src"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(script)
    spec = {
        "type": "command", "code": "src", "command": f"{sys.executable} train.py ${{{{inputs.alpha}}}}",
        "inputs": {"alpha": 0.5}, "experiment_name": "training",
    }  # fmt: skip
    spec.update(fields)
    return spec


def test_a_command_job_logs_into_its_run_with_the_stock_mlflow_api(any_db_jobs: Env) -> None:
    env = any_db_jobs
    job = env.client.jobs.create(_command_job(env, TRAIN), base_dir=env.root)
    final = env.wait(job)
    assert final.status is JobState.completed, final.failure_reason
    log = (env.job_dir(job) / "logs" / "user_logs" / "std_log.txt").read_text()
    assert f"run {final.run_id}" in log  # start_run() resumed the job's run (MLFLOW_RUN_ID)

    shown = env.client.jobs.get(job.name)
    assert shown.params["alpha"] == "0.5" and shown.params["epochs"] == "4"
    assert shown.metrics["loss"] == pytest.approx(0.1)
    history = env.client.jobs.get_metrics(job.name)
    assert [(p.step, p.value) for p in history["loss"]] == [(0, 0.9), (1, 0.5), (2, 0.25), (3, 0.1)]

    mlflow = _client(env)
    run = mlflow.get_run(final.run_id)
    assert run.info.status == "FINISHED" and run.info.end_time
    assert run.info.run_name == job.name
    assert run.data.tags["batchpoint.job"] == job.name and run.data.tags["stage"] == "test"
    assert run.data.tags["mlflow.source.type"] == "JOB"
    assert "fit_intercept" in run.data.params  # autologged by MLflow in the job
    experiment = mlflow.get_experiment_by_name("training")
    assert run.info.experiment_id == experiment.experiment_id
    assert [m.value for m in mlflow.get_metric_history(final.run_id, "loss")] == [0.9, 0.5, 0.25, 0.1]
    assert [r.info.run_id for r in mlflow.search_runs([experiment.experiment_id])] == [final.run_id]

    artifacts = {a.path for a in mlflow.list_artifacts(final.run_id)}
    assert "notes.txt" in artifacts
    folder = env.client.services.runs.artifact_dir(final.run_id)
    assert folder is not None and (folder / "notes.txt").read_text() == "hello"
    assert _has_autologged_model(mlflow, final.run_id, experiment.experiment_id)

    assert [e.name for e in env.client.experiments.list()] == ["Default", "training"]
    assert env.client.experiments.get("training").run_count == 1
    download = env.client.jobs.download(job.name, download_path=env.root / "dl", all=True)
    assert (download / "artifacts" / "notes.txt").read_text() == "hello"


def test_the_autologged_model_registered_from_the_run_scores_with_no_code(jobs: Env) -> None:
    job = jobs.wait(jobs.client.jobs.create(_command_job(jobs, TRAIN), base_dir=jobs.root))
    assert job.status is JobState.completed, job.failure_reason
    model = jobs.client.models.create("autologged", f"runs:/{job.run_id}/model")
    assert model.type == "mlflow_model" and model.run_id == job.run_id and model.job_name == job.name
    jobs.client.batch_endpoints.create_from_file(None, name="lineage-ep")
    spec = {
        "name": "nocode", "endpoint_name": "lineage-ep", "type": "model", "model": model.id,
        "settings": {"environment_variables": {"BATCHPOINT_MLFLOW_ENVIRONMENT": "current"}},
    }  # fmt: skip
    (jobs.root / "deployment.yml").write_text(yamlio.dumps(spec))
    jobs.client.batch_deployments.create_from_file(jobs.root / "deployment.yml", set_default=True)
    data = jobs.root / "data"
    data.mkdir()
    (data / "x.csv").write_text("x\n0.5\n4\n10\n")
    scored = jobs.client.jobs.wait(jobs.client.batch_endpoints.invoke("lineage-ep", input=str(data)).name, timeout=300)
    assert scored.status is JobState.completed, scored.message
    rows = (Path(scored.outputs["score"].file or "")).read_text().splitlines()
    predictions = [float(line.split(",")[-1]) for line in rows[1:]]
    assert predictions == pytest.approx([2.0, 9.0, 21.0])  # the fitted y = 2x + 1


def _has_autologged_model(mlflow: Any, run_id: str, experiment_id: str) -> bool:
    """MLflow 3 keeps an autologged model as a LoggedModel of the run; MLflow 2 as the run's artifact."""
    if "model" in {a.path for a in mlflow.list_artifacts(run_id)}:
        return True
    models = mlflow.search_logged_models(experiment_ids=[experiment_id])
    return any(m.source_run_id == run_id for m in models)


def test_run_status_follows_the_job_and_a_failed_job_fails_its_run(jobs: Env) -> None:
    marker = jobs.root / "marker"
    spec = _command_job(jobs, f"import os, sys; sys.exit(0 if os.path.exists({str(marker)!r}) else 3)\n")
    job = jobs.client.jobs.create(spec, base_dir=jobs.root)
    final = jobs.wait(job)
    assert final.status is JobState.failed
    mlflow = _client(jobs)
    run = mlflow.get_run(final.run_id)
    assert run.info.status == "FAILED" and run.info.end_time >= run.info.start_time
    marker.write_text("")
    jobs.client.jobs.resume(job.name)  # the same run goes on, and ends with the job
    assert jobs.wait(job).status is JobState.completed
    assert mlflow.get_run(final.run_id).info.status == "FINISHED"


def test_a_pipelines_steps_are_child_runs_of_the_pipelines_run(jobs: Env) -> None:
    ok = f"{sys.executable} -c \"import sys, pathlib; pathlib.Path(sys.argv[-1], 'f').write_text('x')\""
    spec = {
        "type": "pipeline", "settings": {"force_rerun": True}, "experiment_name": "pipes",
        "jobs": {
            "a": {"type": "command", "command": ok + " ${{outputs.out}}", "outputs": {"out": None}},
            "b": {
                "type": "command", "command": ok + " ${{inputs.src}} ${{outputs.out}}",
                "inputs": {"src": "${{parent.jobs.a.outputs.out}}"}, "outputs": {"out": None},
            },
        },
    }  # fmt: skip
    job = jobs.client.jobs.create(spec, base_dir=jobs.root)
    final = jobs.wait(job)
    assert final.status is JobState.completed, final.failure_reason
    mlflow = _client(jobs)
    children = jobs.client.jobs.list(parent_job_name=job.name)
    assert len(children) == 2
    for child in children:
        run = mlflow.get_run(child.run_id)
        assert run.data.tags["mlflow.parentRunId"] == final.run_id
        assert run.info.status == "FINISHED"
    assert mlflow.get_run(final.run_id).info.status == "FINISHED"

    # Run again without force_rerun: the steps are reused, created Completed; their runs end FINISHED too.
    again = jobs.client.jobs.create({**spec, "settings": {}}, base_dir=jobs.root)
    assert jobs.wait(again).status is JobState.completed
    reused = jobs.client.jobs.list(parent_job_name=again.name)
    assert reused and all(c.status is JobState.completed for c in reused)
    for child in reused:
        run = mlflow.get_run(child.run_id)
        assert run.info.status == "FINISHED" and run.data.tags["mlflow.parentRunId"] == again.run_id


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_git_facts_of_a_clean_and_a_dirty_tree(jobs: Env, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "train.py").write_text("print('hi')\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://example.com/team/repo.git")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    spec = {"type": "command", "code": "src", "command": "python train.py"}

    clean = jobs.client.services.jobs.create(spec, base_dir=repo, start=False)
    (repo / "src" / "train.py").write_text("print('changed')\n")
    dirty = jobs.client.services.jobs.create(spec, base_dir=repo, start=False)

    mlflow = _client(jobs)
    tags = mlflow.get_run(clean.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == commit.strip()
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == "https://example.com/team/repo.git"
    assert tags["batchpoint.git.dirty"] == "false"
    assert mlflow.get_run(dirty.run_id).data.tags["batchpoint.git.dirty"] == "true"


def test_no_git_facts_outside_a_work_tree(jobs: Env, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "train.py").write_text("print('hi')\n")
    job = jobs.client.services.jobs.create(
        {"type": "command", "code": "src", "command": "true"}, base_dir=folder, start=False
    )
    tags = _client(jobs).get_run(job.run_id).data.tags
    assert not [k for k in tags if "git" in k]


def test_a_batch_job_logs_its_figures_and_its_workers_metrics(jobs: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.jobs import conftest

    monkeypatch.setattr(conftest, "SCORER", SCORE_WITH_METRIC)
    jobs.deploy(mini_batch_size=2, max_concurrency_per_instance=2)
    write_inputs(jobs.root / "in", 6)
    job = jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "in"))
    final = jobs.wait(job)
    assert final.status is JobState.completed, final.failure_reason
    shown = jobs.client.jobs.get(job.name)
    assert shown.params["mini_batch_size"] == "2" and shown.params["max_concurrency_per_instance"] == "2"
    assert shown.metrics["mini_batches_done"] == 3 and shown.metrics["items_succeeded"] == 6
    assert shown.metrics["mini_batches_failed"] == 0 and shown.metrics["items_per_second"] > 0
    assert "duration_seconds" in shown.metrics and shown.metrics["retries"] == 0
    history = jobs.client.jobs.get_metrics(job.name)
    assert sorted(p.value for p in history["files_scored"]) == [2.0, 2.0, 2.0]  # from both workers
    run = _client(jobs).get_run(final.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["items_failed"] == 0


def test_runs_written_without_mlflow_read_back_with_the_stock_client(jobs: Env) -> None:
    runs = jobs.client.services.runs
    columns = {
        "type": "command",
        "experiment_name": "direct",
        "spec": {"inputs": {"n": {"type": "integer", "value": "3"}}},
    }
    run_id = runs.start_job_run(job_run("direct-1", columns, user="alice", parent_run_id=None, source_dir=None))
    assert run_id is not None
    runs.log_figures(run_id, {"a": 1.0, "nan": float("nan"), "inf": float("inf")})  # non-finite: left out
    runs.end_runs([(run_id, "FINISHED")])
    mlflow = _client(jobs)
    run = mlflow.get_run(run_id)
    assert run.info.user_id == "alice" and run.info.status == "FINISHED" and run.info.lifecycle_stage == "active"
    assert run.data.params == {"n": "3"} and run.data.metrics == {"a": 1.0}
    assert run.info.artifact_uri.endswith(f"/{run.info.experiment_id}/{run_id}/artifacts")
    found = mlflow.search_runs([run.info.experiment_id], filter_string="params.n = '3'")
    assert [r.info.run_id for r in found] == [run_id]
    assert [m.value for m in mlflow.get_metric_history(run_id, "a")] == [1.0]
    # The stock client writes to a run batchpoint made, and batchpoint reads it.
    mlflow.log_metric(run_id, "b", 2.0, step=5)
    assert runs.metric_history(run_id)["b"][0].step == 5
    assert runs.run_data("no-such-run") == ({}, {})


def test_a_queued_job_canceled_before_it_ran_kills_its_run(jobs: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchpoint import Client

    monkeypatch.setenv("BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS", "0.2")  # no driver will ever report: lost at once
    client = Client(jobs.root)
    try:
        job = client.services.jobs.create({"type": "command", "command": "true"}, base_dir=jobs.root, start=False)
        time.sleep(0.3)
        assert client.jobs.cancel(job.name).status is JobState.canceled
        run = _client(jobs).get_run(job.run_id)
        assert run.info.status == "KILLED" and run.info.end_time
    finally:
        client.close()
