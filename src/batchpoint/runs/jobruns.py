"""A job's run, from the job's row: its name, experiment, tags (MLflow's and batchpoint's) and params.

Params are what a user would compare runs by: the literal inputs of command and pipeline jobs, the
deployment settings of batch jobs. Git tags come from the job's code folder when it is in a work
tree; a pipeline's steps carry their pipeline's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from batchpoint.runs import git
from batchpoint.runs.records import DEFAULT_EXPERIMENT
from batchpoint.runs.service import JobRun

PARENT = "mlflow.parentRunId"
COLUMN_TAGS = {
    "endpoint_name": "batchpoint.endpoint", "deployment_name": "batchpoint.deployment",
    "parent_job_name": "batchpoint.parent_job",
}  # fmt: skip
GIT_PREFIXES = ("mlflow.source.git.", "batchpoint.git.")
"""The tags a pipeline's step takes from its pipeline's run."""


def job_run(
    name: str,
    columns: Mapping[str, Any],
    *,
    user: str | None,
    parent_run_id: str | None,
    source_dir: Path | None,
    parent_git: Mapping[str, str] | None = None,
) -> JobRun:
    spec: Mapping[str, Any] = columns.get("spec") or {}
    job_type = str(columns.get("type") or "batch")
    tags = {
        "mlflow.runName": name,
        "mlflow.source.type": "JOB",
        "mlflow.source.name": name,
        "batchpoint.job": name,
        "batchpoint.job_type": job_type,
    }
    if user:
        tags["mlflow.user"] = user
    for column, tag in COLUMN_TAGS.items():
        if columns.get(column):
            tags[tag] = str(columns[column])
    snapshot = spec.get("code") or spec.get("code_manifest")
    if snapshot:
        tags["batchpoint.code_snapshot"] = str(snapshot)
    if parent_run_id:
        tags[PARENT] = parent_run_id
    user_tags = spec.get("tags")
    if isinstance(user_tags, Mapping):
        tags.update({str(k): str(v) for k, v in user_tags.items()})
    tags.update(git.git_tags(source_dir) if source_dir is not None else dict(parent_git or {}))
    experiment = str(columns.get("experiment_name") or DEFAULT_EXPERIMENT)
    return JobRun(name=name, experiment=experiment, user=user, tags=tags, params=params_of(job_type, spec))


def params_of(job_type: str, spec: Mapping[str, Any]) -> dict[str, str]:
    if job_type == "batch" and isinstance(spec.get("settings"), Mapping):
        return _settings(spec["settings"])
    inputs = spec.get("inputs")
    if not isinstance(inputs, Mapping):
        return {}
    return {
        str(k): str(v["value"])
        for k, v in inputs.items()
        if isinstance(v, Mapping) and v.get("path") is None and v.get("value") is not None
    }


def _settings(settings: Mapping[str, Any]) -> dict[str, str]:
    keys = ("mini_batch_size", "instance_count", "max_concurrency_per_instance", "error_threshold", "output_action")
    found = {k: str(settings[k]) for k in keys if settings.get(k) is not None}
    retry = settings.get("retry_settings")
    if isinstance(retry, Mapping):
        for key, param in (("max_retries", "retries"), ("timeout", "timeout")):
            if retry.get(key) is not None:
                found[param] = str(retry[key])
    return found
