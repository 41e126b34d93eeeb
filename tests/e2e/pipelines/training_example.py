"""Azure ML's public ``training-batch-scoring`` example (a training pipeline behind a batch endpoint), as test data.

The pipeline component ``uci-heart-train-pipeline`` runs ``prepare_data → train_model →
evaluate_model``, three local command components with their code folders; it takes the folder of
CSVs ``input_data`` and the literal ``n_estimators`` (Azure's example has none; it is added here so
two published versions can differ in it), and gives the trained ``model`` (``mlflow_model``) and
its ``evaluation_results``. As in Azure, a batch deployment carries no input values: each
deployment runs one registered version of the pipeline component, and the versions differ in the
literal's default. The steps name no environment, as examples.py's do (batchpoint's own
interpreter, which has scikit-learn and MLflow), so nothing is built or downloaded; Azure's example
names a conda file. The data are rows of scikit-learn's bundled breast-cancer set, a binary
classification like the UCI heart data.
"""

from __future__ import annotations

import csv
from pathlib import Path

ENDPOINT = "uci-heart-train"
COMPONENT = "uci-heart-train-pipeline"

PREPARE_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: uci_heart_prepare_data
display_name: Prepare the training data
version: 1
type: command
inputs:
  data:
    type: uri_folder
outputs:
  prepared_data:
    type: uri_folder
code: src
command: python prepare.py --data_path ${{inputs.data}} --prepared_data_path ${{outputs.prepared_data}}
"""

PREPARE_PY = """\
import argparse, csv, glob, os
p = argparse.ArgumentParser()
p.add_argument("--data_path"); p.add_argument("--prepared_data_path")
a = p.parse_args()
rows = []
for path in sorted(glob.glob(os.path.join(a.data_path, "*.csv"))):
    rows += list(csv.DictReader(open(path)))
os.makedirs(a.prepared_data_path, exist_ok=True)
for split, keep in (("train", lambda i: i % 4 != 0), ("test", lambda i: i % 4 == 0)):
    with open(os.path.join(a.prepared_data_path, split + ".csv"), "w", newline="") as out:
        w = csv.DictWriter(out, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(r for i, r in enumerate(rows) if keep(i))
print("prepared", len(rows), "rows")
"""

TRAIN_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: uci_heart_train_model
display_name: Train a random forest
version: 1
type: command
inputs:
  data:
    type: uri_folder
  n_estimators:
    type: integer
    default: 10
outputs:
  model:
    type: mlflow_model
code: src
command: >-
  python train.py --data_path ${{inputs.data}} --n_estimators ${{inputs.n_estimators}}
  --model_path ${{outputs.model}}
"""

TRAIN_PY = """\
import argparse, csv, os
import mlflow.sklearn
import sklearn
from sklearn.ensemble import RandomForestClassifier
p = argparse.ArgumentParser()
p.add_argument("--data_path"); p.add_argument("--n_estimators", type=int); p.add_argument("--model_path")
a = p.parse_args()
rows = list(csv.DictReader(open(os.path.join(a.data_path, "train.csv"))))
x = [[float(v) for k, v in r.items() if k != "target"] for r in rows]
y = [int(r["target"]) for r in rows]
model = RandomForestClassifier(n_estimators=a.n_estimators, random_state=0).fit(x, y)
mlflow.sklearn.save_model(
    model, a.model_path, serialization_format="pickle", pip_requirements=["scikit-learn==" + sklearn.__version__]
)
print("trained", len(model.estimators_), "trees on", len(rows), "rows")
"""

EVALUATE_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: uci_heart_evaluate_model
display_name: Evaluate the model
version: 1
type: command
inputs:
  model:
    type: mlflow_model
  data:
    type: uri_folder
outputs:
  evaluation_results:
    type: uri_folder
code: src
command: >-
  python evaluate.py --model_path ${{inputs.model}} --data_path ${{inputs.data}}
  --evaluation_results_path ${{outputs.evaluation_results}}
"""

EVALUATE_PY = """\
import argparse, csv, glob, json, os, pickle
p = argparse.ArgumentParser()
for flag in ("--model_path", "--data_path", "--evaluation_results_path"):
    p.add_argument(flag)
a = p.parse_args()
model = pickle.load(open(glob.glob(os.path.join(a.model_path, "**", "model.pkl"), recursive=True)[0], "rb"))
rows = list(csv.DictReader(open(os.path.join(a.data_path, "test.csv"))))
x = [[float(v) for k, v in r.items() if k != "target"] for r in rows]
y = [int(r["target"]) for r in rows]
predictions = model.predict(x)
probabilities = model.predict_proba(x)[:, 1]
os.makedirs(a.evaluation_results_path, exist_ok=True)
with open(os.path.join(a.evaluation_results_path, "predictions.csv"), "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["row", "target", "prediction", "probability"])
    for i, (target, pred, prob) in enumerate(zip(y, predictions, probabilities)):
        w.writerow([i, target, int(pred), repr(float(prob))])
metrics = {
    "n_estimators": model.n_estimators,
    "trees": len(model.estimators_),
    "accuracy": sum(int(p) == t for p, t in zip(predictions, y)) / len(y),
}
json.dump(metrics, open(os.path.join(a.evaluation_results_path, "metrics.json"), "w"))
"""

PIPELINE_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
type: pipeline
name: uci-heart-train-pipeline
display_name: uci-heart-train
version: 1
inputs:
  input_data:
    type: uri_folder
  n_estimators:
    type: integer
    default: 3
outputs:
  model:
    type: mlflow_model
  evaluation_results:
    type: uri_folder
jobs:
  prepare_data:
    type: command
    component: components/prepare/prepare.yml
    inputs:
      data: ${{parent.inputs.input_data}}
  train_model:
    type: command
    component: components/train/train.yml
    inputs:
      data: ${{parent.jobs.prepare_data.outputs.prepared_data}}
      n_estimators: ${{parent.inputs.n_estimators}}
    outputs:
      model: ${{parent.outputs.model}}
  evaluate_model:
    type: command
    component: components/evaluate/evaluate.yml
    inputs:
      model: ${{parent.jobs.train_model.outputs.model}}
      data: ${{parent.jobs.prepare_data.outputs.prepared_data}}
    outputs:
      evaluation_results: ${{parent.outputs.evaluation_results}}
"""

DEPLOYMENT_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponentBatchDeployment.schema.json
name: {name}
endpoint_name: uci-heart-train
type: pipeline
component: azureml:uci-heart-train-pipeline:{version}
settings:
  continue_on_step_failure: false
  default_compute: local
"""

INPUTS_YML = """\
inputs:
  input_data:
    type: uri_folder
    path: azureml:heart-classifier-train@latest
"""


def write_training_project(root: Path, *, files: int = 2, rows: int = 40) -> None:
    """The example's files (components, pipeline component, ``inputs.yml``) and ``data/``: CSV files of rows."""
    for step, yml, script in (
        ("prepare", PREPARE_YML, PREPARE_PY),
        ("train", TRAIN_YML, TRAIN_PY),
        ("evaluate", EVALUATE_YML, EVALUATE_PY),
    ):
        folder = root / "components" / step
        (folder / "src").mkdir(parents=True)
        (folder / "src" / f"{step}.py").write_text(script)
        (folder / f"{step}.yml").write_text(yml)
    (root / "pipeline.yml").write_text(PIPELINE_YML)
    (root / "inputs.yml").write_text(INPUTS_YML)
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    columns = [name.replace(" ", "_") for name in bunch.feature_names[:6]]
    (root / "data").mkdir()
    for f in range(files):
        with open(root / "data" / f"part-{f}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*columns, "target"])
            for r in range(rows):
                i = (f * rows + r) * 7 % len(bunch.target)  # a spread of both classes
                w.writerow([*(float(v) for v in bunch.data[i][:6]), int(bunch.target[i])])


def split_rows(root: Path) -> tuple[list[list[str]], list[list[str]]]:
    """The rows of ``data/`` (features then target, as text) split as prepare.py splits them: (train, test)."""
    rows: list[list[str]] = []
    for path in sorted((root / "data").glob("*.csv")):
        with open(path) as fh:
            rows += list(csv.reader(fh))[1:]
    return [r for i, r in enumerate(rows) if i % 4 != 0], [r for i, r in enumerate(rows) if i % 4 == 0]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))
