"""Scoring scripts that are wrong in a newcomer's ways, run by real detached drivers and worker processes.

Each failure must be loud and say what to do: a ``run()`` that returns ``None`` fails the job with
every file named, a script that does not compile or import fails at the first worker start (and is
flagged when the deployment is created), and ``parse_args()`` in ``init()`` gets argparse's own words
and the fix in the failure reason.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from tests.integration.jobs.conftest import Env, attempts_csv

from batchpoint.common import yamlio
from batchpoint.endpoints.script_check import ScriptWarning
from batchpoint.jobs.schemas import Job, JobState

RETURNS_NONE = """
def init():
    pass

def run(mini_batch):
    for path in mini_batch:
        print("scored", path)
"""

NONE_FOR_BAD_FILES = """
import os

def run(mini_batch):
    if any(os.path.basename(p).startswith("bad") for p in mini_batch):
        return None if "none" in mini_batch[0] else 42
    return [os.path.basename(p) for p in mini_batch]
"""

SYNTAX_ERROR = """import os

def run(mini_batch:
    return mini_batch
"""

IMPORT_ERROR = """import os
import not_a_module_of_batchpoint_tests

def run(mini_batch):
    return mini_batch
"""

PARSE_ARGS = """import argparse

def init():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_name", default="m")
    parser.parse_args()

def run(mini_batch):
    return mini_batch
"""


def _deploy(env: Env, script: str, **settings: Any) -> str:
    """A deployment (the default one) whose ``code/score.py`` is ``script``."""
    env.deployments += 1
    name = f"dep{env.deployments}"
    folder = env.root / name
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "score.py").write_text(script)
    (folder / "model").mkdir()
    (folder / "model" / "weights.txt").write_text("1")
    spec = {
        "name": name,
        "endpoint_name": "jobs-ep",
        "type": "model",
        "model": {"name": f"m-{name}", "path": "model"},
        "code_configuration": {"code": "code", "scoring_script": "score.py"},
        "settings": settings,
    }
    (folder / "deployment.yml").write_text(yamlio.dumps(spec))
    env.client.batch_deployments.create_from_file(folder / "deployment.yml", set_default=True)
    return name


def _inputs(env: Env, *names: str) -> Path:
    folder = env.root / "data"
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text("x\n")
    return folder


def _run(env: Env, data: Path) -> Job:
    return env.wait(env.client.batch_endpoints.invoke("jobs-ep", input=str(data)))


def _errors(env: Env, job: Job) -> list[dict[str, Any]]:
    text = (env.job_dir(job) / "logs" / "errors.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_run_returning_none_fails_the_job_and_names_every_file(jobs: Env) -> None:
    _deploy(jobs, RETURNS_NONE, mini_batch_size=2, max_concurrency_per_instance=2)
    data = _inputs(jobs, "a.csv", "b.csv", "c.csv")
    job = _run(jobs, data)
    assert job.status is JobState.failed, job.message
    assert job.failure_reason is not None
    assert job.failure_reason.startswith("no mini-batch succeeded: all 2 failed (3 item(s)); first error: ")
    assert "run() returned None; return one result per input (a list or a DataFrame)" in job.failure_reason
    # Mini-batch and item counts agree: no mini-batch "succeeded" with all its items failed.
    assert job.progress.mini_batches.model_dump() == {"total": 2, "done": 0, "failed": 2, "pending": 0}
    assert (job.progress.items.succeeded, job.progress.items.failed, job.progress.retries) == (0, 3, 0)
    errors = _errors(jobs, job)
    assert sorted(Path(e["file"]).name for e in errors) == ["a.csv", "b.csv", "c.csv"]
    assert {e["exception"] for e in errors} == {"InvalidResult"}
    assert sorted(r["result"] for r in attempts_csv(jobs.job_dir(job))) == ["failed", "failed"]
    assert not (Path(job.outputs["score"].path or "") / "predictions.csv").exists()


def test_a_mini_batch_without_results_fails_alone_and_the_logs_read_as_words(jobs: Env) -> None:
    _deploy(jobs, NONE_FOR_BAD_FILES, mini_batch_size=1, max_concurrency_per_instance=1)
    data = _inputs(jobs, "bad-none.csv", "bad-number.csv", "good1.csv", "good2.csv")
    job = _run(jobs, data)
    assert job.status is JobState.completed, job.message
    assert job.progress.mini_batches.model_dump() == {"total": 4, "done": 2, "failed": 2, "pending": 0}
    assert (job.progress.items.succeeded, job.progress.items.failed) == (2, 2)
    errors = {Path(e["file"]).name: e["message"] for e in _errors(jobs, job)}
    assert errors == {
        "bad-none.csv": "run() returned None; return one result per input (a list or a DataFrame)",
        "bad-number.csv": "run() returned int; return one result per input (a list or a DataFrame)",
    }
    # The code snapshot is the job's code/ folder itself.
    code = jobs.job_dir(job) / "code"
    assert (code / "score.py").is_file() and not (code / "code").exists()
    # The progress log is for people: the last line is a sentence, not a Python dict.
    progress = (jobs.job_dir(job) / "logs" / "job_progress_overview.txt").read_text()
    assert "{" not in progress and "'" not in progress
    last = progress.splitlines()[-1]
    assert "completed: 2 of 4 mini-batches succeeded, 2 failed; 2 of 4 items succeeded, 2 failed; 0 retries; " in last
    assert last.endswith(" s")


def test_a_syntax_error_is_flagged_at_create_and_fails_the_job_at_once(jobs: Env) -> None:
    with pytest.warns(ScriptWarning, match=r"score\.py does not compile: SyntaxError at line 3: "):
        _deploy(jobs, SYNTAX_ERROR, max_concurrency_per_instance=2)
    job = _run(jobs, _inputs(jobs, "a.csv"))
    assert job.status is JobState.failed
    assert job.failure_reason == "loading score.py failed: SyntaxError at line 3: '(' was never closed"
    # Failed at the first worker start: no worker was started again (2 workers, 2 failures at most).
    failures = "".join(p.read_text() for p in (jobs.job_dir(job) / "logs" / "user" / "error").glob("*.txt"))
    assert 1 <= failures.count("loading the scoring script failed") <= 2
    assert job.error is not None and job.error["exception"] == "SyntaxError"


def test_an_import_error_names_the_module_and_the_line(jobs: Env) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScriptWarning)  # it compiles: no warning at create
        _deploy(jobs, IMPORT_ERROR)
    job = _run(jobs, _inputs(jobs, "a.csv"))
    assert job.status is JobState.failed
    assert job.failure_reason == (
        "loading score.py failed: ModuleNotFoundError at line 2: No module named 'not_a_module_of_batchpoint_tests'"
    )


def test_parse_args_in_init_gets_argparse_words_and_the_fix(jobs: Env) -> None:
    _deploy(jobs, PARSE_ARGS, max_concurrency_per_instance=1)
    job = _run(jobs, _inputs(jobs, "a.csv"))
    assert job.status is JobState.failed
    reason = job.failure_reason or ""
    assert reason.startswith("init() of the scoring script failed 3 times in a row: SystemExit: 2; ")
    assert "error: unrecognized arguments: --logging_level INFO" in reason
    assert reason.endswith(
        "; use parse_known_args(): batchpoint passes the deployment's program arguments such as --logging_level"
    )
