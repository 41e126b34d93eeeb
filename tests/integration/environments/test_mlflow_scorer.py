"""The built-in MLflow scorer in process: readers, signatures, output columns and per-file messages.

The models are pyfunc models with a small loader module (no pickling), saved at test time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")
pytestmark = pytest.mark.filterwarnings("ignore:.*input example was not provided")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from batchpoint.runtime import formatting, mlflow_scorer  # noqa: E402
from batchpoint.runtime.results import PartialResult  # noqa: E402

LOADER = """
import numpy as np
import pandas as pd


class Model:
    def __init__(self, kind):
        self.kind = kind

    def predict(self, data, params=None):
        if self.kind == "image":
            return np.array([[float(data.mean()), float(data.shape[1])]])
        if self.kind == "frame":
            return pd.DataFrame({"total": data.sum(axis=1).to_numpy(), "row": ["r"] * len(data)})
        if self.kind == "proba":
            return np.stack([data["x"].to_numpy(), 1 - data["x"].to_numpy()], axis=1)
        return data["n"].to_numpy() * 2


def _load_pyfunc(path):
    with open(path) as fh:
        return Model(fh.read().strip())
"""


def _save(tmp_path: Path, kind: str, signature: Any) -> Path:
    import mlflow.pyfunc

    base = tmp_path / f"model-{kind}"
    base.mkdir()
    (tmp_path / "kind.txt").write_text(kind)
    (tmp_path / "bp_test_loader.py").write_text(LOADER)
    mlflow.pyfunc.save_model(
        path=str(base / "model"),
        loader_module="bp_test_loader",
        data_path=str(tmp_path / "kind.txt"),
        code_paths=[str(tmp_path / "bp_test_loader.py")],
        signature=signature,
        pip_requirements=["numpy", "pandas"],
    )
    return base


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def _load(kind: str, signature: Any) -> None:
        monkeypatch.setenv("AZUREML_MODEL_DIR", str(_save(tmp_path, kind, signature)))
        monkeypatch.setenv(mlflow_scorer.INPUT_ROOT_VARIABLE, str(tmp_path / "in"))
        mlflow_scorer.init()

    (tmp_path / "in").mkdir()
    return _load


def _columns(*specs: tuple[str, str]) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(inputs=Schema([ColSpec(t, n) for t, n in specs]))


def _run(tmp_path: Path, files: dict[str, Any]) -> PartialResult:
    paths = []
    for name, content in files.items():
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        paths.append(str(path))
    result = mlflow_scorer.run(paths)
    assert isinstance(result, PartialResult)
    return result


def _messages(result: PartialResult) -> dict[str, str]:
    return {Path(f["file"]).name: f"{f['exception']}: {f['message']}" for f in result.failed}


def test_integer_columns_want_whole_numbers_and_rows_are_named(tmp_path: Path, load: Any) -> None:
    load("double", _columns(("long", "n"), ("double", "x")))
    result = _run(
        tmp_path,
        {
            "good.csv": "n,x,extra\n1,0.5,a\n2,1.5,b\n",
            "fraction.csv": "n,x\n1,0.5\n2.5,1\n",
            "empty.csv": "n,x\n,0.5\n",
            "words.csv": "x,n\n1,one\n2,two\n3,three\n4,four\n5,five\n",
            "header-only.csv": "n,x\n",
        },
    )
    assert _messages(result) == {
        "fraction.csv": "SchemaMismatch: column 'n' expects long (whole) numbers: row 1 (line 3) has 2.5",
        "empty.csv": "SchemaMismatch: column 'n' expects long numbers: row 0 (line 2) is empty",
        "words.csv": "SchemaMismatch: column 'n' expects long numbers: row 0 (line 2) has 'one', row 1 (line 3) has "
        "'two', row 2 (line 4) has 'three' and 2 more row(s)",
    }
    assert result.rows.to_dict("list") == {"file": ["good.csv", "good.csv"], "row": [0, 1], "prediction": [2, 4]}


def test_dataframe_predictions_become_columns_and_json_records_are_read(tmp_path: Path, load: Any) -> None:
    load("frame", _columns(("double", "a"), ("double", "b")))
    records = [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    result = _run(
        tmp_path,
        {
            "r.json": json.dumps(records),
            "sub/s.json": json.dumps({"dataframe_split": {"columns": ["b", "a"], "data": [[1, 1]]}}),
            "l.jsonl": "\n".join(json.dumps(r) for r in records) + "\n",
            "bad.jsonl": '{"a": 1, "b": 2}\n{"a": \n',
        },
    )
    assert _messages(result) == {
        "bad.jsonl": "UnreadableFile: line 2 is not JSON: Expecting value: line 1 column 7 (char 6)"
    }
    frame = result.rows
    assert list(frame.columns) == ["file", "row", "total", "output_row"]
    assert frame[["file", "row", "total"]].values.tolist() == [
        ["r.json", 0, 3.0], ["r.json", 1, 7.0], ["sub/s.json", 0, 2.0], ["l.jsonl", 0, 3.0], ["l.jsonl", 1, 7.0],
    ]  # fmt: skip
    header, body = formatting.render(frame, "csv", {})
    assert header == "file,row,total,output_row" and body.splitlines()[2] == "sub/s.json,0,2.0,r"


def test_array_predictions_per_row_are_json(tmp_path: Path, load: Any) -> None:
    load("proba", _columns(("double", "x")))
    result = _run(tmp_path, {"p.csv": "x\n0.25\n1\n"})
    assert result.failed == []
    assert result.rows["prediction"].tolist() == ["[0.25, 0.75]", "[1.0, 0.0]"]


def test_images_are_reshaped_to_a_tensor_signature(tmp_path: Path, load: Any) -> None:
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec
    from PIL import Image

    load("image", ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, 4, 4, 3))])))

    def png(size: int, value: int) -> bytes:
        import io

        out = io.BytesIO()
        Image.new("RGB", (size, size), (value, value, value)).save(out, format="PNG")
        return out.getvalue()

    result = _run(tmp_path, {"a.png": png(4, 10), "big.png": png(8, 10), "broken.jpg": b"not a jpeg", "x.txt": "hi"})
    assert _messages(result) == {
        "big.png": "SchemaMismatch: an image of shape (8, 8, 3) cannot be reshaped to the signature's tensor shape "
        "(-1, 4, 4, 3)",
        "broken.jpg": "UnreadableFile: cannot decode the image: cannot identify image file <_io.BytesIO object at "
        + _messages(result)["broken.jpg"].split("<_io.BytesIO object at ", 1)[1],
        "x.txt": "UnsupportedFileType: file type 'txt' is not supported by the MLflow scorer; supported: .csv, "
        ".parquet, .pqt, .json, .jsonl, .png, .jpg, .jpeg, .tiff, .bmp, .gif",
    }
    assert result.rows.astype(object).where(pd.notna(result.rows), None).values.tolist() == [
        ["a.png", None, "[10.0, 4.0]"]
    ]
    header, body = formatting.render(result.rows, "csv", {})
    assert body == 'a.png,,"[10.0, 4.0]"\n'


def test_a_missing_mlflow_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_mlflow(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("mlflow"):
            raise ImportError("No module named 'mlflow'", name="mlflow")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[mlflow\]'"):
        mlflow_scorer.init()
