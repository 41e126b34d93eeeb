"""Pydantic specs for the registry's YAML files (Azure ML CLI v2 shapes) and for CLI flags.

Every spec forbids unknown fields, so a misspelt key is an error that names the key instead of a
silently ignored setting. Names and versions are checked with ``common.names`` while parsing, so a
bad name is refused before any file is read or copied. Paths stay strings here: what they are
relative to (the YAML file's folder, or the current folder for flags) is the services' business.
Every path field is marked with ``SpecPath`` (see ``common/specpaths.py``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from batchpoint.common import names, overrides, validation, yamlio
from batchpoint.common.specpaths import SpecPath, top_level_paths
from batchpoint.errors import InvalidInput
from batchpoint.registry.schemas import ModelType

DataType = Literal["uri_file", "uri_folder", "mltable"]
ComputeType = Literal["local", "amlcompute", "ray"]
S = TypeVar("S", bound=BaseModel)
RAY_ADDRESS = re.compile(r"^ray://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def _scalar_text(value: Any, field: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if value is None:
        return ""
    raise InvalidInput(f"expected a text value, got {type(value).__name__}", field=field)


def _tags(value: Any) -> Any:
    """Tags are text in Azure; YAML numbers and booleans are accepted and kept as text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        return value  # pydantic reports "expected a mapping"
    return {str(k): _scalar_text(v, f"tags.{k}") for k, v in value.items()}


def _version(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        value = repr(value)  # `version: 1.0` in YAML is a float; keep what the user wrote
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidInput(f"expected a text or integer version, got {value!r}", field="version")
    return names.version(value)


class _Spec(BaseModel):
    """Common behaviour: unknown keys are errors; tags become text."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("tags", mode="before", check_fields=False)
    @classmethod
    def _check_tags(cls, value: Any) -> Any:
        return _tags(value)


class _VersionedSpec(_Spec):
    name: str
    version: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: Any) -> Any:
        return names.asset_name(value)

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: Any) -> Any:
        return _version(value)


class ModelSpec(_VersionedSpec):
    """``model.schema.json``: a file or folder to register as a model version."""

    path: Annotated[str, SpecPath(kind="any", job_outputs=True)]
    """The model's file or folder (relative to the YAML file), a datastore URI, or a job's output or run's
    artifacts (``azureml://jobs/<job>/outputs/<name>``, ``runs:/<run id>/<path>``)."""
    type: ModelType | None = None
    """None: ``mlflow_model`` when an ``MLmodel`` file sits at the root of the folder, else ``custom_model``."""
    stage: str | None = None
    flavors: dict[str, Any] | None = None
    """Only used when there is no ``MLmodel`` file to read the flavors from."""


class EnvironmentSpec(_VersionedSpec):
    """``environment.schema.json`` plus batchpoint's ``pip_requirements`` and ``python_version``."""

    image: str | None = None
    conda_file: Annotated[str | dict[str, Any] | None, SpecPath(kind="file", upload="yaml", local=True)] = None
    """A path to a conda YAML file (relative to the YAML file) or the conda mapping itself."""
    pip_requirements: Annotated[str | list[str] | None, SpecPath(kind="file", upload="lines", local=True)] = None
    """A path to a requirements.txt file, or the requirement lines themselves."""
    python_version: str | None = None
    build: dict[str, Any] | None = None
    inference_config: dict[str, Any] | None = None
    os_type: Literal["linux", "windows", "Linux", "Windows"] | None = None

    @field_validator("python_version", mode="before")
    @classmethod
    def _check_python(cls, value: Any) -> Any:
        if isinstance(value, float | int) and not isinstance(value, bool):
            value = str(value)  # `python_version: 3.11` in YAML
        if isinstance(value, str) and not re.fullmatch(r"3(\.[0-9]{1,2}){0,2}", value):
            raise ValueError(f"'{value[:40]}' is not a Python version such as 3.11 or 3.12.4")
        return value

    @model_validator(mode="after")
    def _needs_a_definition(self) -> EnvironmentSpec:
        if not (self.image or self.conda_file or self.pip_requirements or self.build or self.python_version):
            raise InvalidInput("an environment needs at least one of image, conda_file, pip_requirements or build")
        return self


class DataSpec(_VersionedSpec):
    """``data.schema.json``: a named, versioned pointer to a file or folder."""

    type: DataType = "uri_folder"
    path: Annotated[str, SpecPath(kind="any", refs=True, glob=True)]
    """A file, folder or glob (relative to the YAML file), or a datastore URI."""


class ComputeSpec(_Spec):
    """``amlCompute.schema.json`` and batchpoint's ``local`` and ``ray`` computes.

    Azure fields that mean nothing on one machine (``size``, ``tier``, ``location``...) are accepted so
    that Azure files load unchanged, and ignored.
    """

    name: str
    type: ComputeType = "amlcompute"
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    min_instances: int = Field(0, ge=0)
    max_instances: int | None = Field(None, ge=1, le=1024)
    """None: the number of CPUs for ``local``, 1 otherwise."""
    address: str | None = None
    resources: dict[str, float] = Field(default_factory=dict)
    size: str | None = None
    tier: str | None = None
    location: str | None = None
    idle_time_before_scale_down: int | None = Field(None, ge=0)
    identity: dict[str, Any] | None = None
    ssh_public_access_enabled: bool | None = None
    network_settings: dict[str, Any] | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: Any) -> Any:
        return names.asset_name(value)

    @model_validator(mode="after")
    def _consistent(self) -> ComputeSpec:
        if self.max_instances is not None and self.min_instances > self.max_instances:
            raise InvalidInput(
                f"min_instances ({self.min_instances}) is above max_instances ({self.max_instances})",
                field="min_instances",
            )
        if self.type != "ray" and (self.address or self.resources):
            field = "address" if self.address else "resources"
            raise InvalidInput(f"{field} applies only to computes of type ray", field=field)
        if self.type == "ray":
            if not self.address:
                raise InvalidInput("a ray compute needs an address: ray://HOST:PORT, auto or local", field="address")
            if self.address not in ("auto", "local") and not RAY_ADDRESS.match(self.address):
                raise InvalidInput(f"'{self.address}' is not ray://HOST:PORT, auto or local", field="address")
        if any(v < 0 for v in self.resources.values()):
            raise InvalidInput("resource amounts cannot be negative", field="resources")
        return self


def _absolute(value: Any) -> Any:
    """A path typed as a flag is relative to the current folder, not to the YAML file."""
    if isinstance(value, str) and value and "://" not in value and not value.startswith(("azureml:", "runs:/")):
        return str(Path(value).expanduser().resolve())
    return value


def merge_fields(
    data: dict[str, Any],
    fields: dict[str, Any],
    pairs: list[tuple[str, Any]] | None,
    *,
    path_fields: tuple[str, ...] = ("path",),
) -> dict[str, Any]:
    """Apply ``--set`` pairs, then flag values (None = not given; mappings are merged) over ``data``.

    Flags win, as they do for the endpoint commands: ``-n NAME`` beats both the file and ``--set name=``.
    """
    overrides.apply(data, pairs or [])
    for key, value in fields.items():
        if value is None:
            continue
        if key in path_fields:
            value = _absolute(value)
        current = data.get(key)
        data[key] = {**current, **value} if isinstance(value, dict) and isinstance(current, dict) else value
    return data


def load_spec(
    spec_type: type[S],
    path: Path,
    *,
    fields: dict[str, Any] | None = None,
    pairs: list[tuple[str, Any]] | None = None,
    path_fields: tuple[str, ...] | None = None,
) -> S:
    """Read a spec file, apply flags and ``--set`` pairs, validate; errors name the file and field.

    ``path_fields``: the flags that are paths (relative to the current folder); by default the
    spec's fields marked ``SpecPath``.
    """
    data = yamlio.load_file(path)
    merge_fields(data, fields or {}, pairs, path_fields=_paths_of(spec_type, path_fields))
    return validation.parse(spec_type, data, file=str(path))


def spec_from_fields(
    spec_type: type[S],
    fields: dict[str, Any],
    pairs: list[tuple[str, Any]] | None = None,
    *,
    path_fields: tuple[str, ...] | None = None,
) -> S:
    """A spec made from flags alone (no YAML file); paths are relative to the current folder."""
    data = merge_fields({}, fields, pairs, path_fields=_paths_of(spec_type, path_fields))
    return validation.parse(spec_type, data)


def _paths_of(spec_type: type[BaseModel], given: tuple[str, ...] | None) -> tuple[str, ...]:
    return top_level_paths(spec_type) if given is None else given
