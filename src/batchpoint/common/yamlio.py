"""Safe YAML loading with errors that name the file and the line.

Only the YAML safe schema is accepted: ``!!python/...`` and other unknown tags are refused, as are
duplicate keys, documents over 10 MiB and alias bombs (more than ``MAX_ALIASES`` alias uses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from batchpoint.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024
MAX_ALIASES = 200


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and counts alias uses."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (refused as a possible alias bomb)")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                duplicate = False
            if duplicate:
                mark = key_node.start_mark
                raise yaml.YAMLError(f"duplicate key '{key}' at line {mark.line + 1}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def loads(text: str, *, source: str = "<string>") -> Any:
    """Parse one YAML document; every failure is an ``InvalidInput`` naming ``source``."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InvalidInput(f"YAML document is larger than {MAX_BYTES // (1024 * 1024)} MiB", file=source)
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.constructor.ConstructorError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise InvalidInput(
            f"unsupported YAML tag{where}: {exc.problem}; only plain YAML is accepted (no !!python tags)",
            file=source,
        ) from None
    except yaml.MarkedYAMLError as exc:
        where = (
            f" at line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}" if exc.problem_mark else ""
        )
        raise InvalidInput(f"malformed YAML{where}: {exc.problem}", file=source) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"malformed YAML: {exc}", file=source) from None


def load_file(path: Path | str) -> dict[str, Any]:
    """Load a YAML file that must hold a mapping (the shape of every Azure ML spec file)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"file '{p}' does not exist", file=str(p))
    if p.stat().st_size > MAX_BYTES:
        raise InvalidInput(f"YAML file is larger than {MAX_BYTES // (1024 * 1024)} MiB", file=str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("file is not UTF-8 text", file=str(p)) from None
    data = loads(text, source=str(p))
    if data is None:
        raise InvalidInput("file is empty; expected a YAML mapping", file=str(p))
    if not isinstance(data, dict):
        raise InvalidInput(f"expected a YAML mapping at the top level, found {type(data).__name__}", file=str(p))
    return data


def dumps(data: Any) -> str:
    """Dump plain data as block-style YAML with keys in their given order."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
