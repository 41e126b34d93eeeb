"""Parallel steps of a pipeline: an entry script run over an upstream step's output on the batch engine.

A command step writes CSV files; a parallel step (inline, and as a registered parallel component)
scores them with ``init()``/``run(mini_batch)``, its model folder passed in ``program_arguments``,
every row appended to the pipeline's output. Real drivers, real worker processes.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.integration.jobs.conftest import Env

from batchpoint.errors import InvalidInput
from batchpoint.jobs.schemas import JobState

PY = sys.executable
MAKE_FILES = (
    "import sys, pathlib; out = pathlib.Path(sys.argv[-1]); out.mkdir(parents=True, exist_ok=True); "
    "[out.joinpath(f'part-{i:02d}.csv').write_text('x\\n' + str(i) + '\\n' + ('#' * 900) + '\\n') for i in range(7)]"
)
SCORE_PY = """\
import argparse, os

def init():
    global factor
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--poison", default="")
    args, _ = parser.parse_known_args()
    global poison
    poison = args.poison
    factor = int(open(os.path.join(args.model, "factor.txt")).read())

def run(mini_batch):
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        if poison and poison in name:
            raise ValueError("poisoned file " + name)
        value = int(open(path).read().splitlines()[1])
        rows.append(f"{name},{value * factor},{len(mini_batch)}")
    return rows
"""


def _score_step(**overrides: Any) -> dict[str, Any]:
    step: dict[str, Any] = {
        "type": "parallel",
        "inputs": {
            "data": "${{parent.jobs.make.outputs.files}}",
            "model": {"type": "custom_model", "path": "model"},
        },
        "outputs": {"scores": "${{parent.outputs.scores}}"},
        "input_data": "${{inputs.data}}",
        "mini_batch_size": 2,
        "max_concurrency_per_instance": 2,
        "task": {
            "type": "run_function",
            "code": "score",
            "entry_script": "score.py",
            "program_arguments": "--model ${{inputs.model}}",
            "append_row_to": "${{outputs.scores}}",
        },
    }
    step.update(overrides)
    return step


def _pipeline(score: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {
        "type": "pipeline",
        "settings": settings,
        "outputs": {"scores": {"type": "uri_folder"}},
        "jobs": {
            "make": {"command": f'{PY} -c "{MAKE_FILES}" ${{{{outputs.files}}}}', "outputs": {"files": None}},
            "score": score,
        },
    }


def _files(root: Path) -> None:
    (root / "score").mkdir()
    (root / "score" / "score.py").write_text(SCORE_PY)
    (root / "model").mkdir()
    (root / "model" / "factor.txt").write_text("5")


def _rows(env: Env, job: str) -> list[list[str]]:
    child = env.client.jobs.get(f"{job}-score")
    text = Path(child.outputs["scores"].path, "parallel_run_step.txt").read_text()
    return list(csv.reader(io.StringIO(text)))


def test_parallel_step_scores_an_upstream_output_on_the_batch_engine(jobs: Env) -> None:
    _files(jobs.root)
    job = jobs.client.jobs.create(_pipeline(_score_step()), base_dir=jobs.root)
    final = jobs.wait(job)
    assert final.status is JobState.completed, final.message
    child = jobs.client.jobs.get(f"{job.name}-score")
    assert child.type == "batch" and child.parent_job_name == job.name
    rows = _rows(jobs, job.name)
    # every file once, in input order, scored with the model the arguments named, two files per mini-batch
    assert [r[0] for r in rows] == [f"part-{i:02d}.csv" for i in range(7)]
    assert [int(r[1]) for r in rows] == [i * 5 for i in range(7)]
    assert [int(r[2]) for r in rows] == [2, 2, 2, 2, 2, 2, 1]
    assert child.progress.mini_batches.total == 4
    # the pipeline's named output is the parallel step's: downloaded by name
    dest = jobs.client.jobs.download(job.name, output_name="scores", download_path=jobs.root / "dl")
    assert (dest / "named-outputs" / "scores" / "parallel_run_step.txt").read_text().count("\n") == 7
    # The same pipeline again: both steps reused, the output the same files.
    again = jobs.wait(jobs.client.jobs.create(_pipeline(_score_step()), base_dir=jobs.root))
    assert again.status is JobState.completed, again.message
    steps = {s.name: s for s in again.steps}
    assert steps["make"].reused_from == f"{job.name}-make" and steps["score"].reused_from == f"{job.name}-score"
    assert _rows(jobs, again.name) == rows
    # A different mini-batch size by bytes ("2kb": two ~1 kB files a mini-batch) is a different step: it runs.
    sized = jobs.wait(jobs.client.jobs.create(_pipeline(_score_step(mini_batch_size="2kb")), base_dir=jobs.root))
    assert sized.status is JobState.completed, sized.message
    assert [int(r[2]) for r in _rows(jobs, sized.name)] == [2, 2, 2, 2, 2, 2, 1]
    assert {s.name: s for s in sized.steps}["make"].reused_from == f"{job.name}-make"


def test_a_failed_mini_batch_beyond_the_threshold_fails_the_step_and_the_pipeline(jobs: Env) -> None:
    _files(jobs.root)
    task = {**_score_step()["task"], "program_arguments": "--model ${{inputs.model}} --poison part-03"}
    tolerant = _score_step(task=task, mini_batch_error_threshold=1, retry_settings={"max_retries": 0})
    final = jobs.wait(jobs.client.jobs.create(_pipeline(tolerant, force_rerun=True), base_dir=jobs.root))
    assert final.status is JobState.completed, final.message
    assert [r[0] for r in _rows(jobs, final.name)] == [f"part-{i:02d}.csv" for i in (0, 1, 4, 5, 6)]
    strict = _score_step(task=task, mini_batch_error_threshold=0, retry_settings={"max_retries": 0})
    failed = jobs.wait(jobs.client.jobs.create(_pipeline(strict, force_rerun=True), base_dir=jobs.root))
    assert failed.status is JobState.failed
    reason = failed.failure_reason or ""
    assert "step 'score' failed" in reason and "mini_batch_error_threshold 0" in reason, reason
    assert "poisoned file part-03.csv" in reason


def test_a_registered_parallel_component_runs_as_a_step_with_overrides(jobs: Env) -> None:
    _files(jobs.root)
    component = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/parallelComponent.schema.json",
        "name": "scorer",
        "version": "1",
        "type": "parallel",
        "inputs": {"data": {"type": "uri_folder"}, "model": {"type": "custom_model"}},
        "outputs": {"scores": {"type": "uri_folder"}},
        "input_data": "${{inputs.data}}",
        "mini_batch_size": "1",
        "task": _score_step()["task"],
    }
    registered = jobs.client.components.create(component, base_dir=jobs.root)
    assert registered.type == "parallel" and registered.parallel and registered.parallel["entry_script"] == "score.py"
    step = {
        "type": "parallel",
        "component": "azureml:scorer:1",
        "inputs": _score_step()["inputs"],
        "outputs": _score_step()["outputs"],
        "mini_batch_size": 3,
    }
    final = jobs.wait(jobs.client.jobs.create(_pipeline(step), base_dir=jobs.root))
    assert final.status is JobState.completed, final.message
    assert [int(r[2]) for r in _rows(jobs, final.name)] == [3, 3, 3, 3, 3, 3, 1]


def test_parallel_step_errors_name_the_step_and_field(jobs: Env) -> None:
    _files(jobs.root)
    bad_size = _score_step(mini_batch_size="ten")
    with pytest.raises(InvalidInput, match="mini_batch_size 'ten'"):
        jobs.client.jobs.create(_pipeline(bad_size), base_dir=jobs.root)
    no_port = _score_step(input_data="${{inputs.nothing}}")
    with pytest.raises(InvalidInput, match="input_data names no declared input") as info:
        jobs.client.jobs.create(_pipeline(no_port), base_dir=jobs.root)
    assert info.value.field and "input_data" in info.value.field
    bad_arg = _score_step(task={**_score_step()["task"], "program_arguments": "--m ${{inputs.modle}}"})
    with pytest.raises(InvalidInput, match="modle"):
        jobs.client.jobs.create(_pipeline(bad_arg), base_dir=jobs.root)
    with pytest.raises(InvalidInput, match="a step's 'inputs' is a mapping"):
        jobs.client.jobs.create(_pipeline(_score_step(inputs=["data"])), base_dir=jobs.root)
