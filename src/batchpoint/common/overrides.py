"""``--set key.path=value`` overrides, applied to a spec before validation (as ``az ml`` does)."""

from __future__ import annotations

import contextlib
from typing import Any

import yaml

from batchpoint.errors import InvalidInput


def parse_pairs(pairs: list[str] | None) -> list[tuple[str, Any]]:
    """Split ``key=value`` strings; values are YAML scalars (``3`` is an int, ``true`` a bool)."""
    result: list[tuple[str, Any]] = []
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"'{pair}' is not KEY=VALUE", field="--set")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, dict | list):
            value = raw  # a flow mapping typed on the command line stays a string unless it is JSON-like
            with contextlib.suppress(yaml.YAMLError):
                value = yaml.safe_load(raw)
        result.append((key, value))
    return result


def apply(data: dict[str, Any], pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Set each dotted key in ``data`` (creating mappings on the way); returns ``data``."""
    for key, value in pairs:
        parts = key.split(".")
        node: dict[str, Any] = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict):
                raise InvalidInput(f"cannot set '{key}': '{'.'.join(parts[: i + 1])}' is not a mapping", field="--set")
            node = child
        node[parts[-1]] = value
    return data
