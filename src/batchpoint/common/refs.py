"""Asset references as Azure ML writes them.

Accepted forms: ``azureml:NAME:VERSION``, ``azureml:NAME@latest``, ``NAME:VERSION``, ``NAME@latest``
and, where a version is optional (computes), ``azureml:NAME`` / ``NAME``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from batchpoint.common import names
from batchpoint.errors import InvalidInput, NotFound

T = TypeVar("T")

_REF = re.compile(
    r"^(?:azureml:)?(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:(?::(?P<version>[^:@/\\]+))|(?:@(?P<label>[a-z]+)))?$"
)


@dataclass(frozen=True)
class AssetRef:
    """A parsed reference; ``version`` None means the latest version."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return f"azureml:{self.name}:{self.version}" if self.version else f"azureml:{self.name}@latest"


def is_reference(value: str) -> bool:
    """True when ``value`` is written as a registry reference rather than a path."""
    return value.startswith("azureml:") and not value.startswith("azureml://")


def parse(value: object, field: str, *, version_required: bool = False) -> AssetRef:
    """Parse a reference string; errors name the field and the accepted forms."""
    if not isinstance(value, str) or not value:
        raise InvalidInput("expected a reference such as 'azureml:NAME:VERSION' or 'azureml:NAME@latest'", field=field)
    if value.startswith("azureml://"):
        raise InvalidInput(
            f"'{value}': registry and workspace URIs are not supported here; register the asset in this "
            "workspace and use 'azureml:NAME:VERSION' or 'azureml:NAME@latest'",
            field=field,
        )
    match = _REF.match(value)
    if not match:
        raise InvalidInput(
            f"'{value}' is not a valid reference; use 'azureml:NAME:VERSION', 'azureml:NAME@latest', "
            "'NAME:VERSION' or 'NAME@latest'",
            field=field,
        )
    label = match.group("label")
    if label is not None and label != "latest":
        raise InvalidInput(f"unknown label '@{label}' in '{value}'; only '@latest' is supported", field=field)
    ver = match.group("version")
    if ver is None and label is None and version_required:
        raise InvalidInput(f"'{value}' names no version; add ':VERSION' or '@latest'", field=field)
    name = names.asset_name(match.group("name"), field)
    return AssetRef(name=name, version=names.version(ver, field) if ver else None)


def lookup(get: Callable[[str, str | None], T], ref: str, field: str, file: str | None) -> T:
    """``get(name, version)`` of the asset ``ref`` names, its errors naming ``ref``, the field and the file."""
    try:
        parsed = parse(ref, field)
        return get(parsed.name, parsed.version)
    except NotFound as exc:
        raise NotFound(f"'{ref}': {exc.message}", field=field, file=file, hint=exc.hint) from None
    except InvalidInput as exc:
        if file and not exc.file:
            exc.file = file
        raise
