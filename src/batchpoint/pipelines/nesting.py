"""Pipeline components used as steps: expanded in place into their own steps, before the plan is built.

A step ``train`` whose component is a pipeline component with steps ``prep`` and ``fit`` becomes the
steps ``train-prep`` and ``train-fit`` of the outer pipeline (recursively, for deeper nesting). Inside,
``${{parent.inputs.x}}`` becomes what the outer step gives its input ``x`` (a binding of the outer
pipeline, a value, or the component's default), ``${{parent.jobs.fit...}}`` names the expanded step,
and ``${{parent.outputs.y}}`` becomes what the outer step does with its output ``y``. Other outer
steps that read ``${{parent.jobs.train.outputs.y}}`` are pointed at the inner step that produces
``y``. So the driver only ever runs command and parallel steps, with the usual checks, reuse and resume.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from batchpoint.common import expressions
from batchpoint.errors import InvalidInput

if TYPE_CHECKING:
    from batchpoint.components.schemas import Component

MAX_DEPTH = 8
Resolve = Callable[[Any, str], "Component"]
"""``(component reference, field) → the stored component``."""


def flatten(jobs: dict[str, dict[str, Any]], resolve: Resolve, *, file: str | None, depth: int = 0) -> dict[str, Any]:
    """``jobs`` with every step that runs a pipeline component replaced by that component's steps."""
    nested = _pipeline_steps(jobs, resolve)
    if not nested:
        return jobs
    if depth >= MAX_DEPTH:
        raise InvalidInput(f"pipeline components nest deeper than {MAX_DEPTH} levels", field="jobs", file=file)
    flat: dict[str, dict[str, Any]] = {}
    produced: dict[tuple[str, str], tuple[str, str]] = {}
    """(outer step, its output) → (inner step, the inner output that is it)."""
    for step, body in jobs.items():
        if step not in nested:
            flat[step] = body
            continue
        inner, outputs = _expand(step, body, nested[step], resolve, file=file, depth=depth)
        for name in inner:
            if name in jobs or name in flat:
                raise InvalidInput(f"step '{name}' clashes with a step of the pipeline component that step "
                                   f"'{step}' runs; rename one", field=f"jobs.{step}", file=file)  # fmt: skip
        flat.update(inner)
        produced.update(outputs)
    return {s: _redirect(body, produced, nested) for s, body in flat.items()}


def _pipeline_steps(jobs: dict[str, dict[str, Any]], resolve: Resolve) -> dict[str, Component]:
    found = {}
    for step, body in jobs.items():
        if isinstance(body, dict) and body.get("component") is not None and body.get("type") in (None, "pipeline"):
            component = resolve(body["component"], f"jobs.{step}.component")
            if component.type == "pipeline":
                found[step] = component
    return found


def _expand(
    step: str, body: dict[str, Any], component: Component, resolve: Resolve, *, file: str | None, depth: int
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], tuple[str, str]]]:
    given_inputs = body.get("inputs") or {}
    given_outputs = body.get("outputs") or {}
    owner = f"step '{step}' (pipeline component '{component.name}')"
    for key in given_inputs:
        if key not in component.inputs:
            known = ", ".join(sorted(component.inputs)) or "none"
            raise InvalidInput(f"{owner} has no input '{key}' (its inputs: {known})",
                               field=f"jobs.{step}.inputs.{key}", file=file)  # fmt: skip
    values = {k: given_inputs.get(k, port.default) for k, port in component.inputs.items()}
    inner_jobs = flatten(dict(component.jobs or {}), resolve, file=file, depth=depth + 1)
    renamed = {s: f"{step}-{s}" for s in inner_jobs}
    expanded: dict[str, dict[str, Any]] = {}
    produced: dict[tuple[str, str], tuple[str, str]] = {}
    for sub, sub_body in inner_jobs.items():
        new = dict(sub_body)
        new["inputs"] = {k: _inner_input(v, values, renamed) for k, v in (sub_body.get("inputs") or {}).items()}
        outputs = {}
        for key, value in (sub_body.get("outputs") or {}).items():
            ref = expressions.binding(value.get("path") if isinstance(value, dict) else value)
            if ref is not None and len(ref.path) == 3 and ref.path[:2] == ("parent", "outputs"):
                produced[(step, ref.path[2])] = (renamed[sub], key)
                outputs[key] = given_outputs.get(ref.path[2])
            else:
                outputs[key] = value
        new["outputs"] = outputs
        for key in ("compute", "force_rerun"):
            if body.get(key) is not None and new.get(key) is None:
                new[key] = body[key]
        expanded[renamed[sub]] = new
    return expanded, produced


def _inner_input(value: Any, values: dict[str, Any], renamed: dict[str, str]) -> Any:
    raw = value.get("path") if isinstance(value, dict) else value
    ref = expressions.binding(raw)
    if ref is None:
        return value
    path = ref.path
    if len(path) == 3 and path[:2] == ("parent", "inputs"):
        return values.get(path[2])  # the outer step's binding or value; None: an unset optional input
    if len(path) == 5 and path[:2] == ("parent", "jobs") and path[2] in renamed:
        return f"${{{{parent.jobs.{renamed[path[2]]}.outputs.{path[4]}}}}}"
    return value


def _redirect(
    body: dict[str, Any], produced: dict[tuple[str, str], tuple[str, str]], nested: dict[str, Component]
) -> dict[str, Any]:
    """An outer step's inputs that read a nested step's outputs, pointed at the inner step producing them."""
    inputs = {}
    for key, value in (body.get("inputs") or {}).items():
        raw = value.get("path") if isinstance(value, dict) else value
        ref = expressions.binding(raw)
        if ref is not None and len(ref.path) == 5 and ref.path[:2] == ("parent", "jobs") and ref.path[2] in nested:
            target = produced.get((ref.path[2], ref.path[4]))
            if target is not None:
                value = f"${{{{parent.jobs.{target[0]}.outputs.{target[1]}}}}}"
        inputs[key] = value
    return {**body, "inputs": inputs} if body.get("inputs") else body
