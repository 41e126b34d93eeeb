"""Part files are written where user code runs: the merge never follows a link planted among them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from batchpoint.batch import merge


def _part(path: Path, rows: str) -> Path:
    path.write_text(json.dumps({"header": "key,value"}) + "\n" + rows)
    return path


def test_a_linked_part_is_reported_as_damaged_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text('{"header": "x"}\nroot-only line\n')
    good = _part(tmp_path / "0000000000.a.part", "a,1\n")
    planted = tmp_path / "0000000001.b.part"
    os.symlink(secret, planted)
    size = secret.stat().st_size
    assert merge.check_parts([(0, str(good), good.stat().st_size), (1, str(planted), size)]) == [1]
    with pytest.raises((OSError, merge.PartProblem)):
        merge.merge_parts([str(good), str(planted)], tmp_path / "out" / "predictions.csv")
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_regular_parts_merge_in_order(tmp_path: Path) -> None:
    parts = [_part(tmp_path / f"{i:010d}.t.part", f"k{i},{i}\n") for i in range(3)]
    target = tmp_path / "predictions.csv"
    merge.merge_parts([str(p) for p in parts], target)
    assert target.read_text() == "key,value\nk0,0\nk1,1\nk2,2\n"
