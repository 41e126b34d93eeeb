"""batchpoint's scorer for MLflow models deployed without a scoring script ("no-code" deployments).

The worker loads this module in place of a user's scoring script. ``init()`` loads the model with
``mlflow.pyfunc`` once per worker; ``run(mini_batch)`` calls ``predict`` once per file:

* ``.csv``, ``.parquet``, ``.pqt``, ``.json`` (a list of records, or MLflow's ``dataframe_split`` /
  ``dataframe_records``), ``.jsonl`` (one record per line) → a DataFrame. With a column signature,
  the columns it requires must be there and their values must convert to its types; only the
  signature's columns are passed to ``predict``.
* ``.png``, ``.jpg``, ``.jpeg``, ``.tiff``, ``.bmp``, ``.gif`` → an array (``uint8``, height × width
  × channels), reshaped and cast to a tensor signature when the model has one; with a column
  signature made of one ``binary`` column, the file's bytes.

Output rows (append_row): ``file`` (the path relative to the job's input folder), ``row`` (the data
row of the file, from 0; empty for images), then ``prediction`` — or, when ``predict`` returns a
DataFrame or a dict, one column per output. A prediction that is itself an array is written as JSON.

A file that cannot be read or scored fails on its own: it is reported with a plain message (which
column, which type was expected) and the other files of the mini-batch still count.

scikit-learn models saved in the ``skops`` format (MLflow 3's default) are loaded by MLflow with
``skops.io.load(trusted=...)``, given the ``skops_trusted_types`` the model's MLmodel file records
(those the user accepted when saving). The scorer adds no trusted types of its own and never trusts
everything: a type outside skops's defaults and that list still refuses to load. The list comes
from the model folder, so it is a check of the model's consistency, not a defence against a
malicious model; deploying a model means trusting it, as a scoring script is trusted.

Standard library at import time; mlflow, pandas and numpy are imported by ``init()``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import traceback
from typing import Any

from batchpoint.runtime.results import PartialResult

TABULAR = (".csv", ".parquet", ".pqt")
RECORDS = (".json", ".jsonl")
IMAGES = (".png", ".jpg", ".jpeg", ".tiff", ".bmp", ".gif")
SUPPORTED = TABULAR + RECORDS + IMAGES
INPUT_ROOT_VARIABLE = "BATCHPOINT_INPUT_ROOT"
INSTALL_HINT = "pip install -e '.[mlflow]' in the batchpoint checkout"
SKOPS_FORMAT = "skops"
_NUMERIC = {"integer": "int32", "long": "int64", "float": "float32", "double": "float64"}
_SHOWN_BAD_ROWS = 3

log = logging.getLogger("batchpoint.mlflow_scorer")
_state: dict[str, Any] = {}


class FileError(Exception):
    """A file that cannot be scored; ``kind`` is reported as its exception name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# -- init ---------------------------------------------------------------------------------------------
def model_folder(base: str) -> str:
    """The model folder inside ``AZUREML_MODEL_DIR`` (its one entry, as Azure's driver takes it)."""
    if os.path.isfile(os.path.join(base, "MLmodel")):
        return base
    entries = sorted(e for e in os.listdir(base) if not e.startswith("."))
    if not entries:
        raise FileNotFoundError(f"AZUREML_MODEL_DIR '{base}' is empty")
    return os.path.join(base, entries[0])


def init() -> None:
    try:
        import mlflow.pyfunc
        import numpy
        import pandas
    except ImportError as exc:
        raise ImportError(
            f"the built-in MLflow scorer cannot import {exc.name or exc}: install mlflow in the deployment's "
            f"environment ({INSTALL_HINT} for batchpoint's own interpreter, or add mlflow-skinny to the "
            "environment's pip dependencies)"
        ) from exc
    base = os.environ.get("AZUREML_MODEL_DIR")
    if not base:
        raise RuntimeError("AZUREML_MODEL_DIR is not set: the deployment has no model")
    path = model_folder(base)
    model = load_model(mlflow.pyfunc, path)
    schema = None
    try:
        schema = model.metadata.get_input_schema()
    except Exception:  # a model without a readable signature is scored without one
        log.warning("cannot read the input signature of %s; scoring without it", path, exc_info=True)
    _state.update(model=model, schema=schema, pd=pandas, np=numpy, root=os.environ.get(INPUT_ROOT_VARIABLE))
    log.info("loaded MLflow model %s (signature: %s)", path, "yes" if schema is not None else "no")
    trust = skops_trust(model)
    if trust is not None:
        log.info("the model is in the skops format; types trusted beyond skops's defaults: %s", trust)


def load_model(pyfunc: Any, path: str) -> Any:
    """``mlflow.pyfunc.load_model``, with a hint when the model's format needs a package the environment lacks."""
    try:
        return pyfunc.load_model(path)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "skops":
            raise
        # mlflow imports skops only when it loads a skops-format model, so this is the first place it shows.
        raise ImportError(
            "the model was saved in the skops format (MLflow 3's default for scikit-learn) and loading it needs "
            "skops, which this environment does not have: add skops to the environment's pip dependencies "
            f"({INSTALL_HINT} for batchpoint's own interpreter)",
            name="skops",
        ) from exc


def skops_trust(model: Any) -> str | None:
    """The trusted types MLflow passed to skops, as a log line; ``None`` for a model not in the skops format."""
    flavors = getattr(getattr(model, "metadata", None), "flavors", None) or {}
    sklearn_flavor = flavors.get("sklearn") or {}
    if sklearn_flavor.get("serialization_format") != SKOPS_FORMAT:
        return None
    trusted = sklearn_flavor.get("skops_trusted_types") or []
    return ", ".join(str(t) for t in trusted) or "none"


# -- run ----------------------------------------------------------------------------------------------
def run(mini_batch: list[str]) -> PartialResult:
    pd = _state["pd"]
    frames: list[Any] = []
    failed: list[dict[str, Any]] = []
    for path in mini_batch:
        try:
            frame = score_file(path)
        except FileError as exc:
            failed.append({"file": path, "exception": exc.kind, "message": str(exc), "traceback": ""})
        except Exception as exc:  # one bad file must not fail the others
            failed.append(
                {"file": path, "exception": type(exc).__name__, "message": str(exc) or repr(exc),
                 "traceback": "".join(traceback.format_exception(exc))}
            )  # fmt: skip
        else:
            if frame is not None and len(frame):
                frames.append(frame)
            continue
        log.error("Error processing input file '%s': %s: %s", path, failed[-1]["exception"], failed[-1]["message"])
    rows = pd.concat(frames, ignore_index=True) if frames else None
    return PartialResult(rows=rows, failed=failed)


def score_file(path: str) -> Any:
    """The output rows of one file (a DataFrame), or raises ``FileError``."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in SUPPORTED:
        shown = ext.lstrip(".") or os.path.basename(path)
        raise FileError(
            "UnsupportedFileType",
            f"file type '{shown}' is not supported by the MLflow scorer; supported: {', '.join(SUPPORTED)}",
        )
    if ext in IMAGES:
        return _output(path, _state["model"].predict(read_image(path)), tabular=False)
    data = read_table(path, ext)
    if len(data) == 0:
        return None
    data = conform(data, ext)
    return _output(path, _state["model"].predict(data), tabular=True)


# -- reading --------------------------------------------------------------------------------------------
def read_table(path: str, ext: str) -> Any:
    pd = _state["pd"]
    try:
        if ext == ".csv":
            return pd.read_csv(path)
        if ext in (".parquet", ".pqt"):
            return pd.read_parquet(path)
        return _read_json(path, ext)
    except FileError:
        raise
    except ImportError as exc:
        raise FileError(
            "MissingDependency", f"reading {ext} files needs {exc.name or exc} in the environment"
        ) from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except UnicodeDecodeError as exc:
        raise FileError("UnreadableFile", f"cannot read the {ext} file: it is not UTF-8 text ({exc.reason})") from None
    except Exception as exc:  # any reader error becomes the file's message
        raise FileError("UnreadableFile", f"cannot read the {ext} file: {type(exc).__name__}: {exc}") from None


def _read_json(path: str, ext: str) -> Any:
    pd = _state["pd"]
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if ext == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as exc:
                    raise FileError("UnreadableFile", f"line {number} is not JSON: {exc}") from None
        return pd.DataFrame.from_records(records)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FileError("UnreadableFile", f"the file is not JSON: {exc}") from None
    if isinstance(data, dict):
        if "dataframe_split" in data:
            split = data["dataframe_split"]
            return pd.DataFrame(split.get("data", []), columns=split.get("columns"))
        for key in ("dataframe_records", "instances", "inputs"):
            if key in data:
                data = data[key]
                break
    if isinstance(data, dict):
        lengths = {len(v) for v in data.values() if isinstance(v, list)}
        return (
            pd.DataFrame(data)
            if len(lengths) == 1 and all(isinstance(v, list) for v in data.values())
            else (pd.DataFrame([data]))
        )
    if isinstance(data, list):
        return pd.DataFrame(data) if data and not isinstance(data[0], dict) else pd.DataFrame.from_records(data)
    raise FileError("UnreadableFile", "expected a JSON list of records or an object of columns")


def read_image(path: str) -> Any:
    np, schema = _state["np"], _state["schema"]
    with open(path, "rb") as fh:
        raw = fh.read()
    if schema is not None and not schema.is_tensor_spec():
        binary = [c for c in schema.inputs if getattr(c.type, "name", None) == "binary"]
        if len(schema.inputs) == 1 and binary:
            return _state["pd"].DataFrame({binary[0].name: [raw]})
        raise FileError(
            "SchemaMismatch",
            "the model's signature expects columns "
            f"{', '.join(_describe(c) for c in schema.inputs)}; an image file can only feed a signature with one "
            "binary column or a tensor signature",
        )
    try:
        from PIL import Image
    except ImportError:
        raise FileError("MissingDependency", "reading image files needs Pillow (pip install pillow)") from None
    try:
        with Image.open(io.BytesIO(raw)) as image:
            array = np.asarray(image)
    except Exception as exc:  # any decoder error
        raise FileError("UnreadableFile", f"cannot decode the image: {exc}") from None
    if schema is None:
        return array
    spec = schema.inputs[0]
    shape = [1 if size == -1 and i == 0 else size for i, size in enumerate(spec.shape)]
    try:
        return array.reshape(shape).astype(spec.type)
    except ValueError:
        raise FileError(
            "SchemaMismatch", f"an image of shape {tuple(array.shape)} cannot be reshaped to the signature's "
            f"tensor shape {tuple(spec.shape)}",
        ) from None  # fmt: skip


# -- the signature ------------------------------------------------------------------------------------
def _describe(col: Any) -> str:
    type_name = getattr(col.type, "name", None) or str(col.type)
    return f"'{col.name}' ({type_name})" if getattr(col, "name", None) is not None else f"({type_name})"


def conform(data: Any, ext: str) -> Any:
    """Check a table against the model's signature and convert it to the signature's types."""
    schema = _state["schema"]
    if schema is None:
        return data
    if schema.is_tensor_spec():
        spec = schema.inputs[0]
        try:
            array = data.to_numpy(dtype=spec.type)
        except (ValueError, TypeError) as exc:
            raise FileError(
                "SchemaMismatch", f"the values do not convert to the tensor type {spec.type}: {exc}"
            ) from None
        shape = [-1, *spec.shape[1:]] if spec.shape else [-1]
        try:
            return array.reshape(shape)
        except ValueError:
            raise FileError(
                "SchemaMismatch", f"a table of shape {array.shape} does not fit the tensor shape {tuple(spec.shape)}"
            ) from None
    if not schema.has_input_names():
        return data
    columns = [str(c) for c in data.columns]
    data.columns = columns
    required = [c for c in schema.inputs if getattr(c, "required", True)]
    missing = [c for c in required if str(c.name) not in columns]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise FileError(
            "SchemaMismatch",
            f"missing {noun} {', '.join(_describe(c) for c in missing)} required by the model's signature; "
            f"the file has {', '.join(repr(c) for c in columns) or 'no columns'}",
        )
    wanted = [c for c in schema.inputs if str(c.name) in columns]
    out = data[[str(c.name) for c in wanted]].copy()
    for col in wanted:
        out[str(col.name)] = _convert(out[str(col.name)], col, ext)
    return out


def _row_label(index: int, ext: str) -> str:
    return f"row {index} (line {index + 2})" if ext == ".csv" else f"row {index}"


def _shown(value: Any) -> str:
    """A cell as the message quotes it: ``'abc'``, ``2.5``, or ``is empty``."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip()):
        return "is empty"
    return f"has {value!r}"


def _bad_rows(series: Any, mask: Any, col: Any, expected: str, ext: str) -> FileError:
    positions = [i for i, bad in enumerate(mask.tolist()) if bad]
    shown = ", ".join(f"{_row_label(i, ext)} {_shown(series.iloc[i])}" for i in positions[:_SHOWN_BAD_ROWS])
    more = f" and {len(positions) - _SHOWN_BAD_ROWS} more row(s)" if len(positions) > _SHOWN_BAD_ROWS else ""
    return FileError("SchemaMismatch", f"column '{col.name}' expects {expected}: {shown}{more}")


def _convert(series: Any, col: Any, ext: str) -> Any:
    """One column converted to its signature type; values that do not convert are named by row."""
    pd = _state["pd"]
    type_name = getattr(col.type, "name", None)
    if type_name in _NUMERIC:
        blank = series.isna() | (series.astype(str).str.strip() == "")
        numbers = pd.to_numeric(series.where(~blank), errors="coerce")
        bad = numbers.isna() & ~blank
        if bad.any():
            raise _bad_rows(series, bad, col, f"{type_name} numbers", ext)
        if type_name in ("integer", "long"):
            if blank.any():
                raise _bad_rows(series, blank, col, f"{type_name} numbers", ext)
            fractional = numbers != numbers.round()
            if fractional.any():
                raise _bad_rows(series, fractional, col, f"{type_name} (whole) numbers", ext)
        return numbers.astype(_NUMERIC[type_name])
    if type_name == "boolean":
        if series.dtype == bool:
            return series
        words = series.astype(str).str.strip().str.lower()
        mapped = words.map({"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False})
        bad = mapped.isna()
        if bad.any():
            raise _bad_rows(series, bad, col, "booleans (true/false)", ext)
        return mapped.astype(bool)
    if type_name == "datetime":
        converted = pd.to_datetime(series, errors="coerce")
        bad = converted.isna() & series.notna()
        if bad.any():
            raise _bad_rows(series, bad, col, "dates/times", ext)
        return converted
    if type_name == "string":
        return series.where(series.isna(), series.astype(str))
    return series


# -- output ----------------------------------------------------------------------------------------------
def _file_label(path: str) -> str:
    root = _state.get("root")
    if root:
        try:
            relative = os.path.relpath(path, root)
        except ValueError:
            relative = ""
        if relative and not relative.startswith(".."):
            return relative.replace(os.sep, "/")
    return os.path.basename(path)


def _cell(value: Any) -> Any:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str)
    return value


def _output(path: str, predictions: Any, *, tabular: bool) -> Any:
    """The rows of one file: ``file``, ``row``, then ``prediction`` or one column per output."""
    pd, np = _state["pd"], _state["np"]
    if isinstance(predictions, dict):
        try:
            predictions = pd.DataFrame({k: list(np.atleast_1d(v)) for k, v in predictions.items()})
        except ValueError:
            predictions = pd.DataFrame({k: [_cell(v)] for k, v in predictions.items()})
    if isinstance(predictions, pd.DataFrame):
        outputs = predictions.reset_index(drop=True)
        outputs.columns = [f"output_{c}" if str(c) in ("file", "row") else str(c) for c in outputs.columns]
        outputs = outputs.apply(lambda column: column.map(_cell) if column.dtype == object else column)
    elif not tabular:
        values = predictions.to_numpy() if hasattr(predictions, "to_numpy") else np.asarray(predictions, dtype=object)
        if getattr(values, "ndim", 0) >= 1 and len(values) == 1:
            values = values[0]
        outputs = pd.DataFrame({"prediction": [_cell(values)]})
    else:
        values = predictions.to_numpy() if hasattr(predictions, "to_numpy") else predictions
        if not isinstance(values, list):
            array = np.asarray(values)
            values = [array.item()] if array.ndim == 0 else (list(array) if array.ndim > 1 else array)
        outputs = pd.DataFrame({"prediction": [_cell(v) for v in values] if isinstance(values, list) else values})
    rows = (
        pd.Series(range(len(outputs)), dtype="Int64") if tabular else pd.Series([pd.NA] * len(outputs), dtype="Int64")
    )
    frame = pd.DataFrame({"file": [_file_label(path)] * len(outputs), "row": rows})
    return pd.concat([frame, outputs], axis=1)
