"""Pydantic specs for component YAML files (``commandComponent``, ``parallelComponent``, ``pipelineComponent``).

As the registry's specs, they forbid unknown fields, so a misspelt key is an error naming it. The
ports (``InputPort``, ``OutputPort``) are both the YAML shape and what a stored ``Component`` shows.
Azure fields that mean nothing on one machine (``resources``, ``distribution``) are accepted and kept.

``parse_component`` picks the spec by ``type``; ``walk`` visits a spec and, for a pipeline
component, every step component given inline or as a local file, so that the remote SDK can send
a pipeline component as one request (local files inlined, code uploaded) and the server can check
every path in it.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from batchpoint.common import names, refs, validation, yamlio
from batchpoint.common.paths import resolve_relative
from batchpoint.common.specpaths import Inline, SpecPath
from batchpoint.errors import InvalidInput
from batchpoint.registry.specs import EnvironmentSpec, _scalar_text, _Spec, _version

InputType = Literal[
    "uri_file", "uri_folder", "mlflow_model", "custom_model", "mltable", "string", "number", "integer", "boolean"
]
OutputType = Literal["uri_folder", "uri_file", "mlflow_model", "custom_model", "mltable"]
PATH_TYPES = ("uri_file", "uri_folder", "mlflow_model", "custom_model", "mltable")
PORT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
STEP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
_PORT = ConfigDict(extra="forbid", populate_by_name=True)


class ComponentWarning(UserWarning):
    """A component field batchpoint accepts but does not act on (the CLI prints it as a warning)."""


class InputPort(BaseModel):
    """One declared input: a path type (a file, folder, model or table) or a literal type."""

    model_config = _PORT

    type: InputType
    optional: bool = False
    default: Any = None
    description: str | None = None
    enum: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    mode: Literal["ro_mount", "download", "direct", "rw_mount", "eval_mount", "eval_download"] | None = None
    """Accepted for Azure files; inputs are always local paths here."""

    @model_validator(mode="after")
    def _consistent(self) -> InputPort:
        # ValueError (not InvalidInput): pydantic then names the port (``inputs.lr``) in the error.
        if self.default is not None:
            self.default = _literal(self.type, self.default, "default")
        if self.enum is not None:
            if self.type != "string":
                raise ValueError("enum applies only to inputs of type string")
            self.enum = [_literal("string", v, "enum") for v in self.enum]
            if self.default is not None and self.default not in self.enum:
                raise ValueError(f"default '{self.default}' is not one of enum {self.enum}")
        if (self.min is not None or self.max is not None) and self.type not in ("number", "integer"):
            raise ValueError("min and max apply only to inputs of type number or integer")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if isinstance(self.default, int | float) and not isinstance(self.default, bool):
            if self.min is not None and self.default < self.min:
                raise ValueError(f"default {self.default} is below min {self.min}")
            if self.max is not None and self.default > self.max:
                raise ValueError(f"default {self.default} is above max {self.max}")
        return self


def _literal(kind: str, value: Any, what: str) -> Any:
    """A default (or enum value) as its input type wants it; YAML writes ``0.1``, ``10``, ``true``."""
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"{what}: expected true or false, got {value!r}")
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
            return int(value)
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    if kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return float(value)
        raise ValueError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"{what}: expected a text value, got {type(value).__name__}")


class OutputPort(BaseModel):
    """One declared output: where the step writes (a folder by default)."""

    model_config = _PORT

    type: OutputType = "uri_folder"
    mode: Literal["upload", "rw_mount", "direct"] | None = None
    """Accepted for Azure files; outputs are always local folders (or files) here."""
    description: str | None = None


def _ports(value: Any, field: str) -> Any:
    if value is None:
        return {}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or not PORT_NAME.match(key):
                raise InvalidInput(
                    f"'{key}' is not a valid {field[:-1]} name: use letters, digits and '_', not starting with a digit",
                    field=f"{field}.{key}",
                )
    return value


class _ComponentSpec(_Spec):
    """What both kinds share: identity, description and the ports."""

    name: str | None = None
    """Required to register; a component given inline in a pipeline may leave it out (anonymous)."""
    version: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, InputPort] = Field(default_factory=dict)
    outputs: dict[str, OutputPort] = Field(default_factory=dict)

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: Any) -> Any:
        return None if value is None else names.asset_name(value)

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: Any) -> Any:
        return _version(value)

    @field_validator("inputs", mode="before")
    @classmethod
    def _check_inputs(cls, value: Any) -> Any:
        return _ports(value, "inputs")

    @field_validator("outputs", mode="before")
    @classmethod
    def _check_outputs(cls, value: Any) -> Any:
        return _ports(value, "outputs")

    @model_validator(mode="after")
    def _distinct_ports(self) -> _ComponentSpec:
        both = sorted(set(self.inputs) & set(self.outputs))
        if both:
            raise InvalidInput(f"'{both[0]}' is both an input and an output", field=f"outputs.{both[0]}")
        return self


class CommandComponentSpec(_ComponentSpec):
    """``commandComponent.schema.json``: a command line run in an environment, with code and ports."""

    type: Literal["command"] = "command"
    code: Annotated[str | None, SpecPath(kind="folder", local=True, snapshots=True)] = None
    """The folder the command runs in, relative to the YAML file (snapshotted when registered)."""
    command: str
    environment: Annotated[str | dict[str, Any] | None, Inline(EnvironmentSpec)] = None
    """A reference (``azureml:NAME:VERSION``, ``azureml:NAME@latest``) or an inline environment; none: batchpoint's."""
    environment_variables: dict[str, str] = Field(default_factory=dict)
    is_deterministic: bool = True
    """Whether a pipeline may reuse an earlier run of this step with the same inputs."""
    resources: dict[str, Any] | None = None
    distribution: dict[str, Any] | None = None
    additional_includes: list[str] | None = None

    @field_validator("command")
    @classmethod
    def _check_command(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the command is empty")
        return value

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _check_variables(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, dict):
            return {str(k): _scalar_text(v, f"environment_variables.{k}") for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _warn_includes(self) -> CommandComponentSpec:
        if self.additional_includes:
            warnings.warn(
                "additional_includes is not supported: those files are not added to the code snapshot; "
                "copy them into the code folder",
                ComponentWarning,
                stacklevel=2,
            )
        return self


class PipelineComponentSpec(_ComponentSpec):
    """``pipelineComponent.schema.json``: steps (each naming a component) wired by bindings."""

    type: Literal["pipeline"]
    jobs: dict[str, dict[str, Any]]
    settings: dict[str, Any] | None = None

    @field_validator("jobs", mode="before")
    @classmethod
    def _check_jobs(cls, value: Any) -> Any:
        if isinstance(value, dict):
            if not value:
                raise InvalidInput("a pipeline component needs at least one step under jobs", field="jobs")
            for key in value:
                if not isinstance(key, str) or not STEP_NAME.match(key):
                    raise InvalidInput(
                        f"'{key}' is not a valid step name: up to 64 letters, digits, '_' or '-', "
                        "not starting with '-'",
                        field=f"jobs.{key}",
                    )
        return value


class ParallelTask(BaseModel):
    """``task:`` of a parallel component: the entry script's ``init()``/``run(mini_batch)`` and how it runs."""

    model_config = _PORT

    type: Literal["run_function"] = "run_function"
    code: Annotated[str | None, SpecPath(kind="folder", local=True, snapshots=True)] = None
    entry_script: Annotated[str, SpecPath(kind="file", upload="none", inside="code")]
    program_arguments: str | None = None
    """Arguments the entry script reads (``argparse`` in ``init()``), ``${{inputs.x}}`` and all."""
    environment: Annotated[str | dict[str, Any] | None, Inline(EnvironmentSpec)] = None
    append_row_to: str | None = None
    """``${{outputs.<name>}}``: every ``run()`` result appended, in input order, to that output."""

    @field_validator("entry_script")
    @classmethod
    def _check_script(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the entry script is empty")
        return value


class ParallelComponentSpec(_ComponentSpec):
    """``parallelComponent.schema.json``: an entry script run over an input cut into mini-batches.

    It runs on the batch engine, with all its guarantees (each mini-batch once, retries, error
    thresholds, resume). ``mini_batch_size`` is a file count, or a size (``"10kb"``, ``"1mb"``):
    then files are grouped until the group reaches that many bytes.
    """

    type: Literal["parallel"]
    task: ParallelTask
    input_data: str
    """``${{inputs.<name>}}``: the input cut into mini-batches."""
    mini_batch_size: int | str = 10
    resources: dict[str, Any] | None = None
    max_concurrency_per_instance: int = Field(1, ge=1, le=1024)
    error_threshold: int = Field(-1, ge=-1)
    mini_batch_error_threshold: int = Field(-1, ge=-1)
    retry_settings: dict[str, Any] | None = None
    logging_level: str = "INFO"
    environment_variables: dict[str, str] = Field(default_factory=dict)
    is_deterministic: bool = True
    partition_keys: list[str] | None = None

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _check_variables(cls, value: Any) -> Any:
        return CommandComponentSpec._check_variables(value)

    @field_validator("mini_batch_size")
    @classmethod
    def _check_size(cls, value: int | str) -> int | str:
        from batchpoint.components.minibatch import parse_size

        parse_size(value)  # a ValueError names the field
        return value

    @model_validator(mode="after")
    def _refuse_partitions(self) -> ParallelComponentSpec:
        if self.partition_keys:
            raise ValueError("partition_keys (the many-models pattern) is not supported yet")
        return self


ComponentSpec = CommandComponentSpec | PipelineComponentSpec | ParallelComponentSpec
KINDS: dict[str, type[CommandComponentSpec] | type[PipelineComponentSpec] | type[ParallelComponentSpec]] = {
    "command": CommandComponentSpec,
    "pipeline": PipelineComponentSpec,
    "parallel": ParallelComponentSpec,
}


def parse_component(data: Any, *, file: str | None = None, prefix: str = "") -> ComponentSpec:
    """A component YAML mapping as its spec, chosen by ``type`` (``command`` when a command is given)."""
    dotted = f"{prefix}." if prefix else ""
    if not isinstance(data, dict):
        raise InvalidInput("expected a component mapping", field=prefix or None, file=file)
    kind = data.get("type")
    if kind is None:
        kind = "command" if "command" in data else "pipeline" if "jobs" in data else None
        kind = kind or ("parallel" if "task" in data else None)
        if kind is None:
            raise InvalidInput(
                "a component needs a type (command, parallel or pipeline)", field=f"{dotted}type", file=file
            )
        data = {**data, "type": kind}
    spec_type = KINDS.get(kind) if isinstance(kind, str) else None
    if spec_type is None:
        raise InvalidInput(
            f"component type '{kind}' is not supported; batchpoint runs command, parallel and pipeline components",
            field=f"{dotted}type",
            file=file,
        )
    try:
        return validation.parse(spec_type, data, file=file, prefix=prefix)
    except InvalidInput as exc:  # raised by a validator with its own field: put it under the prefix
        if prefix and exc.field and not exc.field.startswith(dotted):
            exc.field = f"{dotted}{exc.field}"
        raise


def dump(spec: ComponentSpec) -> dict[str, Any]:
    """A spec back to its mapping (what the remote SDK sends, an inline step's ``component:``)."""
    return spec.model_dump(mode="json", exclude_none=True)


# -- step components: inline, local files, references --------------------------------------------------
def is_local_file(value: str) -> bool:
    """Whether a ``component:`` string names a YAML file (not a registry reference or a stored snapshot)."""
    if value.startswith("file:"):
        return True
    if refs.is_reference(value) or value.startswith(("snapshot:", "azureml://")):
        return False
    return value.endswith((".yml", ".yaml")) or "/" in value or "\\" in value


def local_path(value: str, base_dir: Path | None, field: str, file: str | None) -> Path:
    """The YAML file a ``component:`` string names (``file:`` prefix allowed), which must exist."""
    path = resolve_relative(value.removeprefix("file:"), base_dir, field, file=file)
    if not path.is_file():
        raise InvalidInput(
            f"component file '{path}' does not exist; use a local YAML path or 'azureml:NAME:VERSION' / "
            "'azureml:NAME@latest'",
            field=field,
            file=file,
        )
    return path


def load_local(
    value: str, base_dir: Path | None, field: str, file: str | None, stack: tuple[Path, ...]
) -> tuple[ComponentSpec, Path]:
    """Read and parse the component file a step names; a file that includes itself (a cycle) is refused."""
    path = local_path(value, base_dir, field, file)
    if path in stack:
        chain = " -> ".join(p.name for p in (*stack, path))
        raise InvalidInput(f"component files include each other: {chain}", field=field, file=file)
    return parse_component(yamlio.load_file(path), file=str(path)), path


Visit = Callable[[ComponentSpec, Path | None, str | None], ComponentSpec]


def walk(
    spec: ComponentSpec,
    visit: Visit,
    *,
    base_dir: Path | None,
    file: str | None,
    local_files: Literal["inline", "refuse"],
    prefix: str = "",
    stack: tuple[Path, ...] = (),
) -> ComponentSpec:
    """``visit`` applied to ``spec`` and to every step component given inline or as a local file.

    ``local_files="inline"`` (the remote SDK) reads a step's component file and puts its content in
    place, visited in its own folder; ``"refuse"`` (the server) refuses component files, which name
    files of the server. References and snapshots are left as they are.
    """
    spec = visit(spec, base_dir, file)
    if not isinstance(spec, PipelineComponentSpec):
        return spec
    jobs: dict[str, dict[str, Any]] = {}
    for step, body in spec.jobs.items():
        field = f"{prefix}jobs.{step}.component"
        ref = body.get("component")
        if isinstance(ref, dict):
            inner = parse_component(ref, file=file, prefix=field)
            inner = walk(inner, visit, base_dir=base_dir, file=file, local_files=local_files,
                         prefix=f"{field}.", stack=stack)  # fmt: skip
            body = {**body, "component": dump(inner)}
        elif isinstance(ref, str) and is_local_file(ref):
            if local_files == "refuse":
                raise InvalidInput(
                    f"'{ref}' names a component file of the server; send the component inline "
                    "(the SDK and the CLI read local component files for you)",
                    field=field,
                    file=file,
                )
            inner, path = load_local(ref, base_dir, field, file, stack)
            inner = walk(inner, visit, base_dir=path.parent, file=str(path), local_files=local_files,
                         stack=(*stack, path))  # fmt: skip
            body = {**body, "component": dump(inner)}
        jobs[step] = body
    return spec.model_copy(update={"jobs": jobs})
