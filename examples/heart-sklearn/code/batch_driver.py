"""Scoring script of the heart-sklearn example, written as for an Azure ML batch deployment.

batchpoint runs it unchanged, and so would Azure ML: ``init()`` runs once in each worker process,
``run(mini_batch)`` once per mini-batch with a list of CSV file paths. The result is a DataFrame with
one row per input row (``file``, ``row``, ``prediction``); its column names become the header of
``predictions.csv``.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os

import joblib
import pandas as pd

logger = logging.getLogger("heart-sklearn")
model = None


def _model_path() -> str:
    # AZUREML_MODEL_DIR is the folder *above* the registered model: a model registered from a folder
    # named "model" appears as $AZUREML_MODEL_DIR/model/.
    model_dir = os.environ["AZUREML_MODEL_DIR"]
    found = sorted(glob.glob(os.path.join(model_dir, "*", "model.joblib")))
    return found[0] if found else os.path.join(model_dir, "model", "model.joblib")


def init() -> None:
    """Load the classifier once per worker process."""
    global model

    # The runtime passes extra program arguments (--logging_level and others): parse_known_args ignores
    # the ones this script does not know.
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--logging_level", default="info")
    args, _unknown = parser.parse_known_args()
    logging.basicConfig(level=getattr(logging, str(args.logging_level).upper(), logging.INFO))

    path = _model_path()
    model = joblib.load(path)
    logger.info("loaded model from %s", path)


def run(mini_batch: list[str]) -> pd.DataFrame:
    """Score every row of every CSV file in ``mini_batch``."""
    if model is None:
        raise RuntimeError("init() has not loaded the model")
    results = []
    for file_path in mini_batch:
        data = pd.read_csv(file_path)
        predictions = model.predict(data)
        results.append(
            pd.DataFrame(
                {
                    "file": os.path.basename(file_path),
                    "row": range(len(data)),
                    "prediction": predictions,
                }
            )
        )
        logger.info("scored %d rows of %s", len(data), file_path)
    if not results:
        return pd.DataFrame(columns=["file", "row", "prediction"])
    return pd.concat(results, ignore_index=True)
