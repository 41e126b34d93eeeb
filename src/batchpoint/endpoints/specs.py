"""The YAML files of batch endpoints and batch deployments, as Azure ML CLI v2 writes them.

Three deployment shapes load unchanged:

* ``type: model`` with its settings under ``settings:`` (CLI 1.7 and later);
* the legacy model form: no ``type`` key, the same settings at the root of the file;
* ``type: pipeline``: a pipeline component (or an existing job) with pipeline-job settings.

The specs are what the user wrote, validated for shape only; the services resolve references,
snapshot code and check existence. ``parse_endpoint`` / ``parse_deployment`` turn a loaded YAML
mapping into a spec and name the file and the field in every error.

``DeploymentSpec`` is a union discriminated by ``type`` (absent: ``model``, as Azure reads it).
Path fields are marked with ``SpecPath`` and inline assets with ``Inline`` (``common/specpaths.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from batchpoint.common import names, overrides, validation
from batchpoint.common.specpaths import Inline, SpecPath
from batchpoint.endpoints.settings import BatchDeploymentSettings
from batchpoint.errors import InvalidInput
from batchpoint.registry.specs import EnvironmentSpec, ModelSpec

#: Settings keys the legacy form (no ``type``) writes at the root of the file.
LEGACY_SETTINGS_KEYS: tuple[str, ...] = tuple(k for k in BatchDeploymentSettings.model_fields if k != "instance_count")

#: Keys that only make sense for model deployments; a pipeline deployment that has one is refused.
MODEL_ONLY_KEYS: tuple[str, ...] = ("model", "code_configuration", "environment", "compute", "resources")

_SPEC = ConfigDict(extra="forbid")


def _string_tags(value: object) -> object:
    """Azure tags are strings; YAML turns ``version: 1`` into an int, so coerce scalars back."""
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    return value


Tags = Annotated[dict[str, str], BeforeValidator(_string_tags)]


class EndpointDefaults(BaseModel):
    model_config = _SPEC

    deployment_name: str | None = None
    """The deployment that serves invocations naming none."""


class BatchEndpointSpec(BaseModel):
    """``batchEndpoint.schema.json``: a name, a description, tags and the default deployment."""

    model_config = _SPEC

    name: str
    description: str | None = None
    tags: Tags = Field(default_factory=dict)
    auth_mode: Literal["aad_token"] = "aad_token"
    """Batch endpoints only know token authentication (Azure: Entra ID tokens)."""
    defaults: EndpointDefaults = Field(default_factory=EndpointDefaults)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return names.endpoint_name(value, "name")


class _DeploymentBase(BaseModel):
    model_config = _SPEC

    name: str
    endpoint_name: str
    description: str | None = None
    tags: Tags = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return names.endpoint_name(value, "name")

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint_name(cls, value: str) -> str:
        return names.endpoint_name(value, "endpoint_name")


class CodeConfigurationSpec(BaseModel):
    model_config = _SPEC

    code: Annotated[str, SpecPath(kind="folder", local=True, snapshots=True)]
    """Folder with the scoring code, relative to the YAML file (or ``snapshot:<sha>`` of a stored one)."""
    scoring_script: Annotated[str, SpecPath(kind="file", upload="none", inside="code")]
    """File inside ``code`` that defines ``init()`` and ``run(mini_batch)``."""


class ResourcesSpec(BaseModel):
    model_config = _SPEC

    instance_count: int = Field(1, ge=1, le=1024)
    instance_type: str | None = None
    """Azure's VM size; recorded, not used on local or Ray computes."""
    cpu: float | None = Field(None, gt=0, le=1024)
    """CPUs per worker on a Ray compute (default 1)."""
    gpu: float | None = Field(None, ge=0, le=64)
    """GPUs per worker on a Ray compute (fractions allowed)."""
    memory: int | None = Field(None, gt=0)
    """Memory per worker on a Ray compute, in bytes."""

    def per_worker(self) -> dict[str, Any]:
        """The per-worker resources that were given (what a Ray executor schedules with)."""
        return {k: v for k, v in self.model_dump(include={"cpu", "gpu", "memory"}).items() if v is not None}


class ModelDeploymentSpec(_DeploymentBase):
    """``modelBatchDeployment.schema.json`` (and the legacy form, folded into ``settings`` by the parser)."""

    type: Literal["model"] = "model"
    model: Annotated[str | dict[str, Any], Inline(ModelSpec)]
    """A reference (``azureml:NAME:VERSION``, ``azureml:NAME@latest``) or an inline ``{name, path, ...}``."""
    code_configuration: CodeConfigurationSpec | None = None
    environment: Annotated[str | dict[str, Any] | None, Inline(EnvironmentSpec)] = None
    """A reference, an inline ``{name?, image, conda_file}``, ``model`` (the model's own), or nothing."""
    compute: str | None = None
    """``azureml:NAME`` or ``NAME`` of a registered compute; nothing means the built-in ``local`` one."""
    resources: ResourcesSpec | None = None
    settings: BatchDeploymentSettings | None = None

    def effective_settings(self) -> BatchDeploymentSettings:
        """The settings with Azure's defaults filled in and ``resources.instance_count`` folded in."""
        given = self.settings.model_dump(exclude_unset=True) if self.settings else {}
        if self.resources is not None and "instance_count" in self.resources.model_fields_set:
            if "instance_count" in given and given["instance_count"] != self.resources.instance_count:
                raise InvalidInput(
                    "instance_count is given both as resources.instance_count and settings.instance_count "
                    "with different values; keep resources.instance_count",
                    field="resources.instance_count",
                )
            given["instance_count"] = self.resources.instance_count
        return BatchDeploymentSettings.model_validate(given)


class PipelineSettingsSpec(BaseModel):
    """The pipeline-job settings a pipeline deployment carries (``default_compute`` and friends)."""

    model_config = _SPEC

    default_compute: str | None = None
    default_datastore: str | None = None
    continue_on_step_failure: bool | None = None
    force_rerun: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_model_settings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key in BatchDeploymentSettings.model_fields:
                    raise InvalidInput(
                        f"'{key}' is a model-deployment setting; a pipeline deployment gets its parallelism "
                        "from its steps (settings here: default_compute, default_datastore, "
                        "continue_on_step_failure, force_rerun)",
                        field=f"settings.{key}",
                    )
        return data


class PipelineDeploymentSpec(_DeploymentBase):
    """``pipelineComponentBatchDeployment.schema.json``."""

    type: Literal["pipeline"] = "pipeline"
    component: Annotated[
        str | None, SpecPath(kind="file", upload="parent", local=True, refs=True, snapshots=True, missing="send")
    ] = None
    """``azureml:NAME@latest`` / ``azureml:NAME:VERSION``, or a local pipeline component YAML path."""
    job_definition: str | None = None
    """``azureml:<pipeline job name>``: deploy an existing pipeline job instead of a component."""
    settings: PipelineSettingsSpec = Field(default_factory=PipelineSettingsSpec)

    @model_validator(mode="before")
    @classmethod
    def _refuse_model_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in (*MODEL_ONLY_KEYS, *LEGACY_SETTINGS_KEYS):
                if key in data:
                    raise InvalidInput(
                        f"'{key}' does not apply to a pipeline deployment: its steps name their own compute, "
                        "code and environment (use settings.default_compute for the pipeline's default)",
                        field=key,
                    )
        return data

    @model_validator(mode="after")
    def _one_source(self) -> PipelineDeploymentSpec:
        if (self.component is None) == (self.job_definition is None):
            raise InvalidInput(
                "a pipeline deployment needs exactly one of 'component' and 'job_definition'",
                field="component",
            )
        return self


def deployment_type(value: Any) -> str:
    """The ``type`` of a deployment mapping or spec; none is ``model`` (the legacy form, as Azure reads it)."""
    kind = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
    return "model" if kind is None else str(kind)


DeploymentSpec = Annotated[
    Annotated[ModelDeploymentSpec, Tag("model")] | Annotated[PipelineDeploymentSpec, Tag("pipeline")],
    Discriminator(deployment_type),
]
"""A deployment spec: the member is picked by ``type`` (``model`` when absent, ``pipeline``)."""

DEPLOYMENT_SPEC: TypeAdapter[ModelDeploymentSpec | PipelineDeploymentSpec] = TypeAdapter(DeploymentSpec)
"""Validates a (non-legacy) deployment mapping as the union; ``parse_deployment`` also takes the legacy form."""


def parse_endpoint(data: dict[str, Any], *, file: str | None = None) -> BatchEndpointSpec:
    return validation.parse(BatchEndpointSpec, data, file=file)


def parse_deployment(data: dict[str, Any], *, file: str | None = None) -> DeploymentSpec:
    """Pick the deployment shape from ``type`` and validate it; the legacy form becomes ``type: model``."""
    parser = _PARSERS.get(deployment_type(data)) if isinstance(data.get("type"), str | None) else None
    if parser is None:
        kind = data.get("type")
        raise InvalidInput(f"unknown deployment type {kind!r}; expected 'model' or 'pipeline'", field="type", file=file)
    return parser(data, file=file)


def _parse_pipeline_deployment(data: dict[str, Any], *, file: str | None) -> PipelineDeploymentSpec:
    return validation.parse(PipelineDeploymentSpec, data, file=file)


def _parse_model_deployment(data: dict[str, Any], *, file: str | None) -> ModelDeploymentSpec:
    body = {k: v for k, v in data.items() if k not in LEGACY_SETTINGS_KEYS}
    flat = {k: data[k] for k in LEGACY_SETTINGS_KEYS if k in data}
    try:
        spec = validation.parse(ModelDeploymentSpec, body, file=file)
    except InvalidInput as exc:
        # NOTE: a settings validator that raises InvalidInput itself names its bare field; say where it is.
        nested = body.get("settings")
        if isinstance(nested, dict) and exc.field in nested and exc.field in BatchDeploymentSettings.model_fields:
            exc.field = f"settings.{exc.field}"
        raise
    if not flat:
        return spec
    root = validation.parse(BatchDeploymentSettings, flat, file=file).model_dump(exclude_unset=True)
    nested = spec.settings.model_dump(exclude_unset=True) if spec.settings else {}
    for key, value in nested.items():
        if key in root and root[key] != value:
            raise InvalidInput(
                f"'{key}' is given both at the root (legacy form) and under settings: with different values; keep one",
                field=f"settings.{key}",
                file=file,
            )
    merged = validation.parse(BatchDeploymentSettings, {**root, **nested}, file=file, prefix="settings")
    return spec.model_copy(update={"settings": merged})


_PARSERS: dict[str, Callable[..., ModelDeploymentSpec | PipelineDeploymentSpec]] = {
    "model": _parse_model_deployment,
    "pipeline": _parse_pipeline_deployment,
}


def apply_overrides(data: dict[str, Any], pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``--set`` pairs over a deployment mapping, each sent to where its setting lives in this file.

    A legacy file keeps ``mini_batch_size`` at the root, a ``type: model`` file under ``settings:``;
    ``--set mini_batch_size=20`` and ``--set settings.mini_batch_size=20`` both change the one that is
    there, so an override never creates a second, conflicting copy of a setting.
    """
    routed: list[tuple[str, Any]] = []
    is_model = data.get("type") in (None, "model")
    for key, value in pairs:
        parts = key.split(".")
        settings = data.get("settings")
        nested = isinstance(settings, dict)
        in_settings = isinstance(settings, dict) and len(parts) > 1 and parts[1] in settings
        if is_model and parts[0] in LEGACY_SETTINGS_KEYS and parts[0] not in data and nested:
            key = f"settings.{key}"
        elif (
            is_model
            and len(parts) > 1
            and parts[0] == "settings"
            and parts[1] in LEGACY_SETTINGS_KEYS
            and parts[1] in data
            and not in_settings
        ):
            key = ".".join(parts[1:])
        routed.append((key, value))
    return overrides.apply(data, routed)
