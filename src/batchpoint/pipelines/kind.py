"""The ``pipeline`` job kind: its driver runs the plan's steps as child jobs, in dependency order.

The driver holds no state of its own beyond the database: each step's child job (``<pipeline>-<step>``,
``-2``, ``-3`` for later attempts) says where the step is, so a resumed driver (``job resume``, or
the server's restart of a lost one) carries on from the children as they are: completed steps are
never run again, running ones are waited for, and steps that failed or were canceled before this
driver started get a new attempt.

A step whose dependencies completed starts when its compute has a free slot (embedded; through the
server, its queue bounds the computes); one that matches a completed step (``reuse.py``) completes
at once with that step's outputs. A failed step cancels the running ones and fails the pipeline,
unless ``settings.continue_on_step_failure``: then only the steps downstream of it are skipped.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from batchpoint.errors import BatchpointError
from batchpoint.jobs import outputs_manifest
from batchpoint.jobs.record import CancelPending, JobRecord, Superseded
from batchpoint.jobs.schemas import TERMINAL, JobState
from batchpoint.pipelines import reuse
from batchpoint.pipelines.plan import PipelinePlan, StepPlan
from batchpoint.store.tables import JobEventRow, JobRow

if TYPE_CHECKING:
    from batchpoint.command_jobs.runspec import ResolvedInput, ResolvedOutput
    from batchpoint.components.schemas import Component
    from batchpoint.executors.launch import Launched
    from batchpoint.jobs.kinds import DriverJob
    from batchpoint.services import Services

log = logging.getLogger("batchpoint.driver")
POLL_SECONDS = 0.05
CANCEL_WAIT_SECONDS = 60.0


@dataclass
class Child:
    """A step's latest child job, as read from its row."""

    name: str
    step: str
    state: JobState
    spec: dict[str, Any]
    fingerprint: str | None
    failure_reason: str | None

    def output_path(self, name: str) -> str:
        return str(((self.spec.get("outputs") or {}).get(name) or {}).get("path") or "")


@dataclass(frozen=True)
class _Launch:
    """What starting one step needs: its plan and component, the child job's name, its resolved
    inputs and outputs, its reuse fingerprint and the earlier job it may reuse."""

    plan: StepPlan
    component: Component
    name: str
    inputs: dict[str, ResolvedInput]
    outputs: dict[str, ResolvedOutput]
    digest: str
    match: JobRow | None


class PipelineJob:
    type = "pipeline"

    def run(self, ctx: Services, job: DriverJob, epoch: int, prestarted: list[Launched]) -> JobState:
        for launched in prestarted:  # a pipeline's driver starts no workers of its own
            launched.proc.kill()
        return PipelineDriver(ctx, job.id, job.name, epoch).run()


class PipelineDriver:
    def __init__(self, ctx: Services, job_id: int, name: str, epoch: int) -> None:
        self.ctx = ctx
        self.name = name
        self.record = JobRecord(ctx.db, job_id, epoch)
        with ctx.db.read() as s:
            row = s.scalars(select(JobRow).where(JobRow.id == job_id)).one()
            self.plan = PipelinePlan.model_validate(row.spec)
            self.experiment = row.experiment_name or "Default"
            self.invoked_by = row.invoked_by  # the steps are that user's jobs too
            launched = s.scalar(
                select(JobEventRow.id).where(JobEventRow.job_id == job_id, JobEventRow.action == "launch").limit(1)
            )
        # Started by the server's queue: the children are queued too, and the queue starts them.
        self.through_queue = launched is not None
        self.retry: dict[str, str] = {}
        """Steps to run again (their child failed before this driver started) → that child's name."""
        self.limits: dict[str | None, int] = {}

    # -- the run --------------------------------------------------------------------------------------
    def run(self) -> JobState:
        try:
            publication = self.record.publication()
            if publication is not None:  # an earlier driver published: only Completed is left to record
                return self.record.complete(publication)
            now = time.time()
            self.record.advance(
                "prepare", started_at=now, heartbeat_at=now, driver_pid=os.getpid(), driver_host=socket.gethostname()
            )
            self.record.advance("run")
            children = self._children()
            for step, child in children.items():
                if child.state in (JobState.failed, JobState.canceled):
                    self.retry[step] = child.name
            return self._loop()
        except CancelPending:
            self._stop_children()
            return self.record.end(JobState.canceled, "canceled by request")
        except Superseded:
            return JobState.running
        except BatchpointError as exc:
            self._stop_children()
            try:
                return self.record.end(JobState.failed, str(exc))
            except Superseded:
                return JobState.running

    def _loop(self) -> JobState:
        settings = self.plan.settings
        beat_every = self.ctx.settings.engine.heartbeat_seconds
        last_beat = 0.0
        while True:
            if self.record.read_state() == JobState.cancel_requested.value:
                raise CancelPending(self.name)
            if time.monotonic() - last_beat >= beat_every:  # a write: not at every poll
                self.record.heartbeat()
                last_beat = time.monotonic()
            children = self._children()
            status = {s: self._status(s, children) for s in self.plan.steps}
            failed = [s for s in self.plan.order if status[s] in (JobState.failed, JobState.canceled)]
            if failed and not settings.continue_on_step_failure:
                self._stop_children()
                return self.record.end(JobState.failed, self._reason(failed, self._children(), skipped=[]))
            blocked = self._downstream(failed)
            started = False
            for step in self.plan.order:
                if status[step] is None and step not in blocked and self._ready(step, status, children):
                    self._start(step, children)
                    started = True
            if started:
                continue
            if all(status[s] in TERMINAL or s in blocked for s in self.plan.steps):
                if failed:
                    skipped = [s for s in self.plan.order if s in blocked and status[s] is None]
                    return self.record.end(JobState.failed, self._reason(failed, children, skipped=skipped))
                return self._complete(children)
            time.sleep(POLL_SECONDS)

    def _status(self, step: str, children: dict[str, Child]) -> JobState | None:
        child = children.get(step)
        if child is None or self.retry.get(step) == child.name:
            return None
        return child.state

    def _ready(self, step: str, status: dict[str, JobState | None], children: dict[str, Child]) -> bool:
        plan = self.plan.steps[step]
        if not all(status[d] is JobState.completed for d in plan.depends_on):
            return False
        if self.through_queue:
            return True
        running = sum(
            1
            for s, c in children.items()
            if status.get(s) is not None and c.state not in TERMINAL and self.plan.steps[s].compute == plan.compute
        )
        return running < self._limit(plan.compute)

    def _limit(self, compute: str | None) -> int:
        if compute not in self.limits:
            self.limits[compute] = max(1, self.ctx.computes.resolve(compute).max_instances or 1)
        return self.limits[compute]

    def _downstream(self, failed: list[str]) -> set[str]:
        blocked: set[str] = set()
        frontier = set(failed)
        while frontier:
            frontier = {s for s, p in self.plan.steps.items() if frontier & set(p.depends_on)} - blocked
            blocked |= frontier
        return blocked

    # -- starting a step --------------------------------------------------------------------------------
    def _start(self, step: str, children: dict[str, Child]) -> None:
        plan = self.plan.steps[step]
        component = self.ctx.components.resolve(plan.component, base_dir=None, field=f"jobs.{step}", file=None)
        name = self._child_name(step)
        inputs, tokens = self._inputs(plan, children)
        outputs = self._outputs(plan, name)
        digest = reuse.fingerprint(plan, tokens, {k: o.type for k, o in plan.outputs.items()})
        reusable = plan.deterministic and not plan.force_rerun and not self.plan.settings.force_rerun
        match = reuse.find(self.ctx.db, digest) if reusable else None
        launch = _Launch(plan, component, name, inputs, outputs, digest, match)
        if plan.type == "parallel":
            self._start_parallel(launch)
        else:
            self._start_command(launch)
        self.retry.pop(step, None)

    def _start_command(self, launch: _Launch) -> None:
        from batchpoint.command_jobs.runspec import CommandRunSpec
        from batchpoint.command_jobs.service import CommandJobService

        plan, component = launch.plan, launch.component
        run = CommandRunSpec(
            command=component.command or "",
            code=component.code.removeprefix("snapshot:") if component.code else None,
            environment=component.environment,
            compute=self.ctx.computes.resolve(plan.compute).model_dump(mode="json"),
            inputs=launch.inputs,
            outputs=launch.outputs,
            environment_variables={**component.environment_variables, **plan.environment_variables},
            display_name=plan.name,
            component=plan.component,
            fingerprint=launch.digest,
            step=plan.name,
        )
        if launch.match is not None:
            reused, original = self._reused_outputs(plan.name, launch.outputs, launch.match)
            run = run.model_copy(update={"outputs": reused, "reused_from": original})
            self._store_reused("command", launch.name, run.model_dump(mode="json"), launch.digest, original)
            return
        log.info("step %s: starting job %s", plan.name, launch.name)
        CommandJobService(self.ctx).create_run(
            run, name=launch.name, parent_job_name=self.name, experiment_name=self.experiment,
            start=not self.through_queue, invoked_by=self.invoked_by,
        )  # fmt: skip

    def _start_parallel(self, launch: _Launch) -> None:
        from batchpoint.components.parallel import ParallelSettings
        from batchpoint.pipelines import parallel

        plan = launch.plan
        run = parallel.run_spec(self.ctx, plan, launch.component, launch.inputs, launch.outputs)
        spec = run.model_dump(mode="json")
        if launch.match is not None:
            reused, original = self._reused_outputs(plan.name, launch.outputs, launch.match)
            spec = parallel.retarget(spec, ParallelSettings.model_validate(plan.parallel), reused, original)
            self._store_reused(parallel.JOB_TYPE, launch.name, spec, launch.digest, original)
            return
        self.ctx.jobs.add(
            launch.name, type=parallel.JOB_TYPE, parent_job_name=self.name, experiment_name=self.experiment,
            spec=spec, fingerprint=launch.digest, output_uri=spec["output"]["path"], invoked_by=self.invoked_by,
        )  # fmt: skip
        log.info("step %s: starting batch job %s", plan.name, launch.name)
        if not self.through_queue:
            self.ctx.jobs.start_driver(launch.name, 1, run.compute.get("type"))

    def _child_name(self, step: str) -> str:
        base = f"{self.name}-{step}"
        with self.ctx.db.read() as s:
            taken = set(s.scalars(select(JobRow.name).where(JobRow.parent_job_name == self.name)))
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    def _inputs(
        self, plan: StepPlan, children: dict[str, Child]
    ) -> tuple[dict[str, ResolvedInput], dict[str, str | None]]:
        from batchpoint.command_jobs.runspec import ResolvedInput

        inputs: dict[str, ResolvedInput] = {}
        tokens: dict[str, str | None] = {}
        for key, given in plan.inputs.items():
            binding = given.binding
            if binding is None:
                resolved = given.resolved
            elif binding.kind == "parent_input":
                resolved = self.plan.inputs.get(binding.name)
            else:
                upstream = children[binding.step or ""]
                source = self.plan.steps[upstream.step]
                identity = upstream.fingerprint if source.deterministic and upstream.fingerprint else upstream.name
                resolved = {
                    "type": given.type,
                    "uri": f"${{{{parent.jobs.{upstream.step}.outputs.{binding.name}}}}}",
                    "path": upstream.output_path(binding.name),
                }
                tokens[key] = f"step:{identity}:{binding.name}"
            if resolved is None:
                inputs[key] = ResolvedInput(type=given.type)
                tokens[key] = None
                continue
            inputs[key] = ResolvedInput.model_validate({**resolved, "type": given.type})
            tokens.setdefault(key, reuse.input_token(resolved))
        return inputs, tokens

    def _outputs(self, plan: StepPlan, child_name: str) -> dict[str, ResolvedOutput]:
        from batchpoint.command_jobs.runspec import ResolvedOutput
        from batchpoint.command_jobs.service import CommandJobService

        outputs: dict[str, ResolvedOutput] = {}
        for key, out in plan.outputs.items():
            explicit = self.plan.outputs.get(out.parent_output) if out.parent_output else None
            path = (explicit or {}).get("path") or out.path
            if path:
                outputs[key] = ResolvedOutput(type=out.type, path=str(path), mode=out.mode or "rw_mount")
            else:
                outputs[key] = CommandJobService(self.ctx).default_output(child_name, key, out.type)
        return outputs

    def _reused_outputs(
        self, step: str, mine: dict[str, ResolvedOutput], match: JobRow
    ) -> tuple[dict[str, ResolvedOutput], str]:
        """The matched job's outputs (copied where this step's path is fixed) and the job that really ran it."""
        from batchpoint.command_jobs.runspec import ResolvedOutput

        theirs = (match.spec or {}).get("outputs") or {}
        original = (match.spec or {}).get("reused_from") or match.name
        outputs = {}
        for key, own in mine.items():
            source = theirs.get(key, {}).get("path")
            if self._is_fixed(step, key) and source and Path(source) != Path(own.path):
                _copy(Path(source), Path(own.path))
                outputs[key] = own
            else:
                outputs[key] = ResolvedOutput.model_validate(theirs[key]) if key in theirs else own
        return outputs, original

    def _store_reused(self, kind: str, name: str, spec: dict[str, Any], digest: str, original: str) -> None:
        """The step's child job, Completed from the start with the outputs of ``original``."""
        self.ctx.jobs.add_completed(
            name, detail=f"reused from {original}", publication={"reused_from": original}, type=kind,
            parent_job_name=self.name, experiment_name=self.experiment, spec=spec, fingerprint=digest,
            invoked_by=self.invoked_by,
        )  # fmt: skip
        log.info("step %s: reused the outputs of %s", spec.get("step"), original)

    def _is_fixed(self, step: str | None, key: str) -> bool:
        out = self.plan.steps[step or ""].outputs[key]
        return bool(out.path or (out.parent_output and self.plan.outputs.get(out.parent_output)))

    # -- the end -------------------------------------------------------------------------------------
    def _complete(self, children: dict[str, Child]) -> JobState:
        """Publish where each pipeline output is, with the files its step wrote (what downloads hand out)."""
        outputs: dict[str, str] = {}
        files: dict[str, list[str]] = {}
        for key, explicit in self.plan.outputs.items():
            for step, plan in self.plan.steps.items():
                for out_name, out in plan.outputs.items():
                    if out.parent_output != key:
                        continue
                    child = children[step]
                    path = str(explicit["path"]) if explicit else child.output_path(out_name)
                    outputs[key] = path
                    producer = child.spec.get("reused_from") or child.name
                    listed = outputs_manifest.read(self.ctx.layout.job_dir(producer), Path(path))
                    files[path] = listed if listed is not None else outputs_manifest.list_files(Path(path))
        outputs_manifest.write_outputs(self.ctx.layout.job_dir(self.name), files)
        return self.record.complete(publication={"outputs": outputs})

    def _reason(self, failed: list[str], children: dict[str, Child], *, skipped: list[str]) -> str:
        parts = []
        for step in failed:
            child = children[step]
            words = "was canceled" if child.state is JobState.canceled else "failed"
            detail = f": {child.failure_reason}" if child.failure_reason else ""
            parts.append(f"step '{step}' {words} (job {child.name}){detail}")
        text = "; ".join(parts)
        if skipped:
            text += f"; not run because of it: {', '.join(skipped)}"
        return text

    def _stop_children(self) -> None:
        """Cancel every open child and wait (bounded) until they have all ended."""
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        asked: set[str] = set()
        while time.monotonic() < deadline:
            open_children = [c for c in self._children().values() if c.state not in TERMINAL]
            if not open_children:
                return
            for child in open_children:
                if child.name not in asked:
                    asked.add(child.name)
                    try:
                        self.ctx.jobs.cancel(child.name)
                    except BatchpointError as exc:
                        log.info("cancel of step job %s: %s", child.name, exc)
            time.sleep(POLL_SECONDS * 4)

    def _children(self) -> dict[str, Child]:
        """Each step's latest child job."""
        latest: dict[str, Child] = {}
        with self.ctx.db.read() as s:
            rows = s.execute(
                select(JobRow.name, JobRow.state, JobRow.spec, JobRow.fingerprint, JobRow.failure_reason)
                .where(JobRow.parent_job_name == self.name)
                .order_by(JobRow.id)
            ).all()
        for name, state, spec, digest, reason in rows:
            step = (spec or {}).get("step")
            if step in self.plan.steps:
                latest[step] = Child(name, step, JobState(state), spec or {}, digest, reason)
        return latest


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
