"""``/api/v1/jobs``: create (command and pipeline jobs), show, list, cancel, resume, logs, and outputs as tar.gz archives."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel, Field

from batchpoint.artifacts import archives
from batchpoint.errors import Forbidden, InvalidInput, NotFound
from batchpoint.jobs import downloads, outputs_manifest
from batchpoint.jobs.schemas import Job
from batchpoint.server import quotas
from batchpoint.server.deps import AssetName, Context, JobName, Paths, Svc, allow, present
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.tokens.auth import Action, Principal

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(allow(Action.read))]
JobReader = Annotated[Principal, Depends(allow(Action.job_read))]
JobController = Annotated[Principal, Depends(allow(Action.job_control))]
Writer = Annotated[Principal, Depends(allow(Action.write))]
_TARBALL: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/gzip": {}}, "description": "a tar.gz archive"}
}


def visible_job(svc: Svc, who: Principal, name: str) -> Job:
    """The job, if the caller may see it; a job of another endpoint is 'not found' to a scoped token."""
    job = svc.jobs.get(name)
    endpoint = job.endpoint_name
    if endpoint is None and job.parent_job_name:  # a pipeline's step: its pipeline's endpoint (if deployed)
        endpoint = svc.jobs.get(job.parent_job_name).endpoint_name
    if not who.sees_job(endpoint, job.invoked_by):
        raise NotFound(f"job '{name}' does not exist", field="name")
    return job


def controlled_job(svc: Svc, who: Principal, name: str) -> Job:
    job = visible_job(svc, who, name)
    if not who.may_control(_started_by(svc, job)):
        raise Forbidden(
            f"job '{name}' was started by another token; only an unscoped owner token may cancel or resume it"
        )
    return job


def _started_by(svc: Svc, job: Job) -> str | None:
    """Whose job it is: a pipeline's step is made by the pipeline's driver, which holds no token, so it
    is the pipeline's starter's (who may then cancel or resume one step, as the whole pipeline)."""
    if job.invoked_by is None and job.parent_job_name:
        return svc.jobs.get(job.parent_job_name).invoked_by
    return job.invoked_by


class JobCreateRequest(BaseModel):
    """A job's YAML as JSON (``spec``), with its local files already uploaded by the SDK; ``name`` as ``--name``."""

    spec: dict[str, Any]
    name: str | None = Field(default=None, max_length=128)


@router.post("", response_model=Job, status_code=202)
def create_job(body: JobCreateRequest, ctx: Context, svc: Svc, paths: Paths, who: Writer) -> Any:
    """Create a command or pipeline job from its spec; it waits in the server's queue (Queued) until its
    compute has room (a pipeline's steps too, each as a child job queued by the pipeline's driver).

    Its paths are checked as server paths (``code`` and inputs: uploads, datastore URIs or allowed
    folders; outputs: never into uploads); a pipeline's in every step as well, its component files
    included (``server/pipeline_paths.py``). A command job, and every step of a pipeline, runs code
    of its own choosing, so an endpoint-scoped token may create neither.
    """
    from batchpoint.jobs.creation import job_type
    from batchpoint.server.pipeline_paths import checked_pipeline

    if who.scoped:
        raise Forbidden(
            "this token is scoped to an endpoint; command and pipeline jobs are created with an unscoped token"
        )
    spec = dict(body.spec)
    kind = job_type(spec)
    if kind not in ("command", "pipeline"):
        raise InvalidInput(f"{kind} jobs cannot be created through the server yet", field="type")
    quotas.check_active_jobs(svc, who, ctx.settings.serving)
    checked = _checked_command(spec, paths) if kind == "command" else checked_pipeline(spec, paths)
    job = svc.jobs.create(checked, name=body.name, start=False)
    ctx.jobs_changed()
    return present(who, job)


def _checked_command(spec: dict[str, Any], paths: Any) -> dict[str, Any]:
    """The command job's paths as the services may take them (see ``server/paths.py``)."""
    from batchpoint.command_jobs.runspec import LITERAL_TYPES

    code = spec.get("code")
    if isinstance(code, str) and not code.startswith("snapshot:"):
        spec["code"] = paths.local_file(code, "code")
    if isinstance(spec.get("environment"), dict):
        spec["environment"] = paths.environment_spec(spec["environment"])
    for key, check in (("inputs", paths.invoke_input), ("outputs", paths.output_path)):
        ports = spec.get(key)
        if not isinstance(ports, dict):
            continue
        checked = {}
        for name, port in ports.items():
            if isinstance(port, dict) and port.get("path") is not None and port.get("type") not in LITERAL_TYPES:
                port = {**port, "path": check(port["path"], f"{key}.{name}.path")}
            checked[name] = port
        spec[key] = checked
    return spec


@router.get("", response_model=list[Job])
def list_jobs(
    svc: Svc,
    who: Reader,
    endpoint_name: Annotated[str | None, Query(max_length=64)] = None,
    deployment_name: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    experiment_name: Annotated[str | None, Query(max_length=255)] = None,
    parent_job_name: Annotated[str | None, Query(max_length=128)] = None,
    job_type: Annotated[str | None, Query(alias="type", max_length=32)] = None,
) -> Any:
    """Jobs, newest first; ``experiment_name``, ``parent_job_name`` and ``type`` filter as ``az ml job list`` does."""
    jobs = svc.jobs.list(
        endpoint_name=endpoint_name, deployment_name=deployment_name, status=status, limit=limit,
        experiment_name=experiment_name, parent_job_name=parent_job_name, job_type=job_type,
    )  # fmt: skip
    return present(who, jobs)


@router.get("/{name}", response_model=Job)
def get_job(name: JobName, svc: Svc, who: JobReader) -> Any:
    """A job: state in plain words, progress, first error, outputs."""
    return present(who, visible_job(svc, who, name))


@router.post("/{name}/cancel", response_model=Job)
def cancel_job(name: JobName, ctx: Context, svc: Svc, who: JobController) -> Any:
    """Cancel a job (its own for a contributor, any for an owner)."""
    controlled_job(svc, who, name)
    job = svc.jobs.cancel(name)
    ctx.jobs_changed()
    return present(who, job)


@router.post("/{name}/resume", response_model=Job)
def resume_job(name: JobName, ctx: Context, svc: Svc, who: JobController) -> Any:
    """Continue a job whose driver is gone, from its committed mini-batches."""
    controlled_job(svc, who, name)
    job = svc.jobs.resume(name)
    ctx.jobs_changed()
    return present(who, job)


@router.get("/{name}/logs", response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
def job_logs(
    name: JobName, svc: Svc, who: JobReader, file: Annotated[str | None, Query(max_length=1024)] = None
) -> PlainTextResponse:
    """The result and progress logs, or one file under the job's logs folder."""
    visible_job(svc, who, name)
    return PlainTextResponse(svc.jobs.read_log(name, file))


@router.get("/{name}/logs/archive", response_class=FileResponse, responses=_TARBALL)
def job_logs_archive(name: JobName, svc: Svc, who: JobReader, background: BackgroundTasks) -> FileResponse:
    """The job's whole logs folder as a tar.gz."""
    visible_job(svc, who, name)
    return _tarball(svc, svc.jobs.logs_dir(name), f"{name}-logs.tar.gz", background)


@router.get("/{name}/outputs/{output_name}", response_class=FileResponse, responses=_TARBALL)
def job_output(
    name: JobName,
    output_name: AssetName,
    svc: Svc,
    who: JobReader,
    background: BackgroundTasks,
    partial: Annotated[
        bool, Query(description="For a job that has not completed: the mini-batches committed so far.")
    ] = False,
) -> FileResponse:
    """A named output (``score`` for model deployments) as a tar.gz: the files the job wrote, nothing else.

    The archive holds the regular files the job's driver found in its output folder when the job
    completed (its manifest). A job that has not completed has no output (409, its state in words),
    unless ``partial``: then the archive holds the rows of its committed mini-batches, merged in order.
    """
    job = visible_job(svc, who, name)
    todo = downloads.plan(job, output_name=output_name, partial=partial)
    output = job.outputs[output_name]
    staging = _staging(svc, background)
    archive = staging / "archive.tar.gz"
    if todo.kind == "partial":
        merged = svc.jobs.partial_output(name, output, staging / "partial")
        files = [] if merged is None else [(merged.name, merged)]
        root = staging / "partial"
    else:
        files = outputs_manifest.job_files(svc.layout.job_dir(name), output, completed=True)
        root = Path(output.path)
    with open(archive, "wb") as out:
        archives.pack_files(
            [(rel, path, False) for rel, path in files], out, lambda p: outputs_manifest.open_inside(root, p)
        )
    filename = f"{name}-{output_name}{'-partial' if todo.kind == 'partial' else ''}.tar.gz"
    return FileResponse(archive, media_type="application/gzip", filename=filename)


def _staging(svc: Svc, background: BackgroundTasks) -> Path:
    tmp = svc.layout.root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="download-", dir=tmp))
    background.add_task(shutil.rmtree, staging, True)
    return staging


def _tarball(svc: Svc, folder: Path, filename: str, background: BackgroundTasks) -> FileResponse:
    staging = _staging(svc, background)
    if not folder.is_dir():  # nothing written yet: an empty archive
        folder = staging / "empty"
        folder.mkdir()
    archive = staging / "archive.tar.gz"
    with open(archive, "wb") as out:
        archives.pack(folder, out)
    return FileResponse(archive, media_type="application/gzip", filename=filename)
