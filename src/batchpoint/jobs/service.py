"""JobService: invoke an endpoint, look at jobs, cancel, resume, read logs, download outputs."""

from __future__ import annotations

import builtins
import json
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from batchpoint.common import names
from batchpoint.common.paths import within
from batchpoint.errors import Conflict, InvalidInput, NotFound
from batchpoint.jobs import downloads, lifecycle, outputs_manifest
from batchpoint.jobs import invoke as inv
from batchpoint.jobs.schemas import Job, JobOutput, JobState, RunSpec
from batchpoint.jobs.views import to_job
from batchpoint.registry.schemas import Model
from batchpoint.store.tables import JobRow, MiniBatchRow

if TYPE_CHECKING:
    from batchpoint.services import Services


class JobService:
    """Batch jobs of one workspace."""

    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx

    # -- invoke ------------------------------------------------------------------------------------
    def invoke(
        self,
        endpoint_name: str,
        request: inv.InvokeRequest,
        *,
        start: bool = True,
        data_plane_only: bool = False,
    ) -> Job:
        """Start a job on the endpoint's default deployment (or ``request.deployment_name``); returns at once.

        ``data_plane_only`` (the server sets it for invoke-only tokens): overrides are limited to
        ``jobs.invoke.DATA_PLANE``, within the deployment's own bounds (``Forbidden`` otherwise).
        An ``inputs.yml`` is read by the caller (``InvokeRequest.with_inputs_file``).
        """
        deployment_name, job_name = request.deployment_name, request.job_name
        deployment = self.ctx.batch_deployments.route(endpoint_name, deployment_name)
        if deployment.type == "pipeline":
            from batchpoint.pipelines.invoking import invoke_pipeline_deployment

            return invoke_pipeline_deployment(
                self.ctx, deployment, request, start=start, data_plane_only=data_plane_only
            )
        if request.inputs and not request.input:
            inv.model_form(request.inputs, request.outputs or {})  # refuses what a model deployment cannot take
        name = names.job_name(job_name) if job_name else f"batchjob-{uuid.uuid4()}"
        experiment_name = inv.check_experiment_name(request.experiment_name)
        settings = inv.effective_settings(
            deployment,
            request.pairs(),
            data_plane_only=data_plane_only,
            mini_batch_size=request.mini_batch_size,
            instance_count=request.instance_count,
        )
        job_input = inv.resolve_job_input(self.ctx, request.input, request.input_type)
        job_output = inv.resolve_output(self.ctx, request.output_path or None, name, settings)
        spec = self._run_spec(deployment, settings, job_input, job_output)
        self._insert(name, deployment, spec, experiment_name or endpoint_name)
        if start:
            self._prepare_launch(name, spec)
            self._spawn(name, 1, spec.compute.get("type"))
        return self.get(name)

    def _run_spec(self, deployment: Any, settings: Any, job_input: Any, job_output: Any) -> RunSpec:
        model: Model | None = None
        if deployment.model:
            model = self.ctx.models.get(deployment.model_name, deployment.model_version)
        code = deployment.code_configuration
        builtin = None
        if code is None:
            if model is None or model.type != "mlflow_model":
                raise InvalidInput(
                    f"deployment '{deployment.name}' has no code_configuration and its model is not an MLflow model",
                    field="code_configuration",
                )
            builtin = "mlflow"
        compute = self.ctx.computes.resolve(deployment.compute)
        if compute.type != "ray" and compute.max_instances and settings.instance_count > compute.max_instances:
            # Like a cluster that cannot grow further: the job gets the instances the compute allows.
            settings = settings.model_copy(update={"instance_count": compute.max_instances})
        limit = inv.workers_per_instance(self.ctx.settings.engine.max_workers_per_instance)
        inv.check_capacity(settings, limit, compute.name, local=compute.type != "ray")
        return RunSpec(
            deployment=deployment.model_dump(mode="json"),
            model=model.model_dump(mode="json") if model else None,
            code_manifest=code.code.removeprefix("snapshot:") if code else None,
            scoring_script=code.scoring_script if code else None,
            builtin_scorer=builtin,
            compute=compute.model_dump(mode="json"),
            environment=deployment.environment,
            settings=settings,
            input=job_input,
            output=job_output,
        )

    def _insert(self, name: str, deployment: Any, spec: RunSpec, experiment: str) -> None:
        self.add(
            name, field="job_name", endpoint_name=deployment.endpoint_name, deployment_name=deployment.name,
            experiment_name=experiment, spec=spec.model_dump(mode="json"), output_uri=spec.output.uri or spec.output.path,
        )  # fmt: skip

    def add(self, name: str, *, field: str = "name", **columns: Any) -> None:
        """Store a new job (any kind) Queued at epoch 1, with its creation in its history, and its folder.

        ``columns``: the row's other columns (``type``, ``spec``, ``parent_job_name``, ...); a name
        already taken is a ``Conflict`` on ``field``.
        """
        self._add(name, field, columns, completed=None)

    def add_completed(self, name: str, *, detail: str, publication: dict[str, Any], **columns: Any) -> None:
        """Store a new job that is Completed from the start (a pipeline step that reused another's outputs).

        Created and completed in one transaction: no job queue ever sees it Queued, so nothing can
        start it and write into the outputs it shares with the job it reused.
        """
        self._add(name, "name", columns, completed=(detail, publication))

    def _add(
        self, name: str, field: str, columns: dict[str, Any], completed: tuple[str, dict[str, Any]] | None
    ) -> None:
        # A pipeline's steps are created by its driver on behalf of whoever started the pipeline.
        invoked_by = columns.pop("invoked_by", None) or self.ctx.actor
        source_dir = columns.pop("source_dir", None)
        with self.ctx.db.read() as s:
            if s.scalar(select(JobRow.id).where(JobRow.name == name)) is not None:
                raise Conflict(f"a job named '{name}' already exists", field=field)
            parent = columns.get("parent_job_name")
            parent_run = s.scalar(select(JobRow.run_id).where(JobRow.name == parent)) if parent else None
        # The run first, outside the job's write transaction: the workspace's first one creates the
        # tracking store (seconds), which must not hold the metadata database's write lock.
        run_id = self._start_run(name, columns, invoked_by, parent_run, source_dir)
        with self.ctx.db.session(durable=completed is not None) as s:
            if s.scalar(select(JobRow.id).where(JobRow.name == name)) is not None:
                raise Conflict(f"a job named '{name}' already exists", field=field)
            row = JobRow(
                name=name, state=JobState.queued.value, invoked_by=invoked_by, driver_epoch=1, run_id=run_id, **columns
            )
            s.add(row)
            s.flush()
            lifecycle.record_created(s, row.id, invoked_by)
            if completed is not None:
                detail, publication = completed
                driver = lifecycle.Actor.driver
                lifecycle.transition(s, row.id, "run", driver, epoch=1, detail=detail)
                lifecycle.transition(s, row.id, "finalize", driver, epoch=1)
                lifecycle.transition(
                    s, row.id, "publish", driver, epoch=1, values={"publication": json.dumps(publication)}
                )
                now = time.time()
                lifecycle.transition(
                    s, row.id, "complete", driver, epoch=1, values={"ended_at": now, "heartbeat_at": now}
                )
        self.ctx.layout.job_dir(name).mkdir(parents=True, exist_ok=True)

    def _start_run(
        self, name: str, columns: dict[str, Any], user: str | None, parent_run: str | None, source_dir: Path | None
    ) -> str | None:
        """The job's MLflow run (``runs/``): its id, or None when it could not be recorded (the job goes on)."""
        from batchpoint.runs.jobruns import GIT_PREFIXES, job_run

        runs = self.ctx.runs
        parent_git = runs.parent_tags(parent_run, GIT_PREFIXES) if parent_run and source_dir is None else None
        run = job_run(name, columns, user=user, parent_run_id=parent_run, source_dir=source_dir, parent_git=parent_git)
        return runs.start_job_run(run)

    def _prepare_launch(self, name: str, spec: RunSpec) -> None:
        """When nothing has to be built, prepare the runtime here so the driver can start workers at once.

        Best effort: anything that goes wrong is left to the driver, which prepares again and
        reports the error on the job.
        """
        if spec.environment is not None or spec.builtin_scorer or spec.compute.get("type") == "ray":
            return
        from batchpoint.batch.prepare import prepare_runtime
        from batchpoint.executors.launch import write_plan

        job_dir = self.ctx.layout.job_dir(name)
        try:
            runtime = prepare_runtime(self.ctx, spec, job_dir)
            write_plan(
                job_dir, python=runtime.python, config_file=runtime.config_file, log_dir=job_dir / "logs",
                cwd=runtime.cwd, env=runtime.env, workers=spec.settings.workers, settings=self.ctx.settings,
            )  # fmt: skip
        except Exception:
            return

    def _spawn(self, name: str, epoch: int, compute_type: str | None) -> None:
        from batchpoint.launcher.launch import DriverLauncher

        job_dir = self.ctx.layout.job_dir(name)
        # A Ray driver talks gRPC, whose state must not be inherited from a caller that has used Ray.
        allow_fork = self.ctx.settings.engine.fork_driver and compute_type != "ray"
        DriverLauncher(allow_fork=allow_fork).launch(
            self.ctx.workspace.root, name, epoch, job_dir / "logs" / "driver.out"
        )

    def start_driver(self, name: str, epoch: int = 1, compute_type: str | None = None) -> None:
        """Start the driver of a stored job (any kind), detached; the job row must exist."""
        self._spawn(name, epoch, compute_type)

    # -- reading -----------------------------------------------------------------------------------
    def _row(self, session: Any, name: str) -> JobRow:
        row = session.scalar(select(JobRow).where(JobRow.name == name))
        if row is None:
            raise NotFound(f"job '{name}' does not exist", field="name")
        return row

    def get(self, name: str) -> Job:
        with self.ctx.db.read() as s:
            row = self._row(s, name)
            logs = str(self.ctx.layout.job_dir(name) / "logs")
            children = None
            if row.type == "pipeline":
                query = select(JobRow.name, JobRow.state, JobRow.spec, JobRow.failure_reason).where(
                    JobRow.parent_job_name == name
                )
                children = [dict(c._mapping) for c in s.execute(query.order_by(JobRow.id))]
            history = lifecycle.history(s, row.id)
            job = to_job(row, self.ctx.settings.engine, logs, history=history, children=children)
        job.metrics, job.params = self.ctx.runs.run_data(job.run_id)
        return job

    def run_id(self, name: str) -> str | None:
        """The id of the job's MLflow run (None for a job whose run could not be recorded)."""
        with self.ctx.db.read() as s:
            return self._row(s, name).run_id

    def list(
        self,
        *,
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
        status: str | None = None,
        invoked_by: str | None = None,
        limit: int = 100,
        experiment_name: str | None = None,
        parent_job_name: str | None = None,
        job_type: str | None = None,
    ) -> list[Job]:
        """Jobs, newest first; each filter given narrows the list (``az ml job list`` filters)."""
        query = select(JobRow).order_by(JobRow.created_at.desc()).limit(limit)
        for column, value in (
            (JobRow.experiment_name, experiment_name),
            (JobRow.parent_job_name, parent_job_name),
            (JobRow.type, job_type),
        ):
            if value is not None:
                query = query.where(column == value)
        if invoked_by:
            query = query.where(JobRow.invoked_by == invoked_by)
        if endpoint_name:
            query = query.where(JobRow.endpoint_name == endpoint_name)
        if deployment_name:
            query = query.where(JobRow.deployment_name == deployment_name)
        if status:
            query = query.where(JobRow.state == status)
        with self.ctx.db.read() as s:
            return [to_job(r, self.ctx.settings.engine) for r in s.scalars(query)]

    def wait(
        self,
        name: str,
        *,
        timeout: float | None = None,
        poll: float = 0.25,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll until the job ends (or its driver is lost, or ``timeout`` passes); returns the last view."""
        from batchpoint.jobs.waiting import wait_for_job

        return wait_for_job(self.get, name, timeout=timeout, poll=poll, on_update=on_update)

    # -- control -----------------------------------------------------------------------------------
    def cancel(self, name: str) -> Job:
        """Ask the driver to stop the workers; a job whose driver is gone is canceled at once.

        Refused (``Conflict``) when the job has ended or is publishing its output (it will complete).
        """
        from batchpoint.jobs import control

        control.cancel(self.ctx.db, self.ctx.settings.engine, name, self.ctx.actor)
        return self.get(name)

    def resume(self, name: str) -> Job:
        """Continue a job whose driver died, or a Failed one: committed mini-batches stay, in-flight ones run again.

        Completed and Canceled jobs never change again: refused with a ``Conflict``.
        """
        from batchpoint.jobs import control

        resumed = control.resume(self.ctx.db, self.ctx.settings.engine, name, self.ctx.actor)
        self._spawn(name, resumed.epoch, resumed.compute_type)
        return self.get(name)

    # -- files -------------------------------------------------------------------------------------
    def logs_dir(self, name: str) -> Path:
        self.get(name)
        return self.ctx.layout.job_dir(name) / "logs"

    def read_log(self, name: str, file: str | None = None) -> str:
        """A log file's text (``file`` relative to the job's logs folder; default: the result summary)."""
        logs = self.logs_dir(name)
        if file is None:
            parts = []
            for candidate in ("job_result.txt", "job_error.txt", "job_progress_overview.txt"):
                path = logs / candidate
                if path.exists():
                    parts.append(f"==> {candidate} <==\n{path.read_text()}")
            return "\n".join(parts) if parts else "(no logs yet)\n"
        path = within(logs, file, field="file")
        if not path.is_file():
            raise NotFound(f"log file '{file}' does not exist for job '{name}'", field="file")
        return path.read_text(errors="replace")

    def download(
        self,
        name: str,
        *,
        output_name: str | None = "score",
        download_path: str | Path = ".",
        all: bool = False,
        partial: bool = False,
    ) -> Path:
        """Copy a completed job's output (and with ``all`` its logs) to ``download_path/named-outputs/<name>``.

        Only the files the job wrote are copied (see ``jobs/outputs_manifest.py``). A job that has not
        completed has no output: refused with a ``Conflict`` naming its state, unless ``partial`` (the
        mini-batches committed so far, into ``download_path/partial-outputs/<name>``) or ``all`` (its
        logs) asks for what there is (``jobs/downloads.py``).
        """
        job = self.get(name)
        todo = downloads.plan(job, output_name=output_name, all=all, partial=partial)
        dest = Path(download_path).expanduser().resolve()
        job_dir = self.ctx.layout.job_dir(name)
        for out_name in todo.outputs:
            output = job.outputs[out_name]
            if todo.kind == "partial":
                self.partial_output(name, output, dest / downloads.PARTIAL_DIR / out_name)
                continue
            for rel, src in outputs_manifest.job_files(job_dir, output, job.status is JobState.completed):
                target = dest / "named-outputs" / out_name / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
        if todo.kind == "partial":
            downloads.write_readme(dest, job, todo.outputs)
        if todo.logs:
            logs = job_dir / "logs"
            if logs.is_dir():
                shutil.copytree(logs, dest / "artifacts" / "logs", dirs_exist_ok=True)
            else:
                (dest / "artifacts" / "logs").mkdir(parents=True, exist_ok=True)
            self._copy_run_artifacts(job.run_id, dest / "artifacts")
        return dest

    def _copy_run_artifacts(self, run_id: str | None, dest: Path) -> None:
        """What the job's code logged with ``mlflow.log_artifact``, beside its logs (``--all``)."""
        folder = self.ctx.runs.artifact_dir(run_id) if run_id else None
        if folder is None or not folder.is_dir():
            return
        root = self.ctx.layout.root.resolve()
        if not folder.resolve().is_relative_to(root):
            return  # a run whose artifacts live elsewhere (a datastore): not ours to copy from
        # Links are copied as links, never followed: a job's code may have planted one.
        shutil.copytree(folder, dest, symlinks=True, dirs_exist_ok=True)

    def partial_output(self, name: str, output: JobOutput, folder: Path) -> Path | None:
        """Merge the part files of the job's committed mini-batches into ``folder/<output file>``; the file, or None.

        A part is taken only from the job's own ``parts`` folder and only as a regular file of the
        committed size (``batch/merge.py`` opens it without following links); None when the output
        has no append_row file (``summary_only``) or nothing is committed yet (the folder is made).
        """
        folder.mkdir(parents=True, exist_ok=True)
        if not output.file:
            return None
        parts_dir = (self.ctx.layout.job_dir(name) / "parts").resolve()
        with self.ctx.db.read() as s:
            job_id = self._row(s, name).id
            rows = s.execute(
                select(MiniBatchRow.idx, MiniBatchRow.part, MiniBatchRow.part_size)
                .where(MiniBatchRow.job_id == job_id, MiniBatchRow.state == "done", MiniBatchRow.part.is_not(None))
                .order_by(MiniBatchRow.idx)
            ).all()
        from batchpoint.batch import merge

        parts = [
            (int(idx), str(part), size) for idx, part, size in rows if Path(str(part)).parent.resolve() == parts_dir
        ]
        bad = set(merge.check_parts(parts))  # a part lost or still being replaced: left out
        good = [part for idx, part, _ in parts if idx not in bad]
        if not good:
            return None
        target = folder / Path(output.file).name
        downloads.merge_parts(good, target)
        return target

    def spec(self, name: str) -> RunSpec:
        with self.ctx.db.read() as s:
            return RunSpec.model_validate(self._row(s, name).spec)

    # -- jobs from YAML (command, pipeline) ---------------------------------------------------------
    def create(
        self,
        source: str | Path | dict[str, Any],
        *,
        name: str | None = None,
        set_pairs: builtins.list[tuple[str, Any]] | None = None,
        base_dir: Path | None = None,
        file: str | None = None,
        start: bool = True,
    ) -> Job:
        """``job create -f job.yml``: a command or pipeline job from a YAML file or its mapping.

        Paths in a mapping are relative to ``base_dir`` (default: the current folder); a file's, to its folder.
        """
        from batchpoint.common import yamlio
        from batchpoint.jobs.creation import create_job

        if isinstance(source, dict):
            data = source
        else:
            path = Path(source)
            data = yamlio.load_file(path)
            base_dir, file = path.resolve().parent, str(path)
        return create_job(self.ctx, data, base_dir=base_dir, file=file, name=name, set_pairs=set_pairs, start=start)
