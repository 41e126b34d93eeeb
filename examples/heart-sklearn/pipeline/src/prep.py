"""Pipeline step 1: split scikit-learn's bundled breast-cancer data into train.csv and test.csv."""

import argparse
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--test_size", type=float, default=0.25)
parser.add_argument("--prepared", type=Path, required=True)
args = parser.parse_args()

data = load_breast_cancer(as_frame=True)
frame = data.data.assign(label=data.target.map(dict(enumerate(data.target_names))))
train, test = train_test_split(frame, test_size=args.test_size, random_state=7, stratify=frame["label"])
args.prepared.mkdir(parents=True, exist_ok=True)
train.to_csv(args.prepared / "train.csv", index=False)
test.to_csv(args.prepared / "test.csv", index=False)
print(f"prepared {len(train)} training and {len(test)} test rows")
