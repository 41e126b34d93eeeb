"""The script a user writes with Ray Data instead of a batch endpoint on Ray.

    python bench/ray_data_user_script.py INPUT_DIR OUTPUT_DIR MODEL.joblib [--workers 2] [--batch-size 4]

``ray.init()`` with its defaults (a private local Ray that this process starts and stops, with every
CPU of the machine), ``ray.data.from_items(<file paths>)``, ``map_batches`` with a callable class on
``ActorPoolStrategy(size=2)`` (each actor loads the model once; a batch is 4 paths, read with pandas
and scored with ``predict``, as a batchpoint mini-batch of 4 files is), then ``write_csv`` to
OUTPUT_DIR (one CSV per block, ``file,prediction``). ``bench/bench_user.py`` runs it as a whole process
and times it from the outside.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import pandas as pd
import ray


class Predictor:
    """One per actor: loads the model once; ``__call__`` scores a batch of file paths."""

    def __init__(self, model_path: str) -> None:
        import joblib

        self.model = joblib.load(model_path)

    def __call__(self, batch: dict[str, Any]) -> pd.DataFrame:
        frames = []
        for path in batch["item"]:
            data = pd.read_csv(path)
            frames.append(pd.DataFrame({"file": os.path.basename(path), "prediction": self.model.predict(data.values)}))
        return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs")
    parser.add_argument("output")
    parser.add_argument("model")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    ray.init()
    files = sorted(os.path.join(args.inputs, name) for name in os.listdir(args.inputs))
    items = ray.data.from_items(files)
    ds = items.map_batches(
        Predictor,
        fn_constructor_args=(args.model,),
        batch_size=args.batch_size,
        compute=ray.data.ActorPoolStrategy(size=args.workers),
        num_cpus=1,
    )
    ds.write_csv(args.output)
    ray.shutdown()


if __name__ == "__main__":
    main()
