"""Building a job from an invoke: route, merge per-job overrides, resolve input and output.

Overridable per job (as ``az ml batch-endpoint invoke`` allows, plus a few more): ``mini_batch_size``,
``instance_count`` (also ``compute.instance_count``), ``output_file_name``, ``error_threshold``,
``retry_settings.max_retries``, ``retry_settings.timeout``, and beyond Azure
``max_concurrency_per_instance``, ``logging_level``, ``environment_variables.NAME``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.common import overrides as ov
from batchpoint.common import validation, yamlio
from batchpoint.endpoints.schemas import BatchDeployment
from batchpoint.endpoints.settings import BatchDeploymentSettings
from batchpoint.errors import Conflict, InvalidInput
from batchpoint.jobs.inputs import resolve_input
from batchpoint.jobs.schemas import JobInput, JobOutput

if TYPE_CHECKING:
    from batchpoint.services import Services

OVERRIDABLE = {
    "mini_batch_size",
    "instance_count",
    "max_concurrency_per_instance",
    "output_file_name",
    "error_threshold",
    "retry_settings",
    "logging_level",
    "environment_variables",
}
_ALIASES = {"compute.instance_count": "instance_count", "resources.instance_count": "instance_count"}


def normalise_overrides(pairs: list[str] | list[tuple[str, Any]] | dict[str, Any] | None) -> list[tuple[str, Any]]:
    if pairs is None:
        return []
    if isinstance(pairs, dict):
        return list(pairs.items())
    result: list[tuple[str, Any]] = []
    for item in pairs:
        result.extend(ov.parse_pairs([item]) if isinstance(item, str) else [item])
    return result


def effective_settings(
    deployment: BatchDeployment, pairs: list[tuple[str, Any]], **direct: int | None
) -> BatchDeploymentSettings:
    """The deployment's settings with this job's overrides applied and validated."""
    base = (deployment.settings or BatchDeploymentSettings()).model_dump()
    for key, value in pairs:
        key = _ALIASES.get(key, key)
        key = key.removeprefix("settings.")
        if key.split(".")[0] not in OVERRIDABLE:
            raise InvalidInput(
                f"'{key}' cannot be set per job; settable: {', '.join(sorted(OVERRIDABLE))}", field="--set"
            )
        ov.apply(base, [(key, value)])
    for key, value in direct.items():
        if value is not None:
            base[key] = value
    return validation.parse(BatchDeploymentSettings, base, prefix="settings")


def read_inputs_file(path: Path) -> tuple[str | None, str | None, str | None]:
    """(input path, input type, output path) from an ``inputs.yml`` (``inputs:``/``outputs:`` maps)."""
    data = yamlio.load_file(path)
    base = path.resolve().parent
    inputs = data.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise InvalidInput("'inputs' must be a mapping of name to input", file=str(path), field="inputs")
    data_inputs = []
    for name, spec in inputs.items():
        if not isinstance(spec, dict):
            raise InvalidInput(
                "each input must be a mapping with 'type' and 'path'", file=str(path), field=f"inputs.{name}"
            )
        if spec.get("type") not in ("uri_folder", "uri_file"):
            raise InvalidInput(
                "The specified job input type is not supported by model deployments; the supported types are "
                "uri_file and uri_folder (literal inputs are for pipeline deployments)",
                file=str(path),
                field=f"inputs.{name}.type",
            )
        data_inputs.append((name, spec))
    if len(data_inputs) != 1:
        raise InvalidInput(
            f"a model deployment takes exactly one data input, found {len(data_inputs)}", file=str(path), field="inputs"
        )
    _, spec = data_inputs[0]
    raw = str(spec.get("path", ""))
    local = raw if ("://" in raw or raw.startswith("azureml:")) else str((base / raw).resolve())
    output = None
    for name, out in (data.get("outputs") or {}).items():
        if isinstance(out, dict) and out.get("path"):
            raw_out = str(out["path"])
            output = raw_out if "://" in raw_out else str((base / raw_out).resolve())
        elif out is not None and not isinstance(out, dict):
            raise InvalidInput("each output must be a mapping", file=str(path), field=f"outputs.{name}")
    return local, spec.get("type"), output


def resolve_output(
    ctx: Services, output_path: str | None, job_name: str, settings: BatchDeploymentSettings
) -> JobOutput:
    if output_path:
        if str(output_path).startswith("azureml://datastores/"):
            folder = ctx.datastores.resolve_uri(str(output_path), field="output_path")
            uri: str | None = str(output_path)
        else:
            folder = Path(output_path).expanduser().resolve()
            uri = None
        if folder.exists() and not folder.is_dir():
            raise InvalidInput(f"output path '{output_path}' is a file; give a folder", field="output_path")
    else:
        folder = ctx.layout.job_dir(job_name) / "outputs" / "score"
        uri = None
    file = folder / settings.output_file_name if settings.output_action == "append_row" else None
    if file is not None and file.exists():
        raise Conflict(
            f"output file '{file}' already exists; batchpoint never overwrites an output. "
            "Choose another --output-path or --set output_file_name=...",
            field="output_path",
        )
    return JobOutput(type="uri_folder", path=str(folder), file=str(file) if file else None, uri=uri)


def resolve_job_input(ctx: Services, value: str | Path | None, input_type: str | None) -> JobInput:
    if value is None or value == "":
        raise InvalidInput(
            "an input is required: --input PATH|azureml:DATA@latest|azureml://datastores/...", field="input"
        )
    return resolve_input(ctx, value, input_type)
