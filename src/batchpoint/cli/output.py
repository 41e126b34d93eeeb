"""Output like ``az``: ``-o json|jsonc|none|table|tsv|yaml`` and ``--query`` (JMESPath) over the JSON form.

``-o none`` prints nothing (errors still go to stderr); ``-o jsonc`` is JSON in colour when stdout is
a terminal and ``NO_COLOR`` is not set, plain JSON otherwise. ``-o table`` never cuts a value that
a user copies into the next command (names, versions, states: ``KEEP``): those columns are as wide
as their longest value, the other columns wrap (free text is cut at ``PROSE_LIMIT`` characters), and
a table that cannot fit the terminal is printed wider than it (the terminal wraps the lines).
"""

from __future__ import annotations

import json
import os
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


KEEP = frozenset({"name", "id", "version", "latest_version", "status", "state", "provisioning_state", "type"})
"""Columns of ``-o table`` that are never cut (and every column whose name ends in ``_name``)."""
OTHER_MIN_WIDTH = 16
"""The narrowest a column that may wrap is made, when the table is too wide for the terminal."""
PROSE = frozenset({"description", "message"})
"""Free-text columns of ``-o table``, cut at ``PROSE_LIMIT`` characters (``show`` prints them whole)."""
PROSE_LIMIT = 100


class OutputFormat(StrEnum):
    json = "json"
    jsonc = "jsonc"
    none = "none"
    table = "table"
    tsv = "tsv"
    yaml = "yaml"


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


def keep_whole(column: str) -> bool:
    """Whether ``-o table`` shows every character of the column's values (see ``KEEP``)."""
    return column in KEEP or column.endswith("_name")


def _rows(data: Any, columns: Sequence[str] | None) -> tuple[list[str], list[list[str]], bool]:
    """(headers, cells, whether every column is kept whole) of the table of ``data``."""
    items = data if isinstance(data, list) else [data]
    if items and all(isinstance(i, dict) for i in items):
        cols = list(columns or [k for k, v in items[0].items() if not isinstance(v, dict | list)])
        return cols, [[_cell(c, item.get(c)) for c in cols] for item in items], False
    if items and all(isinstance(i, list) for i in items):  # a query such as [].[name, version]
        width = max(len(i) for i in items)
        cols = [f"Column{n + 1}" for n in range(width)]
        return cols, [[_tsv_value(v) for v in i] + [""] * (width - len(i)) for i in items], True
    return ["Result"], [[_tsv_value(item)] for item in items], True


def _cell(column: str, value: Any) -> str:
    text = _tsv_value(value)
    if column in PROSE and len(text) > PROSE_LIMIT:
        return " ".join(text[: PROSE_LIMIT - 1].split()) + "…"
    return text


def _table(data: Any, columns: Sequence[str] | None) -> tuple[Table, int]:
    """The table, and the width it needs so that no kept column is cut."""
    from rich.table import Table

    headers, cells, keep_all = _rows(data, columns)
    table = Table(show_lines=False, header_style="bold")
    needed = len(headers) + 1  # the vertical borders
    for index, header in enumerate(headers):
        longest = max([len(header), *(len(row[index]) for row in cells)])
        if keep_all or keep_whole(header):
            table.add_column(header, no_wrap=True, min_width=longest)
            needed += longest + 2
        else:
            table.add_column(header, overflow="fold")
            needed += min(longest, OTHER_MIN_WIDTH) + 2
    for row in cells:
        table.add_row(*row)
    return table, needed


def _color_json() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


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
    if fmt is OutputFormat.none:
        return
    if fmt is OutputFormat.jsonc and _color_json():
        from rich.console import Console
        from rich.json import JSON

        Console(soft_wrap=True).print(JSON(json.dumps(data, default=str), indent=2))
    elif fmt in (OutputFormat.json, OutputFormat.jsonc):
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif fmt is OutputFormat.yaml:
        from batchpoint.common import yamlio

        sys.stdout.write(yamlio.dumps(data))
    elif fmt is OutputFormat.tsv:
        text = _tsv(data)
        sys.stdout.write(text + ("\n" if text else ""))
    elif data != []:  # as az: an empty list is no table at all
        from rich.console import Console

        table, needed = _table(data, None if query else columns)
        console = Console()
        if console.width < needed:
            console = Console(width=needed)
        console.print(table)
