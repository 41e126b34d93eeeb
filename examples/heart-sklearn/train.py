"""Train the example's classifier and write the files to score.

Uses the breast-cancer data set that scikit-learn ships inside the package (no download), so the
example runs offline. Writes:

* ``model/model.joblib``: a scikit-learn pipeline (scaling + logistic regression) whose predictions are
  the class names ``malignant`` / ``benign``;
* ``data/unlabeled-<n>.csv``: the measurements, without the target column, cut into a few CSV files
  with a header row: the input of ``batchpoint batch-endpoint invoke``.

Usage: ``python examples/heart-sklearn/train.py [--model-dir DIR] [--data-dir DIR] [--files 6]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
SEED = 7


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=HERE / "model", help="where model.joblib goes")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data", help="where the CSV files to score go")
    parser.add_argument("--files", type=int, default=6, help="number of CSV files to write (default 6)")
    args = parser.parse_args(argv)
    if args.files < 1:
        parser.error("--files must be at least 1")

    dataset = load_breast_cancer(as_frame=True)
    features = dataset.data
    labels = dataset.target.map(dict(enumerate(dataset.target_names)))

    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.25, random_state=SEED, stratify=labels
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(x_train, y_train)
    accuracy = model.score(x_test, y_test)

    args.model_dir.mkdir(parents=True, exist_ok=True)
    model_file = args.model_dir / "model.joblib"
    joblib.dump(model, model_file)
    print(f"trained on {len(x_train)} rows, held-out accuracy {accuracy:.3f}; model saved to {model_file}")

    # Every row, shuffled, without the target column, cut into equal-sized files.
    args.data_dir.mkdir(parents=True, exist_ok=True)
    for old in args.data_dir.glob("unlabeled-*.csv"):
        old.unlink()
    shuffled = features.sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    for number, chunk in enumerate(np.array_split(np.arange(len(shuffled)), args.files)):
        shuffled.iloc[chunk].to_csv(args.data_dir / f"unlabeled-{number}.csv", index=False)
    print(f"wrote {len(shuffled)} rows in {args.files} CSV files to {args.data_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
