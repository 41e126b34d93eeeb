"""A parallel component's run settings: what the batch engine needs to run its entry script over an input.

A parallel component (``type: parallel``, Azure's ``parallelComponent.schema.json``) names an entry
script with ``init()``/``run(mini_batch)``, the input cut into mini-batches (``input_data``) and,
with ``append_row_to``, the output every result is appended to. Its settings are stored resolved
(``ParallelSettings``) on the component; a pipeline step may override the tuning ones
(``OVERRIDABLE``), as Azure lets a step set ``mini_batch_size`` or ``resources.instance_count``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from batchpoint.common import expressions
from batchpoint.components.minibatch import parse_size
from batchpoint.errors import InvalidInput

if TYPE_CHECKING:
    from batchpoint.components.specs import ParallelComponentSpec

# Azure's parallel-job defaults: 2 retries, 60 s per run() call.
DEFAULT_RETRIES = 2
DEFAULT_TIMEOUT = 60
OVERRIDABLE = (
    "mini_batch_size",
    "resources",
    "max_concurrency_per_instance",
    "error_threshold",
    "mini_batch_error_threshold",
    "retry_settings",
    "logging_level",
)
APPEND_FILE = "parallel_run_step.txt"
"""The file ``append_row_to`` writes in its output folder (Azure's name)."""


class ParallelSettings(BaseModel):
    entry_script: str
    program_arguments: str | None = None
    input_data: str
    """The input port cut into mini-batches."""
    append_row_to: str | None = None
    """The output port the results are appended to; None: ``summary_only`` (the script writes its own files)."""
    mini_batch_size: int | str = 10
    instance_count: int = Field(1, ge=1, le=1024)
    max_concurrency_per_instance: int = Field(1, ge=1, le=1024)
    error_threshold: int = -1
    mini_batch_error_threshold: int = -1
    max_retries: int = Field(DEFAULT_RETRIES, ge=0, le=100)
    timeout: int = Field(DEFAULT_TIMEOUT, ge=1, le=259200)
    logging_level: str = "info"


def _port_of(expression: str | None, kind: str, field: str, file: str | None) -> str | None:
    """``${{inputs.data}}`` → ``data`` (``kind`` is ``inputs`` or ``outputs``)."""
    if expression is None:
        return None
    ref = expressions.binding(expression, field=field, file=file)
    if ref is None or len(ref.path) != 2 or ref.path[0] != kind:
        raise InvalidInput(f"'{expression}': expected ${{{{{kind}.<name>}}}}", field=field, file=file)
    return ref.path[1]


def check_parallel(spec: ParallelComponentSpec, *, owner: str, prefix: str, file: str | None) -> None:
    """What the settings name exists: ``input_data`` a data input, ``append_row_to`` an output, the arguments' ports."""
    from batchpoint.components.specs import PATH_TYPES

    data = _port_of(spec.input_data, "inputs", f"{prefix}input_data", file)
    port = spec.inputs.get(data or "")
    if port is None:
        known = ", ".join(sorted(spec.inputs)) or "none"
        raise InvalidInput(f"{owner}: input_data names no declared input (inputs: {known})",
                           field=f"{prefix}input_data", file=file)  # fmt: skip
    if port.type not in PATH_TYPES or port.type in ("mltable", "mlflow_model", "custom_model"):
        raise InvalidInput(
            f"{owner}: input_data '{data}' is a {port.type}; a parallel step cuts a uri_folder or uri_file "
            "into mini-batches (tabular mltable inputs are not supported yet)",
            field=f"{prefix}input_data",
            file=file,
        )
    target = _port_of(spec.task.append_row_to, "outputs", f"{prefix}task.append_row_to", file)
    if target is not None and target not in spec.outputs:
        known = ", ".join(sorted(spec.outputs)) or "none"
        raise InvalidInput(f"{owner}: append_row_to names no declared output (outputs: {known})",
                           field=f"{prefix}task.append_row_to", file=file)  # fmt: skip
    if spec.task.program_arguments:
        expressions.render_command(
            spec.task.program_arguments, dict.fromkeys(spec.inputs, "x"), dict.fromkeys(spec.outputs, "x"),
            owner=owner, field=f"{prefix}task.program_arguments", file=file,
        )  # fmt: skip


def parallel_settings(spec: ParallelComponentSpec) -> dict[str, Any]:
    """The stored form of a parallel component's settings."""
    retry = spec.retry_settings or {}
    settings = ParallelSettings(
        entry_script=spec.task.entry_script,
        program_arguments=spec.task.program_arguments,
        input_data=str(_port_of(spec.input_data, "inputs", "input_data", None)),
        append_row_to=_port_of(spec.task.append_row_to, "outputs", "task.append_row_to", None),
        mini_batch_size=spec.mini_batch_size,
        instance_count=int((spec.resources or {}).get("instance_count") or 1),
        max_concurrency_per_instance=spec.max_concurrency_per_instance,
        error_threshold=spec.error_threshold,
        mini_batch_error_threshold=spec.mini_batch_error_threshold,
        max_retries=int(retry.get("max_retries", DEFAULT_RETRIES)),
        timeout=int(retry.get("timeout", DEFAULT_TIMEOUT)),
        logging_level=spec.logging_level.lower(),
    )
    return settings.model_dump(mode="json")


def with_overrides(stored: dict[str, Any], step: dict[str, Any], *, field: str, file: str | None) -> ParallelSettings:
    """The component's settings with what a pipeline step sets (``OVERRIDABLE`` keys) laid over them."""
    values = dict(stored)
    for key in OVERRIDABLE:
        if step.get(key) is None:
            continue
        given = step[key]
        if key == "resources":
            if isinstance(given, dict) and given.get("instance_count") is not None:
                values["instance_count"] = given["instance_count"]
        elif key == "retry_settings":
            if isinstance(given, dict):
                values.update({k: given[k] for k in ("max_retries", "timeout") if k in given})
        elif key == "logging_level":
            values[key] = str(given).lower()
        else:
            values[key] = given
    try:
        parse_size(values["mini_batch_size"])
        return ParallelSettings.model_validate(values)
    except ValueError as exc:
        raise InvalidInput(f"{exc}", field=field, file=file) from None
