"""Pipeline step 2: train the classifier, log params and metrics with MLflow, save the model.

MLflow needs no set-up here: batchpoint runs the step with MLFLOW_TRACKING_URI and MLFLOW_RUN_ID set,
so these calls land in the step's own run (``batchpoint job show`` lists the metrics).
"""

import argparse
from pathlib import Path

import joblib
import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--prepared", type=Path, required=True)
parser.add_argument("--C", type=float, default=1.0)
parser.add_argument("--model", type=Path, required=True)
args = parser.parse_args()

train = pd.read_csv(args.prepared / "train.csv")
test = pd.read_csv(args.prepared / "test.csv")
x_train, y_train = train.drop(columns="label"), train["label"]
x_test, y_test = test.drop(columns="label"), test["label"]

mlflow.log_param("C", args.C)
model = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=1000))
for step, iterations in enumerate((5, 20, 100, 1000)):  # a small learning curve: accuracy by iterations
    model.set_params(logisticregression__max_iter=iterations).fit(x_train, y_train)
    mlflow.log_metric("accuracy", model.score(x_test, y_test), step=step)

args.model.mkdir(parents=True, exist_ok=True)
joblib.dump(model, args.model / "model.joblib")
print(f"held-out accuracy {model.score(x_test, y_test):.3f}; model saved")
