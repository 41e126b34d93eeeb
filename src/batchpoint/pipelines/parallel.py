"""A pipeline's parallel step as a ``batch`` child job: the batch engine runs its entry script.

The step's component (``type: parallel``) gives the entry script, its code and environment and the
run settings; the driver gives the step's resolved inputs and outputs. ``input_data`` becomes the
job's input (planned and cut into mini-batches as a batch endpoint's input is), ``append_row_to``
the output folder the results are merged into (``parallel_run_step.txt``, or the file a
``uri_file`` output names), and ``program_arguments`` the entry script's ``sys.argv`` (each
``${{...}}`` one argument). So a parallel step gets every guarantee of a batch job: each
mini-batch once, retries, error thresholds, resume after a kill.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.common import expressions
from batchpoint.components.minibatch import parse_size
from batchpoint.components.parallel import APPEND_FILE, ParallelSettings
from batchpoint.endpoints.settings import BatchDeploymentSettings, RetrySettings
from batchpoint.errors import InvalidInput
from batchpoint.jobs.schemas import JobInput, JobOutput, RunSpec

if TYPE_CHECKING:
    from batchpoint.command_jobs.runspec import ResolvedInput, ResolvedOutput
    from batchpoint.components.schemas import Component
    from batchpoint.pipelines.plan import StepPlan
    from batchpoint.services import Services

JOB_TYPE = "batch"


def run_spec(
    ctx: Services,
    plan: StepPlan,
    component: Component,
    inputs: dict[str, ResolvedInput],
    outputs: dict[str, ResolvedOutput],
) -> RunSpec:
    """What the batch engine runs for this step."""
    settings = ParallelSettings.model_validate(plan.parallel or {})
    owner = f"step '{plan.name}' (component '{component.name}')"
    files, size = parse_size(settings.mini_batch_size)
    compute = ctx.computes.resolve(plan.compute)
    batch_settings = BatchDeploymentSettings(
        mini_batch_size=files or 1,
        max_concurrency_per_instance=settings.max_concurrency_per_instance,
        instance_count=_instances(settings.instance_count, compute.max_instances, compute.type),
        output_action="append_row" if settings.append_row_to else "summary_only",
        output_file_name=_append_file(settings, outputs),
        retry_settings=RetrySettings(max_retries=settings.max_retries, timeout=settings.timeout),
        error_threshold=settings.error_threshold,
        logging_level=settings.logging_level,
        environment_variables={**component.environment_variables, **plan.environment_variables},
    )
    return RunSpec(
        deployment={"name": plan.name, "type": "parallel", "resources": component.resources or {}},
        code_manifest=component.code.removeprefix("snapshot:") if component.code else None,
        scoring_script=settings.entry_script,
        compute=compute.model_dump(mode="json"),
        environment=component.environment,
        settings=batch_settings,
        input=_input_data(settings.input_data, inputs, owner),
        output=_output(settings, outputs, batch_settings),
        program_arguments=_arguments(settings.program_arguments, inputs, outputs, owner),
        mini_batch_bytes=size,
        mini_batch_error_threshold=settings.mini_batch_error_threshold,
        step=plan.name,
        component=plan.component,
        outputs={k: o.model_dump(mode="json") for k, o in outputs.items()},
    )


def _instances(wanted: int, allowed: int | None, compute_type: str) -> int:
    # As a batch deployment's job: a local compute gives at most its max_instances.
    return min(wanted, allowed) if allowed and compute_type != "ray" else wanted


def _append_file(settings: ParallelSettings, outputs: dict[str, ResolvedOutput]) -> str:
    target = outputs.get(settings.append_row_to or "")
    if target is not None and target.type == "uri_file":
        return Path(target.path).name
    return APPEND_FILE


def _input_data(port: str, inputs: dict[str, ResolvedInput], owner: str) -> JobInput:
    given = inputs.get(port)
    if given is None or not given.path:
        raise InvalidInput(f"{owner}: input_data '{port}' has no value", field=f"inputs.{port}")
    kind = "uri_file" if Path(given.path).is_file() else "uri_folder"
    return JobInput(type=kind, path=given.uri or given.path, resolved=given.path)


def _output(
    settings: ParallelSettings, outputs: dict[str, ResolvedOutput], batch: BatchDeploymentSettings
) -> JobOutput:
    """The folder the results go to: ``append_row_to``'s, else the first output's (the script's own files)."""
    target = outputs.get(settings.append_row_to or "") or next(iter(outputs.values()), None)
    if target is None:
        raise InvalidInput("a parallel step needs an output (append_row_to, or one its script writes to)")
    folder = Path(target.path).parent if target.type == "uri_file" else Path(target.path)
    file = folder / batch.output_file_name if batch.output_action == "append_row" else None
    return JobOutput(type="uri_folder", path=str(folder), file=str(file) if file else None)


def _arguments(
    template: str | None, inputs: dict[str, ResolvedInput], outputs: dict[str, ResolvedOutput], owner: str
) -> list[str]:
    """``program_arguments`` as argv: each value substituted as one (quoted) word, then split back."""
    if not template:
        return []
    text = expressions.render_command(
        template, {k: i.text for k, i in inputs.items()}, {k: o.path for k, o in outputs.items()},
        owner=owner, field="task.program_arguments",
    )  # fmt: skip
    return shlex.split(text)


def retarget(
    spec: dict[str, Any], settings: ParallelSettings, outputs: dict[str, ResolvedOutput], reused_from: str
) -> dict[str, Any]:
    """A reused parallel step's spec: its outputs the matched job's (``pipelines/kind.py``'s reuse)."""
    run = RunSpec.model_validate(spec)
    output = _output(settings, outputs, run.settings)
    dumped = {k: o.model_dump(mode="json") for k, o in outputs.items()}
    return {**spec, "outputs": dumped, "output": output.model_dump(mode="json"), "reused_from": reused_from}
