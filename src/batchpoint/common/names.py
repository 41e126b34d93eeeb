"""Name rules. Every name that becomes part of a path is checked here before any file is touched.

Messages show at most the first 80 characters of a refused value: a 100 KB name must not come back whole.
"""

from __future__ import annotations

import re

from batchpoint.common.text import shown
from batchpoint.errors import InvalidInput, UnsafePath

# Azure ML endpoint and deployment names: 3-32 characters, a letter first, no dash last.
ENDPOINT_NAME = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
# Asset names (models, environments, data, computes): letters, digits, '-', '_', '.'; a letter or digit first.
ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
MAX_ASSET_NAME = 255


def _refuse_unsafe(value: str, field: str) -> None:
    if "\x00" in value:
        raise UnsafePath("contains a NUL character", field=field)
    if "/" in value or "\\" in value:
        raise UnsafePath(f"'{shown(value)}' contains a path separator", field=field)
    if value in (".", "..") or ".." in value:
        raise UnsafePath(f"'{shown(value)}' contains '..'", field=field)


def endpoint_name(value: object, field: str = "name") -> str:
    """Validate an endpoint or deployment name by Azure's rules."""
    if not isinstance(value, str) or not value:
        raise InvalidInput("a name is required (3-32 letters, digits or dashes)", field=field)
    _refuse_unsafe(value, field)
    if not 3 <= len(value) <= 32 or not ENDPOINT_NAME.match(value):
        raise InvalidInput(
            f"invalid name '{shown(value)}': use 3-32 characters, letters, digits and dashes, "
            "starting with a letter and not ending with a dash",
            field=field,
        )
    return value


def asset_name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("a name is required", field=field)
    _refuse_unsafe(value, field)
    if len(value) > MAX_ASSET_NAME or not ASSET_NAME.match(value):
        raise InvalidInput(
            f"invalid name '{shown(value)}': use up to {MAX_ASSET_NAME} letters, digits, '-', '_' or '.', "
            "starting with a letter or digit",
            field=field,
        )
    return value


def version(value: object, field: str = "version") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise InvalidInput("a version is required", field=field)
    _refuse_unsafe(value, field)
    if len(value) > 64 or not VERSION.match(value):
        raise InvalidInput(
            f"invalid version '{shown(value)}': use up to 64 letters, digits, '-', '_' or '.'", field=field
        )
    return value


def job_name(value: object, field: str = "job_name") -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("a job name is required", field=field)
    _refuse_unsafe(value, field)
    if len(value) > 128 or not JOB_NAME.match(value):
        raise InvalidInput(f"invalid job name '{shown(value)}': use up to 128 letters, digits, '-' or '_'", field=field)
    return value


def file_name(value: object, field: str) -> str:
    """A bare file name (an output file name, say): no folders, no traversal."""
    if not isinstance(value, str) or not value:
        raise InvalidInput("a file name is required", field=field)
    _refuse_unsafe(value, field)
    if len(value) > 255 or value.startswith("."):
        raise InvalidInput(f"invalid file name '{shown(value)}'", field=field)
    return value
