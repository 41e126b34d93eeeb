"""From a pipeline's YAML to a checked plan: components resolved, bindings and types checked, no cycles.

Everything a user can get wrong in a pipeline is found here, before anything runs, and named by
file, step and field: a binding to a step or output that does not exist, a cycle, a type mismatch
between a step's output and the input it feeds, a missing required input, an unknown input.
"""

from __future__ import annotations

import graphlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.command_jobs.inputs import literal_type
from batchpoint.common import expressions, names
from batchpoint.errors import InvalidInput
from batchpoint.pipelines import nesting
from batchpoint.pipelines.plan import (
    LITERAL_TYPES,
    PATH_TYPES,
    Binding,
    StepInput,
    StepOutput,
    StepPlan,
)
from batchpoint.pipelines.specs import PipelineSettings

if TYPE_CHECKING:
    from batchpoint.components.schemas import Component
    from batchpoint.services import Services

_FOLDERISH = frozenset({"uri_folder", "mltable", "mlflow_model", "custom_model"})
_STEP_TYPES = {"command": "command", "parallel": "task"}
"""Step types → the key an inline step of that type must have."""
_INLINE_KEYS = {
    "command": ("code", "environment", "environment_variables", "display_name", "description"),
    "parallel": (
        "task", "input_data", "mini_batch_size", "resources", "max_concurrency_per_instance", "error_threshold",
        "mini_batch_error_threshold", "retry_settings", "logging_level", "environment_variables",
        "is_deterministic", "partition_keys", "display_name", "description",
    ),
}  # fmt: skip


def compatible(source: str, target: str) -> bool:
    """Whether a value of type ``source`` may feed an input declared ``target``."""
    if source == target:
        return True
    if source in LITERAL_TYPES and target in LITERAL_TYPES:
        return target == "string" or (target == "number" and source == "integer")
    return source in _FOLDERISH and target in _FOLDERISH


def value_type(value: Any) -> str:
    """The type of an input value as written: ``{type: ..., path: ...}`` or a literal."""
    if isinstance(value, dict):
        return str(value.get("type") or ("uri_folder" if "path" in value else "string"))
    return literal_type(value)


def literal_of(value: Any) -> Any:
    """``{type: string, default: append}`` (how Azure's inputs.yml writes literals) → ``append``."""
    if isinstance(value, dict) and "path" not in value and value.get("type") in LITERAL_TYPES:
        return value.get("value", value.get("default"))
    return value


class PlanBuilder:
    """Builds the ``PipelinePlan`` of one pipeline job (from a job YAML or a pipeline component)."""

    def __init__(self, ctx: Services, *, base_dir: Path | None, file: str | None) -> None:
        self.ctx = ctx
        self.base_dir = base_dir
        self.file = file

    def error(self, message: str, field: str) -> InvalidInput:
        return InvalidInput(message, field=field, file=self.file)

    # -- the pipeline's own inputs and outputs ------------------------------------------------------
    def pipeline_inputs(
        self, values: dict[str, Any], ports: dict[str, Any] | None
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, str]]:
        """Resolved inputs and their types; ``ports`` (a pipeline component's declarations) checks them."""
        from batchpoint.command_jobs.service import CommandJobService

        values = {k: literal_of(v) for k, v in values.items()}
        types: dict[str, str] = {}
        raw: dict[str, Any] = {}
        unset: list[str] = []
        if ports is None:
            for key, value in values.items():
                if value is None:
                    raise self.error(f"pipeline input '{key}' has no value", f"inputs.{key}")
                types[key], raw[key] = value_type(value), value
        else:
            for key in values:
                if key not in ports:
                    known = ", ".join(sorted(ports)) or "none"
                    raise self.error(f"the pipeline has no input '{key}' (its inputs: {known})", f"inputs.{key}")
            for key, port in ports.items():
                value = values.get(key, port.default)
                types[key] = port.type
                if value is None:
                    if not port.optional:
                        raise self.error(f"the pipeline's required input '{key}' is not given", f"inputs.{key}")
                    unset.append(key)
                    continue
                if not isinstance(value, dict) and port.type in PATH_TYPES:
                    # A path only ever arrives as {type, path} (checked as a path by the server, too).
                    raise self.error(
                        f"the pipeline's input '{key}' is a {port.type}: give it as {{type: {port.type}, path: PATH}} "
                        f"(or --set inputs.{key}.path=PATH)",
                        f"inputs.{key}",
                    )
                raw[key] = value
        declared = {k: p for k, p in (ports or {}).items() if k in raw} if ports is not None else None
        resolved = CommandJobService(self.ctx).resolve_inputs(
            raw, base_dir=self.base_dir, file=self.file, declared=declared
        )
        result: dict[str, dict[str, Any] | None] = {k: v.model_dump(mode="json") for k, v in resolved.items()}
        result.update(dict.fromkeys(unset))
        return result, types

    def pipeline_outputs(
        self, values: dict[str, Any], ports: dict[str, Any] | None
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, str]]:
        outputs: dict[str, dict[str, Any] | None] = {}
        types: dict[str, str] = {}
        names_ = set(values) | set(ports or {})
        if ports is not None:
            for key in values:
                if key not in ports:
                    known = ", ".join(sorted(ports)) or "none"
                    raise self.error(f"the pipeline has no output '{key}' (its outputs: {known})", f"outputs.{key}")
        for key in sorted(names_):
            value = values.get(key) or {}
            port = (ports or {}).get(key)
            if not isinstance(value, dict):
                raise self.error("an output is a mapping ({type, path, mode}) or empty", f"outputs.{key}")
            types[key] = str(value.get("type") or (port.type if port is not None else "uri_folder"))
            path = value.get("path")
            if path:
                local = self._local_path(str(path), f"outputs.{key}.path")
                outputs[key] = {"type": types[key], "path": str(local), "mode": value.get("mode")}
            else:
                outputs[key] = None
        return outputs, types

    def _local_path(self, path: str, field: str) -> Path:
        from batchpoint.common.paths import resolve_relative

        if "://" in path or path.startswith("azureml:"):
            raise self.error(f"output path '{path}': only local folders are supported for pipeline outputs", field)
        return resolve_relative(path.removeprefix("file:"), self.base_dir, field, file=self.file)

    # -- steps --------------------------------------------------------------------------------------
    def steps(
        self,
        jobs: dict[str, dict[str, Any]],
        *,
        input_types: dict[str, str],
        output_types: dict[str, str],
        settings: PipelineSettings,
        default_compute: str | None,
    ) -> tuple[dict[str, StepPlan], list[str]]:
        if not jobs:
            raise self.error("a pipeline needs at least one step under 'jobs:'", "jobs")
        for step in jobs:
            try:
                names.job_name(step, f"jobs.{step}")
            except InvalidInput as exc:
                exc.file = self.file
                raise
        self._check_shapes(jobs)
        jobs = nesting.flatten(jobs, self._resolve_component, file=self.file)
        components = self._referenced_components(jobs)
        step_outputs = {s: self._declared_outputs(s, d, components.get(s)) for s, d in jobs.items()}
        for step, data in jobs.items():
            if step not in components:
                components[step] = self._inline_component(step, data, input_types, step_outputs)
        plans: dict[str, StepPlan] = {}
        for step, data in jobs.items():
            plans[step] = self._step(
                step, data, components[step], input_types, output_types, step_outputs, settings, default_compute
            )
        return plans, self._order(plans)

    def _check_shapes(self, jobs: dict[str, Any]) -> None:
        for step, data in jobs.items():
            if not isinstance(data, dict):
                raise self.error("a step is a mapping (type, component, inputs, outputs, ...)", f"jobs.{step}")
            for key in ("inputs", "outputs", "task"):
                if data.get(key) is not None and not isinstance(data[key], dict):
                    raise self.error(f"a step's '{key}' is a mapping", f"jobs.{step}.{key}")

    def _resolve_component(self, ref: Any, field: str) -> Component:
        return self.ctx.components.resolve(ref, base_dir=self.base_dir, field=field, file=self.file)

    def _referenced_components(self, jobs: dict[str, dict[str, Any]]) -> dict[str, Component]:
        found: dict[str, Component] = {}
        for step, data in jobs.items():
            kind = data.get("type")
            if kind not in (None, *_STEP_TYPES):
                raise self.error(
                    f"step type '{kind}' is not supported; steps are 'command' or 'parallel' steps "
                    "(a component: reference or an inline definition)",
                    f"jobs.{step}.type",
                )
            ref = data.get("component")
            if ref is None:
                needed = _STEP_TYPES[kind or "command"]
                if not data.get(needed):
                    raise self.error(
                        f"a {kind or 'command'} step needs a 'component:' or a '{needed}:'", f"jobs.{step}"
                    )
                continue
            component = self.ctx.components.resolve(
                ref, base_dir=self.base_dir, field=f"jobs.{step}.component", file=self.file
            )
            if component.type not in _STEP_TYPES:
                raise self.error(
                    f"component '{component.name}' is a {component.type} component; steps run command, parallel "
                    "or pipeline components",
                    f"jobs.{step}.component",
                )
            if kind is not None and kind != component.type:
                raise self.error(
                    f"the step is of type '{kind}' but component '{component.name}' is a {component.type} component",
                    f"jobs.{step}.type",
                )
            found[step] = component
        return found

    def _declared_outputs(self, step: str, data: dict[str, Any], component: Component | None) -> dict[str, str]:
        if component is not None:
            return {k: p.type for k, p in component.outputs.items()}
        outputs = data.get("outputs") or {}
        return {
            k: str(v.get("type") or "uri_folder") if isinstance(v, dict) else "uri_folder" for k, v in outputs.items()
        }

    def _inline_component(
        self,
        step: str,
        data: dict[str, Any],
        input_types: dict[str, str],
        step_outputs: dict[str, dict[str, str]],
    ) -> Component:
        """An inline step (``command:``, ``code:``, ...; ``task:``, ``input_data:``, ...) as an anonymous component."""
        ports: dict[str, Any] = {}
        for key, value in (data.get("inputs") or {}).items():
            ref = self._binding(value, f"jobs.{step}.inputs.{key}")
            if ref is None:
                ports[key] = {"type": value_type(literal_of(value))}
            elif ref.kind == "parent_input":
                ports[key] = {"type": input_types.get(ref.name, "string")}
            else:
                ports[key] = {"type": step_outputs.get(ref.step or "", {}).get(ref.name, "uri_folder")}
        kind = data.get("type") or "command"
        definition: dict[str, Any] = {
            "type": kind,
            "name": f"{step}",
            "inputs": ports,
            "outputs": {k: {"type": t} for k, t in step_outputs[step].items()},
        }
        if kind == "command":
            definition["command"] = data.get("command")
        for key in _INLINE_KEYS[kind]:
            if data.get(key) is not None:
                definition[key] = data[key]
        return self.ctx.components.resolve(definition, base_dir=self.base_dir, field=f"jobs.{step}", file=self.file)

    def _binding(self, value: Any, field: str) -> Binding | None:
        raw = value.get("path") if isinstance(value, dict) else value
        ref = expressions.binding(raw, field=field, file=self.file)
        if ref is None:
            if isinstance(raw, str) and "${{" in raw:
                raise self.error(f"'{raw}': a binding must be the whole value", field)
            return None
        path = ref.path
        if len(path) == 3 and path[0] == "parent" and path[1] == "inputs":
            return Binding(kind="parent_input", name=path[2])
        if len(path) == 3 and path[0] == "parent" and path[1] == "outputs":
            return Binding(kind="parent_output", name=path[2])
        if len(path) == 5 and path[:2] == ("parent", "jobs") and path[3] == "outputs":
            return Binding(kind="step_output", step=path[2], name=path[4])
        raise self.error(
            f"{ref.text} is not a binding a step can use; use ${{{{parent.inputs.<name>}}}}, "
            "${{parent.outputs.<name>}} or ${{parent.jobs.<step>.outputs.<name>}}",
            field,
        )

    def _step(
        self,
        step: str,
        data: dict[str, Any],
        component: Component,
        input_types: dict[str, str],
        output_types: dict[str, str],
        step_outputs: dict[str, dict[str, str]],
        settings: PipelineSettings,
        default_compute: str | None,
    ) -> StepPlan:
        owner = f"step '{step}' (component '{component.name}')"
        given = data.get("inputs") or {}
        inputs: dict[str, StepInput] = {}
        literal_raw: dict[str, Any] = {}
        depends: set[str] = set()
        for key, value in given.items():
            field = f"jobs.{step}.inputs.{key}"
            port = component.inputs.get(key)
            if port is None:
                known = ", ".join(sorted(component.inputs)) or "none"
                raise self.error(f"{owner} has no input '{key}' (its inputs: {known})", field)
            ref = self._binding(value, field)
            if ref is None:
                value = literal_of(value)
                if value is None:
                    inputs[key] = StepInput(type=port.type, optional=port.optional)
                    continue
                if not isinstance(value, dict) and port.type in PATH_TYPES:
                    # A path only ever arrives as {type, path}: the server checks those as server paths.
                    raise self.error(f"{owner}: input '{key}' is a {port.type}: give it as {{type, path}}", field)
                self._check_type(value_type(value), port.type, owner, key, field)
                literal_raw[key] = value
                continue
            source = self._source_type(ref, step, field, input_types, step_outputs)
            self._check_type(source, port.type, owner, key, field)
            if ref.kind == "step_output":
                depends.add(ref.step or "")
            inputs[key] = StepInput(type=port.type, optional=port.optional, binding=ref)
        if literal_raw:
            inputs.update(self._resolved(literal_raw, component, step))
        for key, port in component.inputs.items():
            if key in inputs:
                continue
            if port.default is not None and port.type not in PATH_TYPES:
                inputs.update(self._resolved({key: port.default}, component, step))
            elif not port.optional:
                raise self.error(f"{owner}: required input '{key}' is not given", f"jobs.{step}.inputs")
            else:
                inputs[key] = StepInput(type=port.type, optional=True)
        return StepPlan(
            name=step,
            type="parallel" if component.type == "parallel" else "command",
            parallel=self._parallel_settings(step, data, component),
            component=component.id,
            component_hash=component.content_hash,
            deterministic=component.is_deterministic,
            inputs=inputs,
            outputs=self._step_outputs(step, data, component, owner, output_types),
            compute=data.get("compute") or settings.default_compute or default_compute,
            environment_variables={str(k): str(v) for k, v in (data.get("environment_variables") or {}).items()},
            depends_on=sorted(depends),
            force_rerun=bool(data.get("force_rerun", False)),
        )

    def _parallel_settings(self, step: str, data: dict[str, Any], component: Component) -> dict[str, Any] | None:
        """A parallel step's run settings: its component's, with what the step sets laid over them."""
        if component.type != "parallel":
            return None
        from batchpoint.components.parallel import with_overrides

        return with_overrides(component.parallel or {}, data, field=f"jobs.{step}", file=self.file).model_dump()

    def _resolved(self, raw: dict[str, Any], component: Component, step: str) -> dict[str, StepInput]:
        from batchpoint.command_jobs.service import CommandJobService

        declared = {k: component.inputs[k] for k in raw}
        resolved = CommandJobService(self.ctx).resolve_inputs(
            raw, base_dir=self.base_dir, file=self.file, declared=declared
        )
        return {
            k: StepInput(type=declared[k].type, optional=declared[k].optional, resolved=v.model_dump(mode="json"))
            for k, v in resolved.items()
        }

    def _source_type(
        self, ref: Binding, step: str, field: str, input_types: dict[str, str], step_outputs: dict[str, dict[str, str]]
    ) -> str:
        if ref.kind == "parent_input":
            if ref.name not in input_types:
                known = ", ".join(sorted(input_types)) or "none"
                raise self.error(
                    f"${{{{parent.inputs.{ref.name}}}}}: the pipeline has no such input (its inputs: {known})", field
                )
            return input_types[ref.name]
        if ref.kind == "parent_output":
            raise self.error("an input cannot be bound to the pipeline's outputs", field)
        upstream = ref.step or ""
        if upstream == step:
            raise self.error(f"step '{step}' cannot consume its own output '{ref.name}'", field)
        if upstream not in step_outputs:
            known = ", ".join(sorted(step_outputs))
            raise self.error(
                f"${{{{parent.jobs.{upstream}.outputs.{ref.name}}}}}: no step '{upstream}' (steps: {known})", field
            )
        outputs = step_outputs[upstream]
        if ref.name not in outputs:
            known = ", ".join(sorted(outputs)) or "none"
            raise self.error(
                f"${{{{parent.jobs.{upstream}.outputs.{ref.name}}}}}: step '{upstream}' has no output '{ref.name}' "
                f"(its outputs: {known})",
                field,
            )
        return outputs[ref.name]

    def _check_type(self, source: str, target: str, owner: str, key: str, field: str) -> None:
        if not compatible(source, target):
            raise self.error(f"{owner}: input '{key}' is declared {target} but is given a {source}", field)

    def _step_outputs(
        self, step: str, data: dict[str, Any], component: Component, owner: str, output_types: dict[str, str]
    ) -> dict[str, StepOutput]:
        given = data.get("outputs") or {}
        outputs: dict[str, StepOutput] = {}
        for key in given:
            if key not in component.outputs:
                known = ", ".join(sorted(component.outputs)) or "none"
                raise self.error(f"{owner} has no output '{key}' (its outputs: {known})", f"jobs.{step}.outputs.{key}")
        for key, port in component.outputs.items():
            field = f"jobs.{step}.outputs.{key}"
            value = given.get(key)
            out = StepOutput(type=port.type, mode=getattr(port, "mode", None))
            if isinstance(value, dict):
                out.mode = value.get("mode") or out.mode
            ref = self._binding(value, field) if value is not None else None
            if ref is not None:
                if ref.kind != "parent_output":
                    raise self.error("an output can only be bound to ${{parent.outputs.<name>}}", field)
                if ref.name not in output_types:
                    known = ", ".join(sorted(output_types)) or "none"
                    raise self.error(f"the pipeline has no output '{ref.name}' (its outputs: {known})", field)
                if not compatible(port.type, output_types[ref.name]):
                    raise self.error(
                        f"{owner}: output '{key}' is a {port.type}, the pipeline's output '{ref.name}' a "
                        f"{output_types[ref.name]}",
                        field,
                    )
                out.parent_output = ref.name
            elif isinstance(value, dict) and value.get("path"):
                out.path = str(self._local_path(str(value["path"]), f"{field}.path"))
            outputs[key] = out
        return outputs

    def _order(self, plans: dict[str, StepPlan]) -> list[str]:
        sorter = graphlib.TopologicalSorter({s: p.depends_on for s, p in plans.items()})
        try:
            return list(sorter.static_order())
        except graphlib.CycleError as exc:
            cycle = " → ".join(exc.args[1])
            raise self.error(f"the steps depend on each other in a cycle: {cycle}", "jobs") from None


def check_outputs_bound(plans: dict[str, StepPlan], outputs: dict[str, Any], *, file: str | None) -> None:
    """Every pipeline output is produced by exactly one step."""
    bound: dict[str, str] = {}
    for plan in plans.values():
        for out in plan.outputs.values():
            if out.parent_output:
                if out.parent_output in bound:
                    raise InvalidInput(
                        f"the pipeline's output '{out.parent_output}' is bound by two steps: "
                        f"'{bound[out.parent_output]}' and '{plan.name}'",
                        field=f"jobs.{plan.name}.outputs",
                        file=file,
                    )
                bound[out.parent_output] = plan.name
    for key in outputs:
        if key not in bound:
            raise InvalidInput(
                f"the pipeline's output '{key}' is bound by no step (bind one with ${{{{parent.outputs.{key}}}}})",
                field=f"outputs.{key}",
                file=file,
            )
