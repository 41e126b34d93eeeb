"""The baseline's scoring code: the same work as the batchpoint scoring script, for ``multiprocessing.Pool``.

Heavy imports happen in ``init`` (the pool initializer), once per pool process, as batchpoint's
workers import them in the scoring script's ``init()``.
"""

from __future__ import annotations

import os
from typing import Any

_model: Any = None
_pd: Any = None


def init(model_path: str, state: str | None = None) -> None:
    """Load the model (once per pool process); with ``state``, stamp ``state/ready-<pid>`` with the time."""
    global _model, _pd
    import joblib
    import pandas

    _pd = pandas
    _model = joblib.load(model_path)
    if state is None:
        return
    import time

    with open(os.path.join(state, f"ready-{os.getpid()}"), "w") as fh:
        fh.write(repr(time.time()))


def predict_count(path: str) -> int:
    """Read one file and predict; returns the number of predictions (the bare baseline)."""
    frame = _pd.read_csv(path)
    return len(_model.predict(frame.values))


def predict_csv(path: str) -> str:
    """Read one file and predict; returns the rows the batchpoint job writes (file,prediction) as CSV text."""
    frame = _pd.read_csv(path)
    out = _pd.DataFrame({"file": os.path.basename(path), "prediction": _model.predict(frame.values)})
    return str(out.to_csv(index=False, header=False, lineterminator="\n"))
