"""Creating pipeline jobs: from a pipeline job YAML (``job create``) or a pipeline deployment (``invoke``).

Both end in the same place: a checked ``PipelinePlan`` stored in a ``pipeline`` job row, whose
driver (``pipelines/kind.py``) runs the steps as child jobs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from batchpoint.common import names, validation
from batchpoint.errors import InvalidInput
from batchpoint.jobs.schemas import Job
from batchpoint.pipelines.graph import PlanBuilder, check_outputs_bound
from batchpoint.pipelines.plan import PATH_TYPES, PipelinePlan
from batchpoint.pipelines.specs import PipelineJobSpec, PipelineSettings
from batchpoint.store.tables import JobRow

if TYPE_CHECKING:
    from batchpoint.endpoints.schemas import BatchDeployment
    from batchpoint.services import Services

JOB_TYPE = "pipeline"


def create_pipeline_job(
    ctx: Services,
    data: dict[str, Any],
    *,
    base_dir: Path | None,
    file: str | None,
    name: str | None = None,
    start: bool = True,
) -> Job:
    """``batchpoint job create -f pipeline-job.yml``: check the whole pipeline, store it, start its driver."""
    spec = validation.parse(PipelineJobSpec, data, file=file)
    builder = PlanBuilder(ctx, base_dir=base_dir, file=file)
    inputs, input_types = builder.pipeline_inputs(spec.inputs, None)
    outputs, output_types = builder.pipeline_outputs(spec.outputs, None)
    steps, order = builder.steps(
        spec.jobs, input_types=input_types, output_types=output_types, settings=spec.settings,
        default_compute=spec.compute,
    )  # fmt: skip
    check_outputs_bound(steps, outputs, file=file)
    plan = PipelinePlan(
        display_name=spec.display_name, description=spec.description, tags=dict(spec.tags), inputs=inputs,
        outputs=outputs, output_types=output_types, steps=steps, order=order, settings=spec.settings,
    )  # fmt: skip
    job_name = _job_name(name or spec.name)
    experiment = spec.experiment_name or (base_dir.name if base_dir is not None else None) or "Default"
    return store_and_start(ctx, job_name, plan, experiment=experiment, start=start)


def invoke_deployment(
    ctx: Services,
    deployment: BatchDeployment,
    *,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    job_name: str | None,
    experiment_name: str | None,
    start: bool,
    single_input: tuple[str, str | None] | None = None,
    single_output: str | None = None,
) -> Job:
    """``batch-endpoint invoke`` of a pipeline deployment: its component run with these inputs."""
    component_ref = deployment.component
    if component_ref is None:
        if single_input or single_output:
            raise InvalidInput(
                "a deployment made from a pipeline job runs that job's inputs; --input and --output-path do not apply",
                field="input" if single_input else "output_path",
            )
        return _rerun_job_definition(ctx, deployment, inputs, outputs, job_name, experiment_name, start)
    component, base_dir = _deployed_component(ctx, component_ref)
    if single_input is not None:
        key, port = _only(component.inputs, "input", component.name, "--input")
        inputs.setdefault(key, {"type": single_input[1] or port.type, "path": single_input[0]})
    if single_output is not None:
        key, port = _only(component.outputs, "output", component.name, "--output-path")
        outputs.setdefault(key, {"type": port.type, "path": single_output})
    builder = PlanBuilder(ctx, base_dir=base_dir, file=None)
    settings = PipelineSettings.model_validate(deployment.pipeline_settings or {})
    plan_inputs, input_types = builder.pipeline_inputs(inputs, component.inputs)
    plan_outputs, output_types = builder.pipeline_outputs(outputs, component.outputs)
    steps, order = builder.steps(
        component.jobs or {}, input_types=input_types, output_types=output_types, settings=settings,
        default_compute=settings.default_compute,
    )  # fmt: skip
    check_outputs_bound(steps, plan_outputs, file=None)
    plan = PipelinePlan(
        display_name=component.display_name or component.name, description=component.description,
        component=component.id, inputs=plan_inputs, outputs=plan_outputs, output_types=output_types,
        steps=steps, order=order, settings=settings,
    )  # fmt: skip
    name = _job_name(job_name)
    return store_and_start(
        ctx, name, plan, experiment=experiment_name or deployment.endpoint_name, start=start, deployment=deployment
    )


def _only(ports: dict[str, Any], what: str, component: str, flag: str) -> tuple[str, Any]:
    """The one data (path-typed) input or output a bare ``--input``/``--output-path`` means."""
    data = [(k, p) for k, p in ports.items() if p.type in PATH_TYPES]
    if len(data) != 1:
        listed = ", ".join(k for k, _ in data) or "none"
        raise InvalidInput(
            f"{flag}: pipeline component '{component}' has {len(data)} data {what}s ({listed}); name them in "
            f"-f inputs.yml or with --set {what}s.<name>.path=PATH",
            field="input" if what == "input" else "output_path",
        )
    return data[0]


def _deployed_component(ctx: Services, ref: str) -> tuple[Any, Path | None]:
    """The deployment's pipeline component: registered (``azureml:…``), or the snapshot of a local file."""
    from batchpoint.endpoints import snapshot

    if not snapshot.is_snapshot(ref):
        return ctx.components.resolve(ref, base_dir=None, field="component", file=None), None
    digest, _, inner = ref.removeprefix(snapshot.PREFIX).partition("/")
    folder = ctx.layout.cache / "pipeline-components" / digest
    if not folder.exists():
        # Exported beside it, then renamed into place: a concurrent invoke never sees half a folder.
        staging = folder.with_name(f".{digest}.{uuid.uuid4().hex}")
        exported = ctx.artifacts.export(digest, staging)
        with contextlib.suppress(OSError):  # another invoke put it in place first
            os.replace(exported, folder)
        shutil.rmtree(staging, ignore_errors=True)
    path = folder / inner
    component = ctx.components.resolve(str(path), base_dir=folder, field="component", file=None)
    if component.type != "pipeline":
        raise InvalidInput(f"'{inner}' is a {component.type} component, not a pipeline component", field="component")
    return component, folder


def _rerun_job_definition(
    ctx: Services,
    deployment: BatchDeployment,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    job_name: str | None,
    experiment_name: str | None,
    start: bool,
) -> Job:
    """A deployment made from a pipeline job that ran: its stored plan again, under a new job."""
    source = (deployment.job_definition or "").removeprefix("azureml:")
    with ctx.db.read() as s:
        row = s.scalar(select(JobRow).where(JobRow.name == source))
        if row is None or row.type != JOB_TYPE:
            raise InvalidInput(
                f"deployment '{deployment.name}': job_definition names '{source}', which is not a pipeline job "
                "of this workspace",
                field="job_definition",
            )
        plan = PipelinePlan.model_validate(row.spec)
    if inputs or outputs:
        raise InvalidInput(
            "a deployment made from a pipeline job runs that job's inputs; deploy a pipeline component to "
            "pass inputs when invoking",
            field="inputs",
        )
    settings = plan.settings.model_copy(update=dict(deployment.pipeline_settings or {}))
    plan = plan.model_copy(update={"settings": settings})
    return store_and_start(
        ctx, _job_name(job_name), plan, experiment=experiment_name or deployment.endpoint_name, start=start,
        deployment=deployment,
    )  # fmt: skip


def _job_name(given: str | None) -> str:
    return names.job_name(given) if given else f"pipelinejob-{uuid.uuid4()}"


def store_and_start(
    ctx: Services,
    name: str,
    plan: PipelinePlan,
    *,
    experiment: str,
    start: bool = True,
    deployment: BatchDeployment | None = None,
) -> Job:
    ctx.jobs.add(
        name, type=JOB_TYPE, endpoint_name=deployment.endpoint_name if deployment else None,
        deployment_name=deployment.name if deployment else None, experiment_name=experiment,
        spec=plan.model_dump(mode="json"),
    )  # fmt: skip
    (ctx.layout.job_dir(name) / "logs").mkdir(exist_ok=True)
    if start:
        ctx.jobs.start_driver(name)
    return ctx.jobs.get(name)
