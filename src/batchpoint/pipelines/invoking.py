"""``batch-endpoint invoke`` of a pipeline deployment: the request's inputs and outputs for its component.

A pipeline deployment takes named inputs and outputs (``-f inputs.yml``, literals included), a
single ``--input``/``--output-path`` when its component has exactly one data input or output, and
``--set inputs.<name>=VALUE`` / ``--set inputs.<name>.path=PATH`` / ``--set outputs.<name>.path=PATH``.
Nothing else can be set per job: the steps' settings are the component's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchpoint.common.text import shown
from batchpoint.errors import InvalidInput

if TYPE_CHECKING:
    from batchpoint.endpoints.schemas import BatchDeployment
    from batchpoint.jobs.invoke import InvokeRequest
    from batchpoint.jobs.schemas import Job
    from batchpoint.services import Services

_INPUT_KEYS = ("", "value", "default")


def invoke_pipeline_deployment(
    ctx: Services, deployment: BatchDeployment, request: InvokeRequest, *, start: bool, data_plane_only: bool
) -> Job:
    from batchpoint.pipelines.service import invoke_deployment

    del data_plane_only  # a pipeline job's per-job choices are its inputs and outputs, which any invoker gives
    if request.mini_batch_size is not None or request.instance_count is not None:
        raise InvalidInput(
            "--mini-batch-size and --instance-count are for model deployments; a pipeline deployment's steps "
            "carry their own settings",
            field="mini_batch_size" if request.mini_batch_size is not None else "instance_count",
        )
    inputs = dict(request.inputs or {})
    outputs = dict(request.outputs or {})
    for key, value in request.pairs():
        _apply(inputs, outputs, key, value)
    return invoke_deployment(
        ctx, deployment, inputs=inputs, outputs=outputs, job_name=request.job_name,
        experiment_name=request.experiment_name, start=start,
        single_input=(request.input, request.input_type) if request.input else None,
        single_output=request.output_path,
    )  # fmt: skip


def _apply(inputs: dict[str, Any], outputs: dict[str, Any], key: str, value: Any) -> None:
    head, _, rest = key.partition(".")
    name, _, sub = rest.partition(".")
    if head == "inputs" and name and sub in (*_INPUT_KEYS, "path", "type", "mode"):
        if sub in _INPUT_KEYS:
            inputs[name] = value
        else:
            current = inputs.get(name)
            inputs[name] = {**(current if isinstance(current, dict) else {}), sub: value}
        return
    if head == "outputs" and name and sub in ("path", "type", "mode"):
        current = outputs.get(name)
        outputs[name] = {**(current if isinstance(current, dict) else {}), sub: value}
        return
    raise InvalidInput(
        f"'{shown(key)}' cannot be set when invoking a pipeline deployment; set inputs.<name>=VALUE, "
        "inputs.<name>.path=PATH or outputs.<name>.path=PATH (the steps' settings are the component's)",
        field=f"overrides.{shown(key, 120)}",
    )
