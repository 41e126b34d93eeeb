"""The file-path fields of spec models, marked where they are declared and walked by one function.

A spec field that names a file or folder is declared with a ``SpecPath`` marker::

    path: Annotated[str, SpecPath(kind="any")]
    code: Annotated[str, SpecPath(kind="folder", local=True, snapshots=True)]

and a field whose mapping form is another spec inline (a deployment's ``model: {path: ...}``) with
``Inline(ModelSpec)``. ``walk_paths`` yields every marked value of a spec (a model instance or the
mapping of its YAML/JSON), nested models, inline mappings and discriminated unions included;
``replace_paths`` returns a copy with the values a function gives. Three places use them, so that
marking a new path field covers it everywhere:

* the remote SDK uploads the local files a spec names (``client/transport.py`` ``upload_paths``);
* the server checks where each path of a request may point (``server/paths.py`` ``PathPolicy.spec``);
* the refusal of ``--set`` overrides that would name files: per job (``jobs/invoke.py``) and on
  the server's deployment PATCH (``server/routes/deployments.py``), from ``override_names_path``.

``tests/unit/test_specpaths.py`` fails when a field whose name suggests a path is left unmarked.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union

from pydantic import BaseModel, Discriminator, Tag

from batchpoint.common import refs

PathKind = Literal["file", "folder", "any"]
Upload = Literal["tree", "parent", "yaml", "lines", "none"]


@dataclass(frozen=True)
class SpecPath:
    """Marks a spec field holding a path (``Annotated[str | None, SpecPath(...)]``).

    ``kind``: what it names. ``upload``: what the remote SDK does with a path of its machine: ``tree``
    uploads the file or folder, ``parent`` the file's folder (the field then names the file inside
    it), ``yaml``/``lines`` read the file and send its content inline, ``none`` sends it as it is.
    ``local``: the services read it as a local path only (the server turns a datastore URI into
    its local path). ``refs``: a registry reference (``azureml:NAME:VERSION``) is accepted. ``snapshots``:
    ``snapshot:<sha>`` (stored code) is accepted. ``glob``: a glob pattern is accepted, and a folder is
    checked for links leading out (job inputs). ``output``: a job writes there. ``missing``: a relative
    path that does not exist on the SDK's machine is an ``error`` or is ``send`` as it is. ``inside``: a
    path relative to the sibling field named (a scoring script in its code folder): it travels with
    that one and is never a location by itself. ``job_outputs``: what a job produced may be named.
    """

    kind: PathKind = "any"
    upload: Upload = "tree"
    local: bool = False
    refs: bool = False
    snapshots: bool = False
    glob: bool = False
    output: bool = False
    missing: Literal["error", "send"] = "error"
    inside: str | None = None
    job_outputs: bool = False
    """``azureml://jobs/<job>/outputs/...`` and ``runs:/<run>/...`` are accepted (a model registered from a job)."""


@dataclass(frozen=True)
class Inline:
    """Marks a field whose mapping form is ``spec`` inline (its own path fields are walked too)."""

    spec: type[BaseModel]


@dataclass
class PathRef:
    """One marked value found in a spec: its dotted field name, the value and the marker."""

    field: str
    value: Any
    marker: SpecPath = dataclasses.field(repr=False)

    @property
    def location(self) -> str | None:
        """The value when it names a location to check or upload: a string that is not a reference
        (where those are accepted), not a stored snapshot, not relative to another field."""
        value, marker = self.value, self.marker
        if not isinstance(value, str) or marker.inside is not None:
            return None
        if marker.snapshots and value.startswith("snapshot:"):
            return None
        if marker.refs and refs.is_reference(value):
            return None
        return value


# -- reading the declarations --------------------------------------------------------------------------
def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation can hold (``X | None``, ``Annotated[X, ...]``, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _discriminator(annotation: Any) -> tuple[Callable[[Any], Any], dict[Any, type[BaseModel]]] | None:
    """For ``Annotated[A | B, Discriminator(fn)]`` with ``Tag``-ged members: (fn, tag → member)."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    inner, *metadata = typing.get_args(annotation)
    found = next((m for m in metadata if isinstance(m, Discriminator)), None)
    if found is None or not callable(found.discriminator):
        return None
    tags: dict[Any, type[BaseModel]] = {}
    for member in typing.get_args(inner):
        if typing.get_origin(member) is typing.Annotated:
            cls, *meta = typing.get_args(member)
            for item in meta:
                if isinstance(item, Tag):
                    tags[item.tag] = cls
    return found.discriminator, tags


@dataclass(frozen=True)
class _Field:
    name: str
    key: str
    """The key in a mapping (the alias when there is one)."""
    marker: SpecPath | None
    inline: type[BaseModel] | None
    annotation: Any


@cache
def _fields(spec_type: type[BaseModel]) -> tuple[_Field, ...]:
    found = []
    for name, info in spec_type.model_fields.items():
        marker = next((m for m in info.metadata if isinstance(m, SpecPath)), None)
        inline = next((m.spec for m in info.metadata if isinstance(m, Inline)), None)
        found.append(_Field(name, info.alias or name, marker, inline, info.annotation))
    return tuple(found)


def _member(spec_type: Any, data: Any) -> list[type[BaseModel]]:
    """The model class(es) ``data`` is validated as under ``spec_type`` (a model or a union of them)."""
    if isinstance(data, BaseModel):
        return [type(data)]
    picked = _discriminator(spec_type)
    if picked is not None:
        fn, tags = picked
        member = tags.get(fn(data)) if isinstance(data, Mapping) else None
        if member is not None:
            return [member]
    return _models_in(spec_type)


def path_fields(spec_type: Any, prefix: str = "") -> dict[str, SpecPath]:
    """Dotted name → marker of every path field ``spec_type`` declares (nested and inline specs too)."""
    found: dict[str, SpecPath] = {}
    for cls in _models_in(spec_type):
        for f in _fields(cls):
            dotted = f"{prefix}{f.key}"
            if f.marker is not None:
                found[dotted] = f.marker
            if f.inline is not None:
                found.update(path_fields(f.inline, f"{dotted}."))
            for nested in _models_in(f.annotation):
                found.update(path_fields(nested, f"{dotted}."))
    return found


def top_level_paths(spec_type: type[BaseModel]) -> tuple[str, ...]:
    """The top-level fields of ``spec_type`` marked as paths (what flags give relative to the current folder)."""
    return tuple(f.key for f in _fields(spec_type) if f.marker is not None and f.marker.inside is None)


def override_names_path(spec_type: Any, key: str) -> SpecPath | None:
    """The marker when a ``--set`` key would set a path field of ``spec_type``, or a mapping holding one.

    ``model.path`` and ``code_configuration.code`` name paths, so do ``code_configuration`` and ``model``
    (the whole mapping); a path relative to another field (``code_configuration.scoring_script``) does
    not count.
    """
    fields = path_fields(spec_type)
    key = key.strip()
    marker = fields.get(key)
    if marker is not None:
        return None if marker.inside is not None else marker
    inner = [m for name, m in fields.items() if name.startswith(f"{key}.") and m.inside is None]
    return inner[0] if inner else None


# -- walking values ------------------------------------------------------------------------------------
def walk_paths(spec: BaseModel | Mapping[str, Any], spec_type: Any = None, *, prefix: str = "") -> Iterator[PathRef]:
    """Every marked path value of ``spec`` (a model, or a mapping validated as ``spec_type``), depth first."""
    found: list[PathRef] = []

    def collect(ref: PathRef) -> Any:
        found.append(ref)
        return ref.value

    _visit(spec_type, spec, prefix, collect)
    yield from found


def replace_paths(spec: Any, fn: Callable[[PathRef], Any], spec_type: Any = None, *, prefix: str = "") -> Any:
    """A copy of ``spec`` with each marked path value replaced by ``fn(ref)`` (a model stays a model)."""
    return _visit(spec_type, spec, prefix, fn)


_ABSENT = object()


def _value(data: BaseModel | Mapping[str, Any], f: _Field) -> tuple[str, Any]:
    """(key to change, value) of a field in a model or a mapping; the value is ``_ABSENT`` when not there."""
    if isinstance(data, BaseModel):
        return f.name, getattr(data, f.name) if f.name in type(data).model_fields else _ABSENT
    for key in (f.key, f.name):
        if key in data:
            return key, data[key]
    return f.key, _ABSENT


def _visit_field(f: _Field, value: Any, dotted: str, fn: Callable[[PathRef], Any]) -> Any:
    if f.marker is not None:
        return value if value is None else fn(PathRef(dotted, value, f.marker))
    if f.inline is not None and isinstance(value, Mapping):
        return _visit(f.inline, value, f"{dotted}.", fn)
    if isinstance(value, BaseModel | Mapping) and _models_in(f.annotation):
        return _visit(f.annotation, value, f"{dotted}.", fn)
    return value


def _visit(spec_type: Any, data: Any, prefix: str, fn: Callable[[PathRef], Any]) -> Any:
    if not isinstance(data, BaseModel | Mapping):
        return data
    changes: dict[str, Any] = {}
    seen: set[str] = set()
    for cls in _member(spec_type if spec_type is not None else type(data), data):
        for f in _fields(cls):
            key, value = _value(data, f)
            if f.name in seen or value is _ABSENT:
                continue
            seen.add(f.name)
            new = _visit_field(f, value, f"{prefix}{f.key}", fn)
            if new is not value:
                changes[key] = new
    if not changes:
        return data
    if isinstance(data, BaseModel):
        return data.model_copy(update=changes)
    return {**data, **changes}
