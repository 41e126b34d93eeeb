"""A job's run from its row (``runs/jobruns.py``): tags and params, and git facts where there is no work tree."""

from __future__ import annotations

from pathlib import Path

from batchpoint.runs import git
from batchpoint.runs.jobruns import job_run, params_of
from batchpoint.runs.records import finite


def test_a_batch_jobs_params_are_its_deployment_settings() -> None:
    settings = {
        "mini_batch_size": 10, "instance_count": 2, "max_concurrency_per_instance": 4, "error_threshold": -1,
        "output_action": "append_row", "retry_settings": {"max_retries": 3, "timeout": 30}, "logging_level": "info",
    }  # fmt: skip
    assert params_of("batch", {"settings": settings}) == {
        "mini_batch_size": "10", "instance_count": "2", "max_concurrency_per_instance": "4", "error_threshold": "-1",
        "output_action": "append_row", "retries": "3", "timeout": "30",
    }  # fmt: skip


def test_a_command_jobs_params_are_its_literal_inputs_only() -> None:
    inputs = {
        "lr": {"type": "number", "value": "0.01"},
        "data": {"type": "uri_folder", "path": "/data", "uri": "data"},
        "unset": None,
    }
    assert params_of("command", {"inputs": inputs}) == {"lr": "0.01"}
    assert params_of("pipeline", {}) == {}


def test_tags_name_the_job_its_parent_and_the_users_own() -> None:
    run = job_run(
        "j1", {"type": "command", "spec": {"code": "abc", "tags": {"team": "x"}}, "parent_job_name": "p"},
        user="alice", parent_run_id="r0", source_dir=None, parent_git={git.COMMIT: "c1"},
    )  # fmt: skip
    assert run.experiment == "Default" and run.user == "alice"
    assert run.tags["mlflow.parentRunId"] == "r0" and run.tags["batchpoint.parent_job"] == "p"
    assert run.tags["batchpoint.code_snapshot"] == "abc" and run.tags["team"] == "x"
    assert run.tags[git.COMMIT] == "c1"  # a step carries its pipeline's git facts


def test_no_git_facts_without_a_work_tree(tmp_path: Path) -> None:
    assert git.git_tags(tmp_path) == {}
    assert git.git_tags(tmp_path / "missing") == {}
    assert git.git_tags(None) == {}


def test_batchpoints_own_figures_are_finite_numbers() -> None:
    assert finite({"a": 1, "b": float("nan"), "c": float("inf"), "d": 2.5}) == {"a": 1.0, "d": 2.5}
