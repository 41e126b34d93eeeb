"""How the results of ``run(mini_batch)`` become rows of the append_row output file.

Two formats, chosen by the output file name:

* ``.csv`` (and any name not ending in ``.txt``): real CSV. A DataFrame is written with
  ``DataFrame.to_csv`` and its header appears once at the top of the merged file; list items are
  written one per line (a list/tuple item becomes one CSV row of its fields, a dict item one row of
  its values, anything else one single-field row). ``parallel_run_step.settings.json`` in the code
  folder may set the ``to_csv`` arguments (``{"append_row": {"pandas.DataFrame.to_csv": {...}}}``).
* ``.txt``: Azure's legacy format — fields separated by one space, no header.

A part file holds one attempt's rows: a first line of JSON metadata (``{"header": "..."}``) and
then the formatted rows, so merging is a byte copy.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from batchpoint.runtime.fastcsv import dataframe_rows

_FORBIDDEN_TO_CSV = {"path_or_buf", "mode", "header", "compression"}
# to_csv arguments the fast path reproduces; any other one (float_format, na_rep, quoting...) means pandas.
_FAST_PATH_ARGS = {"sep", "index", "lineterminator"}


def output_kind(output_file_name: str) -> str:
    return "txt" if output_file_name.lower().endswith(".txt") else "csv"


def load_to_csv_settings(code_dir: str | None) -> dict[str, Any]:
    """The ``to_csv`` keyword arguments from ``parallel_run_step.settings.json``, if the code has one."""
    if not code_dir:
        return {}
    import os

    path = os.path.join(code_dir, "parallel_run_step.settings.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    kwargs = (data.get("append_row") or {}).get("pandas.DataFrame.to_csv") or {}
    return {k: v for k, v in kwargs.items() if k not in {"path_or_buf", "mode", "compression"}}


def count_results(result: Any) -> int:
    """How many successful items ``run`` reported (the length of what it returned)."""
    if result is None:
        return 0
    if hasattr(result, "shape") and hasattr(result, "columns"):  # DataFrame
        return int(result.shape[0])
    if hasattr(result, "shape"):  # ndarray
        return int(result.shape[0]) if result.shape else 1
    try:
        return len(result)
    except TypeError:
        return 1


def without_length(result: Any) -> str | None:
    """The type name of what ``run`` returned when it is no collection of results (None, a number, an
    object), else None: such a value cannot say which inputs were scored, so none of them counts."""
    if result is None:
        return "None"
    if hasattr(result, "shape"):  # DataFrame, ndarray
        return None
    try:
        len(result)
    except TypeError:
        return type(result).__name__
    return None


def materialise(result: Any) -> Any:
    """Generators (a ``run`` that yields) are drained into a list."""
    if result is None or isinstance(result, list | tuple | dict | str | bytes):
        return result
    if hasattr(result, "shape"):
        return result
    if hasattr(result, "__iter__") and not hasattr(result, "__len__"):
        return list(result)
    return result


def _dataframe(df: Any, kind: str, to_csv: dict[str, Any]) -> tuple[str | None, str]:
    if kind == "txt":
        return None, _dataframe_body(df, {"sep": " ", "index": False, "lineterminator": "\n"})
    kwargs = {"index": False, "lineterminator": "\n", **{k: v for k, v in to_csv.items() if k not in _FORBIDDEN_TO_CSV}}
    want_header = to_csv.get("header", True)
    header = None
    if want_header is not False:
        header = df.head(0).to_csv(header=want_header, **kwargs).rstrip("\n")
    return header, _dataframe_body(df, kwargs)


def _dataframe_body(df: Any, kwargs: dict[str, Any]) -> str:
    """``df.to_csv(header=False, **kwargs)``, through the fast path when the arguments are the defaults."""
    if kwargs.keys() <= _FAST_PATH_ARGS and kwargs["index"] is False and kwargs["lineterminator"] == "\n":
        body = dataframe_rows(df, kwargs.get("sep", ","))
        if body is not None:
            return body
    return str(df.to_csv(header=False, **kwargs))


def _items(items: Any, kind: str, to_csv: dict[str, Any]) -> str:
    if hasattr(items, "tolist"):
        items = items.tolist()
    if isinstance(items, dict):
        items = list(items.items())
    out = io.StringIO()
    if kind == "txt":
        for item in items:
            if isinstance(item, list | tuple):
                out.write(" ".join(str(v) for v in item) + "\n")
            else:
                out.write(f"{item}\n")
        return out.getvalue()
    writer = csv.writer(out, delimiter=to_csv.get("sep", ","), lineterminator="\n")
    for item in items:
        if hasattr(item, "tolist"):
            item = item.tolist()
        if isinstance(item, list | tuple):
            writer.writerow(item)
        elif isinstance(item, dict):
            writer.writerow(item.values())
        else:
            writer.writerow([item])
    return out.getvalue()


def render(result: Any, kind: str, to_csv: dict[str, Any]) -> tuple[str | None, str]:
    """(header line or None, body text) for one attempt's result."""
    if result is None:
        return None, ""
    if hasattr(result, "columns") and hasattr(result, "to_csv"):
        return _dataframe(result, kind, to_csv)
    if hasattr(result, "to_list") and hasattr(result, "index"):  # pandas Series
        result = result.to_list()
    if isinstance(result, str | bytes):
        result = [result]
    return None, _items(result, kind, to_csv)


def write_part(path: str, header: str | None, body: str) -> int:
    """Write a part file atomically (temp name, then rename); returns its size in bytes."""
    import os

    tmp = path + ".tmp"
    data = (json.dumps({"header": header}) + "\n" + body).encode("utf-8")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return len(data)
