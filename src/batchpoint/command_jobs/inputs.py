"""A command's inputs and outputs resolved to local paths and literal texts, with content hashes.

Path-typed inputs (``uri_file``, ``uri_folder``, models, ``mltable``) become a local absolute path:

* a local path, relative to the YAML file's folder (a ``file:`` prefix is allowed);
* ``azureml:NAME:VERSION`` / ``azureml:NAME@latest``: a data asset (its path), or for
  ``mlflow_model``/``custom_model``/``triton_model`` a model (its materialised file or folder);
* ``azureml://datastores/<name>/paths/<path>``: under that datastore's root (checked to stay in it).

Literals (``string``, ``number``, ``integer``, ``boolean``) keep their text as the command shows it
(``expressions.literal_text``: booleans are ``True``/``False``). ``content_hash`` is the sha256 of
the file or folder content (relative names and bytes) or of the literal; a pipeline's step reuse
compares it. File digests are cached in this process by (path, size, mtime).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.command_jobs.runspec import LITERAL_TYPES, PATH_TYPES, ResolvedInput, ResolvedOutput
from batchpoint.common import expressions, refs
from batchpoint.common.text import shown
from batchpoint.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from batchpoint.services import Services

MODEL_TYPES = frozenset({"mlflow_model", "custom_model", "triton_model"})
_REMOTE = ("http://", "https://", "wasbs://", "abfss://", "s3://", "gs://")
_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


# -- content hashes --------------------------------------------------------------------------------
def _file_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    cached = _FILE_DIGESTS.get(key)
    if cached is not None:
        return cached
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
    digest = hasher.hexdigest()
    _FILE_DIGESTS[key] = digest
    return digest


def content_hash(path: Path) -> str:
    """sha256 over (relative name, content digest) of every regular file, sorted; a lone file by its name too."""
    hasher = hashlib.sha256()
    if path.is_file():
        hasher.update(f"file\0{path.name}\0{_file_digest(path)}\n".encode())
        return hasher.hexdigest()
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_file():
                rel = full.relative_to(path).as_posix()
                hasher.update(f"{rel}\0{_file_digest(full)}\n".encode())
    return hasher.hexdigest()


def literal_hash(text: str) -> str:
    return hashlib.sha256(f"literal\0{text}".encode()).hexdigest()


# -- inputs ----------------------------------------------------------------------------------------
def _port(declared: Mapping[str, Any] | None, name: str) -> Any:
    return (declared or {}).get(name)


def _port_attr(port: Any, attr: str, default: Any = None) -> Any:
    if port is None:
        return default
    if isinstance(port, Mapping):
        return port.get(attr, default)
    return getattr(port, attr, default)


def resolve_inputs(
    ctx: Services,
    raw: Mapping[str, Any],
    *,
    base_dir: Path | None,
    file: str | None,
    declared: Mapping[str, Any] | None,
    owner: str = "the job",
) -> dict[str, ResolvedInput]:
    """Every input given (and, with ``declared`` ports, every default); unset optional ones are left out."""
    out: dict[str, ResolvedInput] = {}
    if declared is not None:
        unknown = sorted(set(raw) - set(declared))
        if unknown:
            known = ", ".join(sorted(declared)) or "none"
            raise InvalidInput(
                f"{owner}: input '{unknown[0]}' is not declared (inputs: {known})",
                field=f"inputs.{unknown[0]}",
                file=file,
            )
    names = list(raw) + [n for n in (declared or {}) if n not in raw]
    for name in names:
        port = _port(declared, name)
        value = raw.get(name)
        field = f"inputs.{name}"
        if _unset(value):
            default = _port_attr(port, "default")
            if default is not None:
                value = default
            elif declared is not None and not _port_attr(port, "optional", False):
                raise InvalidInput(f"{owner}: input '{name}' is required and has no value", field=field, file=file)
            else:
                continue
        out[name] = resolve_input(ctx, value, port, base_dir=base_dir, file=file, field=field)
    return out


def _unset(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, Mapping):
        return all(value.get(k) is None for k in ("path", "value", "default"))
    return hasattr(value, "path") and getattr(value, "path", None) is None and getattr(value, "value", None) is None


def resolve_input(
    ctx: Services, value: Any, port: Any, *, base_dir: Path | None, file: str | None, field: str
) -> ResolvedInput:
    """One input: a literal, or a mapping/spec ``{type, path, mode}``, against its declared port (if any)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    declared_type = _port_attr(port, "type")
    if isinstance(value, Mapping):
        kind = str(value.get("type") or declared_type or "uri_folder")
        if kind in LITERAL_TYPES:
            literal = next((value[k] for k in ("value", "default", "path") if value.get(k) is not None), None)
            return _literal(literal, kind, port, field, file)
        path = value.get("path")
        if path is None:
            raise InvalidInput(f"input of type {kind} needs a 'path'", field=f"{field}.path", file=file)
        return _path_input(ctx, str(path), kind, base_dir=base_dir, file=file, field=f"{field}.path")
    kind = str(declared_type or literal_type(value))
    if kind in PATH_TYPES:
        return _path_input(ctx, str(value), kind, base_dir=base_dir, file=file, field=field)
    return _literal(value, kind, port, field, file)


def literal_type(value: Any) -> str:
    """The literal input type a YAML value is (``boolean`` before ``integer``: a bool is an int)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _literal(value: Any, kind: str, port: Any, field: str, file: str | None) -> ResolvedInput:
    if isinstance(value, Mapping | list):
        raise InvalidInput(f"expected a {kind} value, got a {type(value).__name__}", field=field, file=file)
    checked = _check_literal(value, kind, field, file)
    enum = _port_attr(port, "enum")
    if enum and str(checked) not in {str(e) for e in enum}:
        raise InvalidInput(
            f"'{shown(str(value))}' is not one of {', '.join(str(e) for e in enum)}", field=field, file=file
        )
    for bound, word, fails in (("min", "less", lambda a, b: a < b), ("max", "more", lambda a, b: a > b)):
        limit = _port_attr(port, bound)
        if limit is not None and isinstance(checked, int | float) and fails(checked, limit):
            raise InvalidInput(f"{checked} is {word} than the {bound}imum {limit}", field=field, file=file)
    text = expressions.literal_text(checked)
    return ResolvedInput(type=kind, value=text, content_hash=literal_hash(text))


def _check_literal(value: Any, kind: str, field: str, file: str | None) -> Any:
    try:
        if kind == "integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            return float(value) if not isinstance(value, int) else value
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            raise ValueError
    except (TypeError, ValueError):
        raise InvalidInput(
            f"expected {'an' if kind == 'integer' else 'a'} {kind}, got {value!r}", field=field, file=file
        ) from None
    return value if isinstance(value, str) else expressions.literal_text(value)


def _path_input(
    ctx: Services, value: str, kind: str, *, base_dir: Path | None, file: str | None, field: str
) -> ResolvedInput:
    if "\x00" in value:
        raise InvalidInput("path contains a NUL character", field=field, file=file)
    if value.startswith(_REMOTE):
        raise InvalidInput(
            f"remote input '{shown(value)}' is not supported; download it or register a datastore and use "
            "azureml://datastores/<name>/paths/<path>",
            field=field,
            file=file,
        )
    if value.startswith("azureml://datastores/"):
        local = Path(ctx.datastores.resolve_uri(value, field=field))
    elif value.startswith("azureml://"):
        raise InvalidInput(
            f"'{shown(value)}': only azureml://datastores/<name>/paths/<path> URIs and azureml:NAME:VERSION "
            "references are supported",
            field=field,
            file=file,
        )
    elif refs.is_reference(value):
        local = _asset_path(ctx, value, kind, field, file)
    else:
        given = value.removeprefix("file:")
        path = Path(given).expanduser()
        local = (path if path.is_absolute() else (base_dir or Path.cwd()) / path).resolve()
    if not local.exists():
        raise InvalidInput(f"input '{shown(value)}' does not exist ({local})", field=field, file=file)
    if kind == "uri_file" and not local.is_file():
        raise InvalidInput(f"input '{shown(value)}' is a folder; type uri_file expects a file", field=field, file=file)
    if kind == "uri_folder" and not local.is_dir():
        raise InvalidInput(
            f"input '{shown(value)}' is a file; type uri_folder expects a folder", field=field, file=file
        )
    return ResolvedInput(type=kind, uri=value, path=str(local), content_hash=content_hash(local))


def _asset_path(ctx: Services, value: str, kind: str, field: str, file: str | None) -> Path:
    if kind in MODEL_TYPES:
        model = ctx.models.resolve(value, field=field, file=file)
        return ctx.models.materialise(model) / model.path
    asset = ctx.data.resolve(value, field=field, file=file)
    target = asset.path
    if target.startswith("azureml://"):
        return Path(ctx.datastores.resolve_uri(target, field=field))
    return Path(target)


# -- outputs ---------------------------------------------------------------------------------------
def default_output(ctx: Services, job_name: str, output_name: str, port_type: str) -> ResolvedOutput:
    """``<default datastore>/azureml/<job>/<output>/`` (a ``uri_file`` output: the file ``<output>`` inside it)."""
    folder = ctx.layout.default_datastore / "azureml" / job_name / output_name
    path = folder / output_name if port_type == "uri_file" else folder
    return ResolvedOutput(type=port_type or "uri_folder", path=str(path.resolve()))


def resolve_output(
    ctx: Services, job_name: str, name: str, value: Any, *, base_dir: Path | None, file: str | None
) -> ResolvedOutput:
    """``outputs.<name>``: None or ``{type, mode}`` (the default place) or ``{type, path, mode}``."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    value = dict(value or {})
    kind = str(value.get("type") or "uri_folder")
    mode = str(value.get("mode") or "rw_mount")
    field = f"outputs.{name}.path"
    path = value.get("path")
    if path is None:
        return default_output(ctx, job_name, name, kind).model_copy(update={"mode": mode})
    path = str(path)
    if path.startswith("azureml://datastores/"):
        local = Path(ctx.datastores.resolve_uri(path, field=field))
    elif "://" in path or refs.is_reference(path):
        raise InvalidInput(
            f"'{shown(path)}': an output path is a local folder or azureml://datastores/<name>/paths/<path>",
            field=field,
            file=file,
        )
    else:
        given = Path(path.removeprefix("file:")).expanduser()
        local = (given if given.is_absolute() else (base_dir or Path.cwd()) / given).resolve()
    folder = local.parent if kind == "uri_file" else local
    _new_or_empty(folder if kind != "uri_file" else local, path, field, file)
    return ResolvedOutput(type=kind, path=str(local), mode=mode)


def _new_or_empty(target: Path, given: str, field: str, file: str | None) -> None:
    """An output is what the job wrote: never a folder of other data, and never overwrites."""
    if target.is_file():
        raise Conflict(f"output '{shown(given)}' already exists; a job never overwrites", field=field, file=file)
    if target.is_dir() and any(target.iterdir()):
        raise Conflict(
            f"output folder '{shown(given, 200)}' is not empty; a job writes into a new or empty folder",
            field=field,
            file=file,
        )
