"""Building a job from an invoke: route, merge per-job overrides, resolve input and output.

Overridable per job (as ``az ml batch-endpoint invoke`` allows, plus a few more): ``mini_batch_size``,
``instance_count`` (also ``compute.instance_count``), ``output_file_name``, ``error_threshold``,
``retry_settings.max_retries``, ``retry_settings.timeout``, and beyond Azure
``max_concurrency_per_instance``, ``logging_level``, ``environment_variables.NAME``.

A caller limited to the data plane (the server's invoke-only tokens) may set only ``DATA_PLANE``
keys, and none of them above the deployment's own value where more means more power: retries,
timeouts, instances and workers. Environment variables, code, model and environment stay the
deployment's: no caller sets a path of the deployment per job (the deployment spec's ``SpecPath``
fields, see ``common/specpaths.py``). Every job, whoever starts it, stays within its compute's
worker capacity.

``InvokeRequest`` is one invocation's parameters, the same object all the way: the CLI and the SDK
build it, the remote SDK sends it as the JSON body of ``POST /api/v1/batch-endpoints/{name}/jobs``,
the route validates the body as it, and ``JobService.invoke`` takes it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from batchpoint.batch.inputs import resolve_input
from batchpoint.common import names, validation, yamlio
from batchpoint.common import overrides as ov
from batchpoint.common.specpaths import SpecPath, override_names_path
from batchpoint.common.text import shown
from batchpoint.endpoints.schemas import BatchDeployment
from batchpoint.endpoints.settings import BatchDeploymentSettings
from batchpoint.endpoints.specs import DeploymentSpec
from batchpoint.errors import BatchpointError, Conflict, Forbidden, InvalidInput
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
DATA_PLANE = frozenset(
    {"mini_batch_size", "error_threshold", "retry_settings", "output_file_name", "logging_level", "instance_count",
     "max_concurrency_per_instance"}
)  # fmt: skip
"""What a data-plane caller may override (the numeric ones only up to the deployment's own value)."""
_BOUNDED = (
    ("instance_count",), ("max_concurrency_per_instance",), ("retry_settings", "max_retries"),
    ("retry_settings", "timeout"),
)  # fmt: skip


Pair = tuple[str, Any]


def normalise_overrides(pairs: list[str] | list[tuple[str, Any]] | dict[str, Any] | None) -> list[tuple[str, Any]]:
    if pairs is None:
        return []
    if isinstance(pairs, dict):
        return list(pairs.items())
    result: list[tuple[str, Any]] = []
    for item in pairs:
        result.extend(ov.parse_pairs([item]) if isinstance(item, str) else [item])
    return result


def _message(check: Any, *args: Any) -> Any:
    """Run a ``common.names``-style check inside a pydantic validator (its message becomes the error's)."""
    try:
        return check(*args)
    except BatchpointError as exc:
        raise ValueError(exc.message) from None


class InvokeRequest(BaseModel):
    """``batch-endpoint invoke`` as one object (and as JSON, the REST body).

    ``input`` is a local path (the remote SDK uploads it), a datastore URI, a data asset reference
    (``azureml:NAME@latest``) or, through the server, a server path. ``overrides`` are ``--set`` pairs
    (``[["retry_settings.max_retries", 1]]``, ``{"error_threshold": 3}`` or ``["output_file_name=x.csv"]``)
    of the settings a job may change (``OVERRIDABLE``: mini_batch_size, instance_count,
    max_concurrency_per_instance, output_file_name, error_threshold, retry_settings, logging_level,
    environment_variables); ``mini_batch_size`` and ``instance_count`` have their own fields too.
    The endpoint is not a field: it is the URL's (and the service's first argument).
    """

    model_config = ConfigDict(extra="forbid")

    input: Annotated[str | None, SpecPath(kind="any", refs=True, glob=True, missing="send")] = Field(
        None, max_length=4096
    )
    input_type: Literal["uri_folder", "uri_file"] | None = None
    deployment_name: str | None = Field(None, max_length=64)
    output_path: Annotated[str | None, SpecPath(kind="folder", upload="none", output=True)] = Field(
        None, max_length=4096
    )
    mini_batch_size: int | None = None
    instance_count: int | None = None
    job_name: str | None = Field(None, max_length=128)
    experiment_name: str | None = Field(None, max_length=255)
    overrides: list[Pair] | dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None
    """Named inputs (an ``inputs.yml``'s ``inputs:``, literals included): a pipeline deployment's inputs."""
    outputs: dict[str, Any] | None = None
    """Named outputs (an ``inputs.yml``'s ``outputs:``)."""

    @field_validator("input", "output_path", mode="before")
    @classmethod
    def _path_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    @field_validator("input_type", mode="before")
    @classmethod
    def _input_type(cls, value: Any) -> Any:
        if value not in (None, "uri_folder", "uri_file"):
            raise ValueError(f"unsupported input type '{shown(str(value))}'; use uri_folder or uri_file")
        return value

    @field_validator("job_name", mode="before")
    @classmethod
    def _job_name(cls, value: Any) -> Any:
        return _message(names.job_name, value) if value else value

    @field_validator("experiment_name", mode="before")
    @classmethod
    def _experiment_name(cls, value: Any) -> Any:
        return _message(check_experiment_name, value)

    @field_validator("overrides", mode="before")
    @classmethod
    def _overrides(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and any(isinstance(item, str) for item in value):
            return _message(normalise_overrides, list(value))
        return value

    def pairs(self) -> list[tuple[str, Any]]:
        """The overrides as ``(key, value)`` pairs."""
        return normalise_overrides(self.overrides)

    def with_inputs_file(self, path: str | Path) -> InvokeRequest:
        """The named inputs and outputs of an ``inputs.yml``; for the model form (one data input) also
        the input, input type and output path, where this request gives none."""
        inputs, outputs = read_named(Path(path))
        update: dict[str, Any] = {"inputs": inputs, "outputs": outputs}
        try:
            file_input, file_type, file_output = model_form(inputs, outputs, file=str(path))
        except InvalidInput:
            pass  # not the model form: a pipeline deployment's inputs (a model deployment refuses them then)
        else:
            update.update(
                input=self.input or file_input,
                input_type=self.input_type or file_type,
                output_path=self.output_path or file_output,
            )
        return self.model_copy(update=update)


def names_a_path(key: str) -> bool:
    """Whether a per-job override key sets a path field (``SpecPath``) of the deployment or of its settings."""
    return override_names_path(DeploymentSpec, key) is not None or (
        override_names_path(BatchDeploymentSettings, key.removeprefix("settings.")) is not None
    )


def effective_settings(
    deployment: BatchDeployment, pairs: list[tuple[str, Any]], *, data_plane_only: bool = False, **direct: int | None
) -> BatchDeploymentSettings:
    """The deployment's settings with this job's overrides applied and validated.

    ``data_plane_only``: refuse (``Forbidden``, naming the key) what only a deployment's author may
    set, and numbers above the deployment's own bounds.
    """
    own = deployment.settings or BatchDeploymentSettings()
    base = own.model_dump()
    for key, value in pairs:
        key = _ALIASES.get(key, key)
        key = key.removeprefix("settings.")
        top = key.split(".")[0]
        names_path = names_a_path(key)
        if top not in OVERRIDABLE:
            raise InvalidInput(
                f"'{shown(key)}' cannot be set per job; settable: {', '.join(sorted(OVERRIDABLE))}",
                field=f"overrides.{shown(key, 120)}",
                hint="it names files of the deployment, which stay the deployment's" if names_path else None,
            )
        if data_plane_only and (top not in DATA_PLANE or names_path):
            raise Forbidden(
                f"this token may not set '{shown(key)}' per job (only {', '.join(sorted(DATA_PLANE))}); "
                "it stays the deployment's",
                field=f"overrides.{shown(key, 120)}",
            )
        ov.apply(base, [(key, value)])
    for key, value in direct.items():
        if value is not None:
            base[key] = value
    settings = validation.parse(BatchDeploymentSettings, base, prefix="settings")
    if data_plane_only:
        _within_deployment(own, settings)
    return settings


def _within_deployment(own: BatchDeploymentSettings, wanted: BatchDeploymentSettings) -> None:
    """Forbidden when a data-plane caller asks for more retries, time, instances or workers than deployed."""
    mine, theirs = own.model_dump(), wanted.model_dump()
    for path in _BOUNDED:
        limit: Any = mine
        value: Any = theirs
        for part in path:
            limit, value = limit[part], value[part]
        if value > limit:
            key = ".".join(path)
            raise Forbidden(
                f"this token may set {key} up to the deployment's own {limit}, not {value}", field=f"overrides.{key}"
            )


def check_capacity(settings: BatchDeploymentSettings, limit: int, compute_name: str, *, local: bool) -> None:
    """Refuse a job that would start more workers than one machine of the compute may run for it.

    The instances of a local compute are all on this machine, so there the limit bounds
    ``instance_count × max_concurrency_per_instance``; on Ray it bounds each node's share.
    """
    workers = settings.workers if local else settings.max_concurrency_per_instance
    if workers > limit:
        what = (
            f"{settings.instance_count} instance(s) × {settings.max_concurrency_per_instance} workers"
            if local
            else f"max_concurrency_per_instance {settings.max_concurrency_per_instance}"
        )
        raise InvalidInput(
            f"{what} is over the {limit} workers one machine of compute '{compute_name}' may run for one job",
            field="settings.max_concurrency_per_instance",
            hint="an operator can raise the limit with BATCHPOINT_ENGINE_MAX_WORKERS_PER_INSTANCE",
        )


def workers_per_instance(configured: int) -> int:
    """The per-instance worker limit: the configured one, else four per CPU core (at least 8)."""
    return configured or max(8, 4 * (os.cpu_count() or 1))


def check_experiment_name(value: str | None) -> str | None:
    """Experiment names as Azure allows them: up to 255 printable characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 255 or not value.isprintable():
        raise InvalidInput(
            f"invalid experiment name '{shown(value)}': use 1 to 255 printable characters", field="experiment_name"
        )
    return value


def read_named(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """An ``inputs.yml``'s ``inputs:`` and ``outputs:`` maps, local paths made absolute (from the file's folder)."""
    data = yamlio.load_file(path)
    base = path.resolve().parent
    inputs = data.get("inputs") or {}
    outputs = data.get("outputs") or {}
    for key, value in (("inputs", inputs), ("outputs", outputs)):
        if not isinstance(value, dict):
            raise InvalidInput(f"'{key}' must be a mapping of name to {key[:-1]}", file=str(path), field=key)
    named: dict[str, Any] = {}
    for name, spec in inputs.items():
        if isinstance(spec, dict) and spec.get("path") is not None:
            spec = {**spec, "path": _absolute(str(spec["path"]), base)}
        named[name] = spec
    outs: dict[str, Any] = {}
    for name, out in outputs.items():
        if out is not None and not isinstance(out, dict):
            raise InvalidInput("each output must be a mapping", file=str(path), field=f"outputs.{name}")
        if isinstance(out, dict) and out.get("path"):
            out = {**out, "path": _absolute(str(out["path"]), base)}
        outs[name] = out
    return named, outs


def _absolute(raw: str, base: Path) -> str:
    return raw if ("://" in raw or raw.startswith("azureml:")) else str((base / raw).resolve())


def model_form(
    inputs: dict[str, Any], outputs: dict[str, Any], *, file: str | None = None
) -> tuple[str | None, str | None, str | None]:
    """(input path, input type, output path) of named inputs for a model deployment: exactly one data input."""
    data_inputs = []
    for name, spec in inputs.items():
        if not isinstance(spec, dict):
            raise InvalidInput("each input must be a mapping with 'type' and 'path'", file=file, field=f"inputs.{name}")
        if spec.get("type") not in ("uri_folder", "uri_file"):
            raise InvalidInput(
                "The specified job input type is not supported by model deployments; the supported types are "
                "uri_file and uri_folder (literal inputs are for pipeline deployments)",
                file=file,
                field=f"inputs.{name}.type",
            )
        data_inputs.append((name, spec))
    if len(data_inputs) != 1:
        raise InvalidInput(
            f"a model deployment takes exactly one data input, found {len(data_inputs)}", file=file, field="inputs"
        )
    _, spec = data_inputs[0]
    output = None
    for out in outputs.values():
        if isinstance(out, dict) and out.get("path"):
            output = str(out["path"])
    return str(spec.get("path", "")), spec.get("type"), output


def read_inputs_file(path: Path) -> tuple[str | None, str | None, str | None]:
    """(input path, input type, output path) from a model deployment's ``inputs.yml``."""
    inputs, outputs = read_named(path)
    return model_form(inputs, outputs, file=str(path))


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
            raise InvalidInput(f"output path '{shown(output_path)}' is a file; give a folder", field="output_path")
        _new_or_empty(folder, str(output_path))
    else:
        folder = ctx.layout.job_dir(job_name) / "outputs" / "score"
        uri = None
    file = folder / settings.output_file_name if settings.output_action == "append_row" else None
    return JobOutput(type="uri_folder", path=str(folder), file=str(file) if file else None, uri=uri)


def _new_or_empty(folder: Path, given: str) -> None:
    """An output folder must not hold anything yet: a job's output is what the job wrote, never a
    folder of other data (which its download would then hand out), and never overwrites."""
    try:
        with os.scandir(folder) as entries:
            occupied = next(iter(entries), None) is not None
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise InvalidInput(f"output path '{shown(given)}' is a file; give a folder", field="output_path") from None
    if occupied:
        raise Conflict(
            f"output folder '{shown(given, 200)}' is not empty; a job writes into a new or empty folder "
            "(batchpoint never overwrites or mixes outputs). Choose another --output-path",
            field="output_path",
        )


def resolve_job_input(ctx: Services, value: str | Path | None, input_type: str | None) -> JobInput:
    if value is None or value == "":
        raise InvalidInput(
            "an input is required: --input PATH|azureml:DATA@latest|azureml://datastores/...", field="input"
        )
    return resolve_input(ctx, value, input_type)
