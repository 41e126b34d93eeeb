"""How a pipeline job looks in ``job show``: its inputs, its outputs and each step's state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from batchpoint.jobs.schemas import JobStep
from batchpoint.pipelines.plan import PipelinePlan


def steps(spec: Mapping[str, Any], children: Sequence[Mapping[str, Any]]) -> list[JobStep]:
    """``children``: the pipeline's child job rows (name, state, spec, failure_reason), oldest first."""
    plan = PipelinePlan.model_validate(spec)
    latest: dict[str, Mapping[str, Any]] = {}
    for child in children:
        step = (child.get("spec") or {}).get("step")
        if step in plan.steps:
            latest[step] = child
    views = []
    for name in plan.order:
        step = plan.steps[name]
        found = latest.get(name)
        view = JobStep(name=name, component=step.component, depends_on=step.depends_on)
        if found is not None:
            view.job = found["name"]
            view.status = found["state"]
            view.reused_from = (found.get("spec") or {}).get("reused_from")
            view.failure_reason = found.get("failure_reason")
        views.append(view)
    return views


def io(spec: Mapping[str, Any], publication: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pipeline's inputs (as resolved) and outputs (where they are once published)."""
    plan = PipelinePlan.model_validate(spec)
    inputs = {k: v for k, v in plan.inputs.items() if v is not None}
    published = (publication or {}).get("outputs") or {}
    outputs: dict[str, Any] = {}
    for key, explicit in plan.outputs.items():
        path = published.get(key) or (explicit or {}).get("path")
        outputs[key] = {"type": plan.output_types.get(key, "uri_folder"), "path": path}
    return inputs, outputs
