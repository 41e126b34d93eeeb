from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from batchpoint.runtime import formatting
from batchpoint.runtime.results import PartialResult


def test_dataframe_csv_has_header_separately() -> None:
    df = pd.DataFrame({"file": ["a.csv", "b,c.csv"], "p": [0.5, 1.0]})
    header, body = formatting.render(df, "csv", {})
    assert header == "file,p"
    assert body == 'a.csv,0.5\n"b,c.csv",1.0\n'


def test_dataframe_txt_is_space_separated_without_header() -> None:
    header, body = formatting.render(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "txt", {})
    assert header is None and body == "1 x\n2 y\n"


def test_to_csv_settings_apply() -> None:
    df = pd.DataFrame({"a": [1.25]})
    header, body = formatting.render(df, "csv", {"sep": ";", "float_format": "%.1f", "header": False})
    assert header is None and body == "1.2\n"


def test_list_items() -> None:
    assert formatting.render(["a", "b,c"], "csv", {}) == (None, 'a\n"b,c"\n')
    assert formatting.render([("f.csv", 1), ["g.csv", 2]], "csv", {}) == (None, "f.csv,1\ng.csv,2\n")
    assert formatting.render([{"k": 1, "v": 2}], "csv", {}) == (None, "1,2\n")
    assert formatting.render([("f.csv", 1)], "txt", {}) == (None, "f.csv 1\n")
    assert formatting.render(np.array([[1, 2], [3, 4]]), "csv", {}) == (None, "1,2\n3,4\n")
    assert formatting.render(pd.Series([1, 2]), "csv", {}) == (None, "1\n2\n")


def test_counting_what_run_returned() -> None:
    assert formatting.count_results(pd.DataFrame({"a": [1, 2, 3]})) == 3
    assert formatting.count_results(np.zeros((4, 2))) == 4
    assert formatting.count_results([1, 2]) == 2
    assert formatting.count_results(None) == 0
    assert formatting.materialise(x for x in range(3)) == [0, 1, 2]
    assert isinstance(PartialResult([1]).failed, list)


def test_output_kind_and_settings_file(tmp_path: Path) -> None:
    assert formatting.output_kind("predictions.TXT") == "txt"
    assert formatting.output_kind("predictions.csv") == "csv"
    (tmp_path / "parallel_run_step.settings.json").write_text(
        json.dumps({"append_row": {"pandas.DataFrame.to_csv": {"sep": "|", "path_or_buf": "x"}}})
    )
    assert formatting.load_to_csv_settings(str(tmp_path)) == {"sep": "|"}
    assert formatting.load_to_csv_settings(None) == {}


def test_write_part_is_atomic(tmp_path: Path) -> None:
    part = tmp_path / "0.part"
    size = formatting.write_part(str(part), "h", "1\n")
    assert part.read_bytes() == b'{"header": "h"}\n1\n' and size == len(part.read_bytes())
    assert not (tmp_path / "0.part.tmp").exists()
