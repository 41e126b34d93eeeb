"""A tiny scoring script with the Azure ML batch contract: init() once, run(mini_batch) per mini-batch."""

import os
from pathlib import Path

model_text = None


def init():
    global model_text
    model_dir = Path(os.environ["AZUREML_MODEL_DIR"])
    model_text = (model_dir / "model" / "model.txt").read_text()


def run(mini_batch):
    return [f"{Path(item).name},{len(model_text)}" for item in mini_batch]
