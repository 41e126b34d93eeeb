"""A model registered from what a job produced: ``azureml://jobs/<job>/outputs/<name>`` or ``runs:/<run id>/<path>``.

Azure ML users register a model from a job's named output (``azureml://jobs/<job>/outputs/<name>``,
optionally ``/paths/<path inside it>``) or from the artifacts the job's run logged
(``azureml://jobs/<job>/outputs/artifacts/paths/<path>``, the form Azure gives MLflow models);
MLflow users write ``runs:/<run id>/<path>``. Each resolves to a local folder or file plus the
lineage (the job, its run) that the model version records. Paths stay inside the output or the
run's artifact folder; the job must have completed (a running job's output is not final).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from batchpoint.common.paths import within
from batchpoint.errors import Conflict, InvalidInput, NotFound, UnsafePath
from batchpoint.store.tables import JobRow

if TYPE_CHECKING:
    from batchpoint.services import Services

_JOB_URI = re.compile(r"^azureml://jobs/(?P<job>[^/]+)/outputs/(?P<output>[^/]+)(?:/paths/(?P<path>.*))?/?$")
_RUN_URI = re.compile(r"^runs:/(?P<run>[0-9a-fA-F]{32})(?:/(?P<path>.*))?$")
ARTIFACTS = "artifacts"
"""The output name Azure gives a job's logged (MLflow) artifacts."""


@dataclass(frozen=True)
class Source:
    path: Path
    job_name: str | None
    run_id: str | None


def is_job_source(value: str) -> bool:
    return value.startswith(("azureml://jobs/", "runs:/"))


def resolve(ctx: Services, value: str, *, field: str = "path") -> Source:
    """The local file or folder a job or run URI names, and the lineage it carries."""
    if match := _JOB_URI.match(value):
        return _job_output(ctx, match["job"], match["output"], match["path"] or "", field)
    if match := _RUN_URI.match(value):
        return _run_artifacts(ctx, match["run"].lower(), match["path"] or "", field, job_name=None)
    raise InvalidInput(
        f"'{value}': expected azureml://jobs/<job>/outputs/<output>[/paths/<path>] or runs:/<run id>/<path>",
        field=field,
    )


def _job_output(ctx: Services, job_name: str, output: str, inner: str, field: str) -> Source:
    job = ctx.jobs.get(job_name)
    if job.status.value != "Completed":
        raise Conflict(
            f"job '{job_name}' is {job.status.value}; a model is registered from a completed job's output",
            field=field,
        )
    run_id = _run_of(ctx, job_name)
    if output == ARTIFACTS and output not in job.outputs:
        if run_id is None:
            raise NotFound(f"job '{job_name}' has no run, so no logged artifacts", field=field)
        return _run_artifacts(ctx, run_id, inner, field, job_name=job_name)
    if output not in job.outputs:
        known = ", ".join(sorted(job.outputs)) or "none"
        raise NotFound(f"job '{job_name}' has no output '{output}' (its outputs: {known}, {ARTIFACTS})", field=field)
    named = job.outputs[output]
    root = Path(named.path)
    if root.is_symlink():
        raise UnsafePath(f"job '{job_name}' output '{output}' is a link, not the folder the job wrote", field=field)
    if inner:
        path = within(root, *_parts(inner), field=field)
    elif named.file:
        # The job's code may have left a link in place of its output file: resolved, it must stay
        # inside the output folder, or a server running jobs as another user would copy (and let the
        # caller download) a file that code could not read itself.
        path = within(root, *_parts(os.path.relpath(named.file, root)), field=field)
    else:
        path = root
    return Source(_existing(path, value=f"{job_name}/{output}/{inner}", field=field), job_name, run_id)


def _run_artifacts(ctx: Services, run_id: str, inner: str, field: str, *, job_name: str | None) -> Source:
    # The workspace's one tracking engine (``ctx.runs``), not a new one per call.
    tracking = ctx.runs.tracking().db
    with tracking.read() as s:
        uri = s.execute(text("SELECT artifact_uri FROM runs WHERE run_uuid = :run"), {"run": run_id}).scalar()
        if uri is None:
            raise NotFound(f"run '{run_id}' does not exist in this workspace's tracking store", field=field)
        parts = _parts(inner)
        root = _local_folder(str(uri), run_id, field)
        if parts and not (root / parts[0]).exists():
            # MLflow 3 keeps a model logged by the run (log_model, autolog) as a LoggedModel of its
            # own, not among the run's artifacts; ``runs:/<run>/<name>`` names it, as in MLflow.
            logged = _logged_model(s, run_id, parts[0])
            if logged is not None:
                root, parts = _local_folder(logged, run_id, field), parts[1:]
    path = within(root, *parts, field=field)
    job = job_name or _job_of(ctx, run_id)
    return Source(_existing(path, value=f"runs:/{run_id}/{inner}", field=field), job, run_id)


def _local_folder(uri: str, run_id: str, field: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise InvalidInput(f"run '{run_id}' keeps its artifacts at '{uri}', which is not a local folder", field=field)
    return Path(unquote(parsed.path))


def _logged_model(session: Any, run_id: str, name: str) -> str | None:
    """The artifact location of the newest model named ``name`` that the run logged (MLflow 3's table)."""
    try:
        return session.execute(
            text(
                "SELECT artifact_location FROM logged_models WHERE source_run_id = :run AND name = :name "
                "ORDER BY creation_timestamp_ms DESC"
            ),
            {"run": run_id, "name": name},
        ).scalar()
    except SQLAlchemyError:  # an MLflow 2 store has no logged_models table
        return None


def _parts(inner: str) -> list[str]:
    return [p for p in inner.strip("/").split("/") if p]


def _existing(path: Path, *, value: str, field: str) -> Path:
    if not path.exists():
        raise NotFound(f"'{value}' names nothing: '{path}' does not exist", field=field)
    return path


def _run_of(ctx: Services, job_name: str) -> str | None:
    with ctx.db.read() as s:
        return s.scalar(select(JobRow.run_id).where(JobRow.name == job_name))


def _job_of(ctx: Services, run_id: str) -> str | None:
    with ctx.db.read() as s:
        return s.scalar(select(JobRow.name).where(JobRow.run_id == run_id))
