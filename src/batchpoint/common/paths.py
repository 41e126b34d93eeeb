"""Path checks: every path derived from user input is resolved and checked against its root."""

from __future__ import annotations

from pathlib import Path

from batchpoint.errors import InvalidInput, UnsafePath


def resolve_relative(value: str, base_dir: Path | None, field: str, *, file: str | None = None) -> Path:
    """A path as written in a YAML file: relative paths are relative to the YAML file's folder."""
    if not isinstance(value, str) or not value:
        raise InvalidInput("expected a path", field=field, file=file)
    if "\x00" in value:
        raise UnsafePath("path contains a NUL character", field=field, file=file)
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return path.resolve()


def must_exist(path: Path, field: str, *, file: str | None = None, kind: str = "path") -> Path:
    if not path.exists():
        raise InvalidInput(f"{kind} '{path}' does not exist", field=field, file=file)
    return path


def within(root: Path, *parts: str, field: str = "path") -> Path:
    """Join ``parts`` under ``root`` and refuse anything that lands outside it (after symlinks)."""
    for part in parts:
        if "\x00" in part:
            raise UnsafePath("path contains a NUL character", field=field)
    root_resolved = root.resolve()
    candidate = root_resolved.joinpath(*parts).resolve()
    if candidate != root_resolved and root_resolved not in candidate.parents:
        raise UnsafePath(f"'{'/'.join(parts)}' points outside '{root_resolved}'", field=field)
    return candidate
