"""Preparing a job's runtime: the model folder, the code, the environment, the worker configuration file.

Everything that can fail before the first mini-batch fails here, while the job is Preparing: a
model that cannot be materialised, an environment that does not build (the message carries the
resolver's own words and the build log), a built-in MLflow scorer without mlflow to run it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from batchpoint.common.beating import beating
from batchpoint.environments import definitions
from batchpoint.environments.builder import EnvironmentBuild, EnvironmentBuilder, has_module, host_interpreter
from batchpoint.errors import MissingExtra
from batchpoint.executors import privileges
from batchpoint.jobs.schemas import JobState, RunSpec
from batchpoint.registry.schemas import Model
from batchpoint.runtime.mlflow_scorer import INPUT_ROOT_VARIABLE, INSTALL_HINT

if TYPE_CHECKING:
    from batchpoint.services import Services

log = logging.getLogger("batchpoint.driver")


@dataclass
class Runtime:
    """Where and how workers run."""

    config_file: Path
    cwd: Path
    python: str
    env: dict[str, str]
    environment: dict[str, Any]
    requirements: list[str] = field(default_factory=list)
    """The environment's resolved pip requirement lines (what a Ray ``runtime_env`` would install)."""


def prepare_runtime(ctx: Services, spec: RunSpec, job_dir: Path) -> Runtime:
    env: dict[str, str] = {}
    model: Model | None = None
    model_dir: Path | None = None
    if spec.model is not None:
        model = Model.model_validate(spec.model)
        model_dir = ctx.models.materialise(model)
        env["AZUREML_MODEL_DIR"] = str(model_dir)
    run_as = _worker_user(ctx, spec, job_dir)
    output_dir = Path(spec.output.path)
    output_dir.mkdir(parents=True, exist_ok=True)
    env["AZUREML_BI_OUTPUT_PATH"] = str(output_dir)
    if spec.builtin_scorer and spec.input.type == "uri_folder" and Path(spec.input.resolved).is_dir():
        env[INPUT_ROOT_VARIABLE] = spec.input.resolved
    # The stock MLflow client in the scoring script logs into the job's run (the job folder is named after it).
    env.update(ctx.runs.job_environment(job_dir.name, own_user=run_as is None))
    env.update(spec.settings.environment_variables)
    built = _environment(ctx, spec, model, model_dir, job_dir)
    code_dir = _code_snapshot(ctx, spec, job_dir) if spec.code_manifest else None
    work_dir = code_dir or (job_dir / "work")
    work_dir.mkdir(parents=True, exist_ok=True)
    # What workers write: their part files, their working folder, their HOME and, with summary_only,
    # the output folder. With append_row the driver writes that folder, as root, so it is not the
    # worker's: a link the worker planted there could send the driver's write elsewhere.
    writes = [job_dir / "parts", work_dir]
    if run_as is not None and run_as.home.parent == job_dir:
        writes.append(run_as.home)
    if spec.settings.output_action == "summary_only":
        writes.append(output_dir)
    privileges.grant(run_as, *writes)
    config = {
        "code_dir": str(code_dir) if code_dir else None,
        "scoring_script": spec.scoring_script,
        "builtin_scorer": spec.builtin_scorer,
        "output_action": spec.settings.output_action,
        "output_file_name": spec.settings.output_file_name,
        "logging_level": spec.settings.logging_level,
        "heartbeat_seconds": ctx.settings.engine.heartbeat_seconds,
        "program_arguments": spec.program_arguments,
        "env": env,
    }
    config_file = job_dir / "worker-config.json"
    # Atomic: workers started early (see executors/launch.py) may be reading the previous copy.
    tmp = config_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2))
    os.replace(tmp, config_file)
    return Runtime(
        config_file=config_file, cwd=work_dir, python=built.python, env=env, environment=built.job_record(),
        requirements=list(built.requirements),
    )  # fmt: skip


def _code_snapshot(ctx: Services, spec: RunSpec, job_dir: Path) -> Path:
    """The deployment's code, copied to ``jobs/<job>/code/`` (its files right there); kept on a resume."""
    assert spec.code_manifest is not None
    code_dir = job_dir / "code"
    manifest = ctx.artifacts.manifest(spec.code_manifest)
    script = spec.scoring_script or ""
    legacy = code_dir / manifest.name  # where jobs of earlier versions have it: code/<folder name>/
    if script and not (code_dir / script).exists() and (legacy / script).exists():
        return legacy
    if code_dir.exists():
        return code_dir
    # Copied beside it, then renamed into place: a driver stopped halfway leaves no half-copied code/.
    staging = job_dir / ".code-staging"
    shutil.rmtree(staging, ignore_errors=True)
    if manifest.kind == "file":  # a lone file: code/<file>
        ctx.artifacts.export(spec.code_manifest, staging / "code")
        exported = staging / "code"
    else:  # a folder: its contents are code/
        exported = ctx.artifacts.export(spec.code_manifest, staging)
    os.replace(exported, code_dir)
    shutil.rmtree(staging, ignore_errors=True)
    return code_dir


def _worker_user(ctx: Services, spec: RunSpec, job_dir: Path) -> privileges.WorkerIdentity | None:
    """Who local workers run as (None: as this process); on Ray, the cluster's user runs them."""
    if spec.compute.get("type") == "ray":
        return None
    return privileges.for_job(ctx.settings.engine.worker_user, job_dir)


def _environment(
    ctx: Services, spec: RunSpec, model: Model | None, model_dir: Path | None, job_dir: Path
) -> EnvironmentBuild:
    """Resolve and build (or reuse) the job's environment; fails the job now if it cannot run the scorer."""
    request = definitions.for_job(ctx, spec, model, model_dir)
    if spec.compute.get("type") == "ray":
        # Ray's runtime_env installs the packages on the cluster's nodes; nothing is built here.
        host = host_interpreter()
        note = "on a Ray compute the environment's pip packages are installed by Ray's runtime_env"
        built = EnvironmentBuild(
            kind=request.kind, name=request.name, version=request.version, model=request.model, python=host.path,
            python_version=host.version, requirements=request.requirements, note="; ".join([note, *request.notes]),
        )  # fmt: skip
        _write_summary(job_dir / "logs" / "environment.txt", built)
        return built
    with _heartbeat(ctx, job_dir.name):
        built = EnvironmentBuilder(ctx.layout.cache).build(request)
    _write_summary(job_dir / "logs" / "environment.txt", built)
    if spec.builtin_scorer == "mlflow" and not has_module(built.python, "mlflow"):
        if built.kind == "current":
            raise MissingExtra(
                "the built-in MLflow scorer needs mlflow, which batchpoint's interpreter does not have: "
                f"{INSTALL_HINT}",
                hint="or give the deployment an environment that lists mlflow-skinny",
            )
        raise MissingExtra(
            f"the built-in MLflow scorer needs mlflow, which {request.label} does not have: add mlflow-skinny to "
            "its pip dependencies",
            hint="or deploy without an environment to run in the model's own environment",
        )
    return built


def _heartbeat(ctx: Services, job_name: str) -> contextlib.AbstractContextManager[None]:
    """Keep the job's heartbeat fresh while an environment builds (minutes), so it is not reported lost.

    Only this driver's own row is touched (same pid, still Preparing): a newer driver is never masked.
    """
    query = text("UPDATE jobs SET heartbeat_at=:now WHERE name=:name AND driver_pid=:pid AND state=:state")
    values = {"name": job_name, "pid": os.getpid(), "state": JobState.preparing.value}

    def beat() -> None:
        with ctx.db.session() as s:
            s.execute(query, {**values, "now": time.time()})

    interval = ctx.settings.engine.heartbeat_seconds
    what = "write the heartbeat while the environment builds"
    return beating(beat, interval, name="environment-build-heartbeat", what=what)


def _write_summary(path: Path, built: EnvironmentBuild) -> None:
    """``logs/environment.txt``: which environment the job used and where its build log is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = built.model_dump(mode="json")
    width = max(len(k) for k in record)
    lines = []
    for key, value in record.items():
        if key == "requirements":
            value = ", ".join(value) if value else ""
        lines.append(f"{key.ljust(width)}  {'' if value is None else value}")
    path.write_text("\n".join(lines) + "\n")
