"""Rendering plain pandas DataFrames as CSV rows about twice as fast as ``DataFrame.to_csv``.

``to_csv`` converts every block of the frame to "native types" in Python-level chunks before it
hands the rows to the ``csv`` module; for the typical result of a scoring script (a file-name
column and a prediction column) that conversion is half of the cost, and it is paid for every
mini-batch. The rows pandas writes for the column types below are exactly what the ``csv`` module
writes for the values of ``Series.tolist()`` (pandas uses the same writer with the same dialect),
so those frames go straight to ``csv.writer``. Anything else (missing values, float32, dates,
categories, custom ``to_csv`` arguments) returns ``None`` and the caller uses ``to_csv`` itself.
The unit tests compare both byte for byte over generated frames.

Standard library only, like the rest of the worker runtime: the frame is inspected by duck typing.
"""

from __future__ import annotations

import csv
import io
import sys
from typing import Any

# numpy dtype kinds whose values ``tolist()`` turns into Python objects that print as pandas prints
# them: signed and unsigned integers, booleans, and objects (written by the same csv writer).
_PLAIN_KINDS = frozenset("iubO")
# pandas' own string dtypes ("str" is the default for text from pandas 3 on).
_STRING_DTYPES = frozenset({"str", "string"})


def _is_pandas_frame(df: Any) -> bool:
    return type(df).__module__.split(".", 1)[0] == "pandas" and hasattr(df, "iloc") and hasattr(df, "dtypes")


def _is_numpy(dtype: Any) -> bool:
    return type(dtype).__module__.split(".", 1)[0] == "numpy"


def _plain(column: Any) -> bool:
    """Whether ``to_csv`` prints this column's values exactly as the ``csv`` module prints them."""
    if column.hasnans:  # pandas writes missing values as ``na_rep``; tolist() keeps nan/None/NA
        return False
    dtype = column.dtype
    if _is_numpy(dtype):
        # Integers, booleans and objects (pandas hands objects to the same csv writer as they are);
        # float64 through numpy's shortest repr, which is Python's float repr (float32's is not).
        return bool(dtype.kind in _PLAIN_KINDS or (dtype.kind == "f" and dtype.itemsize == 8))
    return getattr(dtype, "name", None) in _STRING_DTYPES


def dataframe_rows(df: Any, sep: str) -> str | None:
    """The body ``df.to_csv(sep=sep, header=False, index=False, lineterminator="\\n")`` would write.

    ``None`` when the frame has a column this fast path does not cover exactly.
    """
    if not _is_pandas_frame(df) or len(sep) != 1 or df.shape[1] == 0:
        return None
    columns = [df.iloc[:, i] for i in range(df.shape[1])]
    if not all(_plain(column) for column in columns):
        return None
    rows = _arrow_rows(df, columns, sep)
    return rows if rows is not None else _csv_rows(columns, sep)


def _csv_rows(columns: list[Any], sep: str) -> str:
    out = io.StringIO()
    values = [column.tolist() for column in columns]
    csv.writer(out, delimiter=sep, lineterminator="\n").writerows(zip(*values, strict=True))
    return out.getvalue()


def _arrow_kind(column: Any) -> bool:
    dtype = column.dtype
    if _is_numpy(dtype):
        return bool(dtype.kind in "iu")  # Arrow prints floats and booleans differently from pandas
    return getattr(dtype, "name", None) in _STRING_DTYPES


def _arrow_rows(df: Any, columns: list[Any], sep: str) -> str | None:
    """Arrow's C++ CSV writer, five times faster again, for integer and text columns without quoting.

    Only when pandas has already imported pyarrow (no import cost, no new dependency). With quoting
    off Arrow refuses a value that would need quotes (a separator, quote or line break in it), and
    the ``csv`` module then writes the rows with the quotes pandas would add. A lone empty text
    field is quoted by the ``csv`` module (``""``) but not by Arrow, so one-column text is left out.
    """
    pa = sys.modules.get("pyarrow")
    if pa is None or sep in '\r\n"':
        return None
    if not all(_arrow_kind(column) for column in columns):
        return None
    if len(columns) == 1 and columns[0].dtype.kind not in "iu":
        return None
    try:
        import pyarrow.csv as pa_csv

        table = pa.Table.from_pandas(df, preserve_index=False)
        sink = io.BytesIO()
        options = pa_csv.WriteOptions(include_header=False, delimiter=sep, quoting_style="none")
        pa_csv.write_csv(table, sink, options)
        return sink.getvalue().decode("utf-8")
    except Exception:  # a value that needs quoting, or anything else Arrow declines
        return None
