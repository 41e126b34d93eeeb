"""The fast DataFrame renderer writes exactly what ``DataFrame.to_csv`` writes, or steps aside."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchpoint.runtime import fastcsv, formatting
from batchpoint.runtime.fastcsv import dataframe_rows

SEPS = [",", " ", ";", "\t", "|"]
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
tricky_text = st.one_of(text, st.sampled_from(["", "a,b", 'say "hi"', "two\nlines", "cr\rhere", " lead", "x y", "é"]))
floats = st.floats(allow_nan=False, width=64) | st.sampled_from([0.1, 1e16, 1e-5, 123456789012345.0, -0.0, 2.5e-300])


def _column(kind: str, values: st.DataObject, n: int) -> Any:
    draw = values.draw
    if kind == "int64":
        return np.array(draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n)), dtype=np.int64)
    if kind == "uint8":
        return np.array(draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)), dtype=np.uint8)
    if kind == "bool":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "float64":
        return np.array(draw(st.lists(floats, min_size=n, max_size=n)), dtype=np.float64)
    if kind == "float64-nan":
        return np.array(draw(st.lists(floats | st.just(float("nan")), min_size=n, max_size=n)), dtype=np.float64)
    if kind == "float32":
        return np.array(draw(st.lists(st.floats(width=32, allow_nan=False), min_size=n, max_size=n)), dtype=np.float32)
    if kind == "str":
        return pd.array(draw(st.lists(tricky_text, min_size=n, max_size=n)), dtype="str")
    if kind == "str-missing":
        return pd.array(draw(st.lists(tricky_text | st.none(), min_size=n, max_size=n)), dtype="str")
    if kind == "object":
        items = st.one_of(tricky_text, st.integers(), floats, st.booleans())
        return np.array(draw(st.lists(items, min_size=n, max_size=n)), dtype=object)
    if kind == "object-missing":
        return np.array(draw(st.lists(tricky_text | st.none(), min_size=n, max_size=n)), dtype=object)
    if kind == "datetime":
        return pd.date_range("2026-01-01", periods=n, freq="37min")
    if kind == "category":
        return pd.Categorical(draw(st.lists(st.sampled_from(["a", "b,c"]), min_size=n, max_size=n)))
    raise AssertionError(kind)


PLAIN = ["int64", "uint8", "bool", "float64", "str", "object"]
OTHER = ["float64-nan", "float32", "str-missing", "object-missing", "datetime", "category"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(PLAIN + OTHER), min_size=1, max_size=4),
    n=st.integers(0, 6),
    sep=st.sampled_from(SEPS),
    data=st.data(),
)
def test_same_bytes_as_to_csv(kinds: list[str], n: int, sep: str, data: st.DataObject) -> None:
    df = pd.DataFrame({f"c{i}": _column(kind, data, n) for i, kind in enumerate(kinds)})
    kwargs = {"sep": sep, "index": False, "lineterminator": "\n"}
    expected = df.to_csv(header=False, **kwargs)
    fast = dataframe_rows(df, sep)
    if fast is not None:
        assert fast == expected
        # Both writers behind the fast path, each on its own.
        columns = [df.iloc[:, i] for i in range(df.shape[1])]
        assert fastcsv._csv_rows(columns, sep) == expected
        arrow = fastcsv._arrow_rows(df, columns, sep)
        assert arrow is None or arrow == expected
    assert formatting._dataframe_body(df, kwargs) == expected


@pytest.mark.parametrize("kind", PLAIN)
def test_plain_columns_take_the_fast_path(kind: str) -> None:
    @given(data=st.data())
    @settings(max_examples=20, deadline=None)
    def check(data: st.DataObject) -> None:
        df = pd.DataFrame({"file": pd.array(["a.csv", "b,c.csv", 'q"d'], dtype="str"), "v": _column(kind, data, 3)})
        assert dataframe_rows(df, ",") == df.to_csv(header=False, index=False, lineterminator="\n")

    check()


@pytest.mark.parametrize("kind", OTHER)
def test_other_columns_fall_back_to_pandas(kind: str) -> None:
    @given(data=st.data())
    @settings(max_examples=10, deadline=None)
    def check(data: st.DataObject) -> None:
        column = _column(kind, data, 4)
        if kind.endswith(("nan", "missing")):
            column[0] = None if kind.endswith("missing") else np.nan
        df = pd.DataFrame({"v": column})
        if kind == "float32" or df["v"].hasnans or kind in ("datetime", "category"):
            assert dataframe_rows(df, ",") is None

    check()


def test_custom_to_csv_arguments_use_pandas() -> None:
    df = pd.DataFrame({"a": [1.25, 2.0]})
    header, body = formatting.render(df, "csv", {"float_format": "%.1f"})
    assert header == "a" and body == "1.2\n2.0\n"


def test_a_typical_scoring_result_is_rendered_exactly() -> None:
    rng = np.random.default_rng(0)
    files = np.repeat([f"file-{i:05d}.csv" for i in range(4)], 5000)
    df = pd.DataFrame({"file": files, "prediction": rng.integers(0, 2, 20000), "score": rng.random(20000)})
    assert dataframe_rows(df, ",") is not None
    columns = [df.iloc[:, i] for i in range(2)]
    assert fastcsv._arrow_rows(df[["file", "prediction"]], columns, ",") is not None  # the fastest writer
    assert formatting.render(df, "csv", {}) == (
        "file,prediction,score",
        df.to_csv(header=False, index=False, lineterminator="\n"),
    )
