"""Output like ``az``: ``-o table|json|yaml|tsv`` and ``--query`` (JMESPath) over the JSON form."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from batchpoint.errors import InvalidInput

if TYPE_CHECKING:
    from rich.table import Table

# jmespath, pydantic, rich and yaml are imported where they are used: every command module imports
# this one for ``OutputFormat`` at start-up, and a ``-o json`` answer needs none of them.


JOB_COLUMNS = ["name", "status", "endpoint_name", "deployment_name", "created_at", "duration_seconds", "message"]
"""The columns of a job in ``-o table`` (``job show``, ``job list``, ``list-jobs``)."""


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    tsv = "tsv"


def to_plain(obj: Any) -> Any:
    """Pydantic objects (and lists of them) to JSON-compatible data."""
    from pydantic import BaseModel

    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", exclude_none=False)
    if isinstance(obj, list | tuple):
        return [to_plain(o) for o in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def _tsv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _tsv(data: Any) -> str:
    rows: list[str] = []
    items = data if isinstance(data, list) else [data]
    for item in items:
        if isinstance(item, dict):
            rows.append("\t".join(_tsv_value(v) for v in item.values() if not isinstance(v, dict | list)))
        elif isinstance(item, list):
            rows.append("\t".join(_tsv_value(v) for v in item))
        else:
            rows.append(_tsv_value(item))
    return "\n".join(rows)


def _table(data: Any, columns: Sequence[str] | None) -> Table:
    from rich.table import Table

    items = data if isinstance(data, list) else [data]
    table = Table(show_lines=False, header_style="bold")
    if items and all(isinstance(i, dict) for i in items):
        cols = list(columns or [k for k, v in items[0].items() if not isinstance(v, dict | list)])
        for col in cols:
            table.add_column(col)
        for item in items:
            table.add_row(*[_tsv_value(item.get(c)) for c in cols])
    else:
        table.add_column("Result")
        for item in items:
            table.add_row(_tsv_value(item))
    return table


def emit(
    obj: Any,
    output: OutputFormat | str | None = OutputFormat.json,
    query: str | None = None,
    *,
    columns: Sequence[str] | None = None,
) -> None:
    """Print ``obj`` in the requested format after applying ``query``."""
    data = to_plain(obj)
    if query:
        import jmespath

        try:
            data = jmespath.search(query, data)
        except jmespath.exceptions.JMESPathError as exc:
            raise InvalidInput(f"invalid JMESPath query '{query}': {exc}", field="--query") from None
    fmt = OutputFormat(output or OutputFormat.json)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif fmt is OutputFormat.yaml:
        from batchpoint.common import yamlio

        sys.stdout.write(yamlio.dumps(data))
    elif fmt is OutputFormat.tsv:
        text = _tsv(data)
        sys.stdout.write(text + ("\n" if text else ""))
    else:
        from rich.console import Console

        Console().print(_table(data, None if query else columns))
