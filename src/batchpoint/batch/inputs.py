"""Resolve a job's input (path, glob, data asset, datastore URI) and list its files in a stable order.

Folders are walked depth first with entries sorted by name, one folder at a time, so listing a
million files never holds more than one folder's names in memory. Names starting with a dot
(``.DS_Store``, ``.ipynb_checkpoints``) are skipped; symbolic links to folders are not followed.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from batchpoint.common import refs
from batchpoint.errors import InvalidInput
from batchpoint.jobs.schemas import JobInput

if TYPE_CHECKING:
    from batchpoint.services import Services

_GLOB_CHARS = set("*?[")


def _local(value: str, input_type: str | None, field: str, original: str) -> JobInput:
    if _GLOB_CHARS & set(value):
        pattern = str(Path(value).expanduser().absolute())
        if input_type == "uri_file":
            raise InvalidInput(f"'{original}' is a glob; --input-type uri_file expects one file", field=field)
        return JobInput(type="uri_folder", path=original, resolved=pattern)
    path = Path(value).expanduser().resolve()
    if not path.exists():
        raise InvalidInput(f"input '{original}' does not exist", field=field)
    kind = "uri_file" if path.is_file() else "uri_folder"
    if input_type and input_type != kind:
        expected = "a file" if input_type == "uri_file" else "a folder"
        raise InvalidInput(f"input '{original}' is not {expected} (--input-type {input_type})", field=field)
    return JobInput(type=kind, path=original, resolved=str(path))


def resolve_input(ctx: Services, value: str | Path, input_type: str | None = None, *, field: str = "input") -> JobInput:
    """Turn what the user passed to ``--input`` into a local file, folder or glob to plan from."""
    original = str(value)
    if input_type not in (None, "uri_folder", "uri_file"):
        raise InvalidInput(f"unsupported input type '{input_type}'; use uri_folder or uri_file", field="input_type")
    if "\x00" in original:
        raise InvalidInput("input contains a NUL character", field=field)
    if original.startswith(("http://", "https://", "wasbs://", "abfss://", "s3://", "gs://")):
        raise InvalidInput(
            f"remote input '{original}' is not supported by the local datastore layer yet; "
            "download it or register a datastore and use azureml://datastores/<name>/paths/<path>",
            field=field,
        )
    if original.startswith("azureml://datastores/"):
        local = ctx.datastores.resolve_uri(original, field=field)
        return _local(str(local), input_type, field, original)
    if refs.is_reference(original):
        asset = ctx.data.resolve(original, field=field)
        target = asset.path
        if target.startswith("azureml://"):
            target = str(ctx.datastores.resolve_uri(target, field=field))
        return _local(target, input_type or asset.type, field, original)
    return _local(original, input_type, field, original)


def _walk(folder: str) -> Iterator[str]:
    try:
        with os.scandir(folder) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path)
        elif entry.is_file():
            yield entry.path


def iter_files(job_input: JobInput) -> Iterator[str]:
    """Every input file as an absolute path, in a stable order."""
    target = job_input.resolved
    if _GLOB_CHARS & set(target):
        for match in sorted(glob.iglob(target, recursive=True)):
            if os.path.isfile(match):
                yield os.path.abspath(match)
        return
    if os.path.isfile(target):
        yield target
        return
    yield from _walk(target)
