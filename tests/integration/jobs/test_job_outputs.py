"""What a job writes: formats, order, summary_only, overrides, inputs, and its logs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from batchpoint.errors import Conflict, InvalidInput

from .conftest import Env, attempts_csv, read_output, write_inputs

DATAFRAME_SCORER = """
import os
import pandas as pd

def init():
    global factor
    factor = 3

def run(mini_batch):
    frames = []
    for path in mini_batch:
        df = pd.read_csv(path)
        frames.append(pd.DataFrame({"file": os.path.basename(path), "key": df["key"], "pred": df["x"] * factor + 1}))
    return pd.concat(frames)
"""

SUMMARY_SCORER = """
import os

def run(mini_batch):
    out = os.environ["AZUREML_BI_OUTPUT_PATH"]
    for path in mini_batch:
        name = os.path.basename(path) + ".out"
        with open(os.path.join(out, name), "w") as fh:
            fh.write("scored\\n")
    return mini_batch
"""


def _replace_script(env: Env, deployment: str, text: str, extra: dict[str, str] | None = None) -> None:
    folder = env.root / deployment / "code"
    (folder / "score.py").write_text(text)
    for name, content in (extra or {}).items():
        (folder / name).write_text(content)
    env.client.batch_deployments.update(deployment, "jobs-ep", path=env.root / deployment / "deployment.yml")


def test_dataframe_output_is_real_csv_with_header_in_stable_order(jobs: Env) -> None:
    write_inputs(jobs.root / "data", 12, rows=2)
    dep = jobs.deploy(mini_batch_size=5, max_concurrency_per_instance=2)
    _replace_script(jobs, dep, DATAFRAME_SCORER)
    job = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    assert job.status == "Completed", job.message
    with open(job.outputs["score"].file or "", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["file", "key", "pred"]
    assert [r[1] for r in rows[1:]] == [f"f{i:05d}-r{r}" for i in range(12) for r in range(2)]
    assert rows[1] == ["f00000.csv", "f00000-r0", "1"]


def test_txt_output_is_azure_legacy_format(jobs: Env) -> None:
    write_inputs(jobs.root / "data", 3, rows=1)
    dep = jobs.deploy(mini_batch_size=2, output_file_name="predictions.txt")
    _replace_script(jobs, dep, DATAFRAME_SCORER)
    job = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    text = Path(job.outputs["score"].file or "").read_text()
    assert text.splitlines() == ["f00000.csv f00000-r0 1", "f00001.csv f00001-r0 31", "f00002.csv f00002-r0 61"]


def test_parallel_run_step_settings_json_is_honoured(jobs: Env) -> None:
    write_inputs(jobs.root / "data", 2, rows=1)
    dep = jobs.deploy(mini_batch_size=2)
    settings = {"append_row": {"pandas.DataFrame.to_csv": {"sep": ";", "index": False}}}
    _replace_script(jobs, dep, DATAFRAME_SCORER, {"parallel_run_step.settings.json": json.dumps(settings)})
    job = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    lines = Path(job.outputs["score"].file or "").read_text().splitlines()
    assert lines == ["file;key;pred", "f00000.csv;f00000-r0;1", "f00001.csv;f00001-r0;31"]


def test_summary_only_leaves_the_scripts_own_files(jobs: Env) -> None:
    write_inputs(jobs.root / "data", 4)
    dep = jobs.deploy(mini_batch_size=2, output_action="summary_only")
    _replace_script(jobs, dep, SUMMARY_SCORER)
    job = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    assert job.status == "Completed"
    out = Path(job.outputs["score"].path)
    assert sorted(p.name for p in out.iterdir()) == [f"f{i:05d}.csv.out" for i in range(4)]
    assert job.progress.items.succeeded == 4


def test_output_folder_must_be_new_or_empty(jobs: Env) -> None:
    write_inputs(jobs.root / "data", 2)
    jobs.deploy()
    out = jobs.root / "out"
    out.mkdir()
    (out / "predictions.csv").write_text("precious\n")
    for file_name in ("predictions.csv", "p2.csv"):  # another file name does not make a used folder usable
        with pytest.raises(Conflict, match="not empty"):
            jobs.client.batch_endpoints.invoke(
                "jobs-ep",
                input=str(jobs.root / "data"),
                output_path=str(out),
                overrides=[f"output_file_name={file_name}"],
            )
    assert [p.name for p in out.iterdir()] == ["predictions.csv"]
    assert (out / "predictions.csv").read_text() == "precious\n"
    empty = jobs.root / "empty"
    empty.mkdir()
    job = jobs.wait(
        jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"), output_path=str(empty))
    )
    assert job.status == "Completed" and (empty / "predictions.csv").exists()


def test_per_job_overrides_and_input_forms(jobs: Env) -> None:
    expected = write_inputs(jobs.root / "data", 9, rows=1)
    (jobs.root / "data" / "notes.txt").write_text("not an input for the glob\n")
    jobs.deploy(mini_batch_size=10)
    job = jobs.wait(
        jobs.client.batch_endpoints.invoke(
            "jobs-ep",
            input=str(jobs.root / "data" / "*.csv"),
            mini_batch_size=2,
            instance_count=2,
            overrides=["retry_settings.max_retries=0", "error_threshold=5"],
        )  # fmt: skip
    )
    assert job.status == "Completed"
    assert job.progress.mini_batches.total == 5 and job.progress.items.total == 9
    assert job.settings is not None and job.settings.retry_settings.max_retries == 0
    assert dict(read_output(Path(job.outputs["score"].file or ""))) == expected
    single = jobs.wait(
        jobs.client.batch_endpoints.invoke(
            "jobs-ep", input=str(jobs.root / "data" / "f00004.csv"), input_type="uri_file"
        )
    )
    assert read_output(Path(single.outputs["score"].file or "")) == [("f00004-r0", 121)]
    with pytest.raises(InvalidInput, match="cannot be set per job"):
        jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"), overrides=["model=x"])
    with pytest.raises(InvalidInput, match="does not exist"):
        jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "missing"))
    with pytest.raises(InvalidInput, match="mini_batch_size"):
        jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"), mini_batch_size=0)


def test_job_logs_layout(jobs: Env) -> None:
    write_inputs(jobs.root / "data", 4, directives={1: "POISON"})
    jobs.deploy(mini_batch_size=1, retry_settings={"max_retries": 0, "timeout": 30})
    job = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    logs = jobs.job_dir(job) / "logs"
    for name in (
        "readme.txt",
        "driver.log",
        "job_result.txt",
        "job_error.txt",
        "errors.jsonl",
        "job_progress_overview.txt",
    ):
        assert (logs / name).is_file(), name
    assert list((logs / "user" / "stdout").glob("worker-*.stdout.txt"))
    assert "state: Completed" in (logs / "job_result.txt").read_text()
    error = json.loads((logs / "errors.jsonl").read_text())
    assert error["file"].endswith("f00001.csv") and error["mini_batch"] == 1 and error["attempt"] == 1
    assert "ValueError" in (logs / "job_error.txt").read_text()
    assert {r["result"] for r in attempts_csv(jobs.job_dir(job))} == {"ok", "failed"}
    assert "poisoned input" in jobs.client.jobs.logs(job.name, "errors.jsonl")
    with pytest.raises(InvalidInput):
        jobs.client.jobs.logs(job.name, "../../metadata.db")


def test_data_asset_and_datastore_uris(jobs: Env) -> None:
    store = jobs.client.workspace_path / "datastores" / "workspaceblobstore"
    expected = write_inputs(store / "incoming" / "batch1", 4, rows=1)
    jobs.deploy(mini_batch_size=2)
    jobs.client.data.create(
        name="incoming", path="azureml://datastores/workspaceblobstore/paths/incoming/batch1", type="uri_folder"
    )
    by_asset = jobs.wait(
        jobs.client.batch_endpoints.invoke(
            "jobs-ep",
            input="azureml:incoming@latest",
            output_path="azureml://datastores/workspaceblobstore/paths/results/run1",
        )  # fmt: skip
    )
    assert by_asset.status == "Completed", by_asset.message
    assert dict(read_output(store / "results" / "run1" / "predictions.csv")) == expected
    by_uri = jobs.wait(
        jobs.client.batch_endpoints.invoke(
            "jobs-ep", input="azureml://datastores/workspaceblobstore/paths/incoming/batch1"
        )
    )
    assert dict(read_output(Path(by_uri.outputs["score"].file or ""))) == expected
    with pytest.raises(InvalidInput):
        jobs.client.batch_endpoints.invoke(
            "jobs-ep", input="azureml://datastores/workspaceblobstore/paths/../../../etc"
        )
