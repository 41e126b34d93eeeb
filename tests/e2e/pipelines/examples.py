"""Azure ML's public batch-pipeline examples, written here as test data that runs offline.

``batch-scoring-with-preprocessing``: a registered command component (prepare) and a local one
(score) in a pipeline component; inputs: a folder of CSVs, a registered ``custom_model`` (the
transformations), a registered ``mlflow_model`` and the literal ``score_mode``; a named output
``scores`` bound to the pipeline's output. ``hello-batch``: no inputs, one step. The scripts are
small, the model is trained at set-up on scikit-learn's bundled iris data.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

PREPARE_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: uci_heart_prepare
display_name: Prepare the data
version: 1
type: command
inputs:
  data:
    type: uri_folder
  transformations:
    type: custom_model
  limit:
    type: integer
    optional: true
outputs:
  prepared_data:
    type: uri_folder
code: src
command: >-
  python prepare.py --data_path ${{inputs.data}} --transformations_path ${{inputs.transformations}}
  $[[--limit ${{inputs.limit}}]] --prepared_data_path ${{outputs.prepared_data}}
"""

PREPARE_PY = """\
import argparse, csv, glob, json, os
p = argparse.ArgumentParser()
p.add_argument("--data_path"); p.add_argument("--transformations_path"); p.add_argument("--prepared_data_path")
p.add_argument("--limit", type=int, default=None)
a = p.parse_args()
scale = json.load(open(glob.glob(os.path.join(a.transformations_path, "**", "scale.json"), recursive=True)[0]))
os.makedirs(a.prepared_data_path, exist_ok=True)
for path in sorted(glob.glob(os.path.join(a.data_path, "*.csv"))):
    with open(path) as fh, open(os.path.join(a.prepared_data_path, os.path.basename(path)), "w", newline="") as out:
        rows = list(csv.DictReader(fh))[: a.limit]
        w = csv.DictWriter(out, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: float(v) * scale.get(k, 1.0) for k, v in r.items()})
print("prepared", len(os.listdir(a.prepared_data_path)), "files")
"""

SCORE_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: score
version: 1
type: command
inputs:
  data:
    type: uri_folder
  model:
    type: mlflow_model
  score_mode:
    type: string
    default: append
outputs:
  scores:
    type: uri_folder
code: src
command: >-
  python score.py --model_path ${{inputs.model}} --data_path ${{inputs.data}}
  --score_mode ${{inputs.score_mode}} --scores_path ${{outputs.scores}}
"""

SCORE_PY = """\
import argparse, csv, glob, os, pickle
p = argparse.ArgumentParser()
for flag in ("--model_path", "--data_path", "--score_mode", "--scores_path"):
    p.add_argument(flag)
a = p.parse_args()
model = pickle.load(open(glob.glob(os.path.join(a.model_path, "**", "model.pkl"), recursive=True)[0], "rb"))
os.makedirs(a.scores_path, exist_ok=True)
with open(os.path.join(a.scores_path, "scores.csv"), "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["file", "row", "prediction", "mode"])
    for path in sorted(glob.glob(os.path.join(a.data_path, "*.csv"))):
        rows = list(csv.DictReader(open(path)))
        preds = model.predict([[float(v) for v in r.values()] for r in rows])
        for i, pred in enumerate(preds):
            w.writerow([os.path.basename(path), i, int(pred), a.score_mode])
"""

PIPELINE_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
type: pipeline
name: batch_scoring_uci_heart
display_name: Batch scoring with preprocessing
inputs:
  input_data:
    type: uri_folder
  score_mode:
    type: string
    default: append
outputs:
  scores:
    type: uri_folder
    mode: upload
jobs:
  preprocess_job:
    type: command
    component: azureml:uci_heart_prepare@latest
    inputs:
      data: ${{parent.inputs.input_data}}
      transformations:
        path: azureml:heart-classifier-transforms@latest
        type: custom_model
    outputs:
      prepared_data:
  score_job:
    type: command
    component: components/score/score.yml
    inputs:
      data: ${{parent.jobs.preprocess_job.outputs.prepared_data}}
      model:
        path: azureml:heart-classifier@latest
        type: mlflow_model
      score_mode: ${{parent.inputs.score_mode}}
    outputs:
      scores:
        mode: upload
        path: ${{parent.outputs.scores}}
"""

PIPELINE_JOB_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: batch scoring, as a job
experiment_name: uci-heart
inputs:
  input_data:
    type: uri_folder
    path: data
  score_mode: append
outputs:
  scores:
    type: uri_folder
settings:
  default_compute: local
jobs:
  preprocess_job:
    type: command
    component: azureml:uci_heart_prepare@latest
    inputs:
      data: ${{parent.inputs.input_data}}
      transformations:
        path: azureml:heart-classifier-transforms@latest
        type: custom_model
  score_job:
    type: command
    component: components/score/score.yml
    inputs:
      data: ${{parent.jobs.preprocess_job.outputs.prepared_data}}
      model:
        path: azureml:heart-classifier@latest
        type: mlflow_model
      score_mode: ${{parent.inputs.score_mode}}
    outputs:
      scores: ${{parent.outputs.scores}}
"""

DEPLOYMENT_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponentBatchDeployment.schema.json
name: uci-classifier-prepros-xgb
endpoint_name: uci-classifier-batch
type: pipeline
component: pipeline.yml
settings:
  continue_on_step_failure: false
  default_compute: local
"""

INPUTS_YML = """\
inputs:
  input_data:
    type: uri_folder
    path: data
  score_mode:
    type: string
    default: {mode}
outputs:
  scores:
    type: uri_folder
    mode: upload
"""

HELLO_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: hello-batch
jobs:
  hello_job:
    type: command
    code: src
    command: python hello.py
    # Azure's sample names sklearn-1.5; the minimal curated image keeps the suite from building scikit-learn.
    environment: azureml://registries/azureml/environments/minimal-ubuntu22.04-py39-cpu/labels/latest
"""


def write_data(folder: Path, files: int = 2, rows: int = 3) -> list[list[float]]:
    """Iris rows as CSV files (four float columns); returns the rows in file order."""
    from sklearn.datasets import load_iris

    x = load_iris().data
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for f in range(files):
        with open(folder / f"part-{f}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["a", "b", "c", "d"])
            for r in range(rows):
                row = [float(v) for v in x[(f * 37 + r * 11) % len(x)]]
                w.writerow(row)
                written.append(row)
    return written


def write_project(root: Path) -> None:
    """The example's files: components with their code, the pipeline component, the deployment."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    prepare = root / "components" / "prepare"
    score = root / "components" / "score"
    for folder, yml, script, name in (
        (prepare, PREPARE_YML, PREPARE_PY, "prepare.py"),
        (score, SCORE_YML, SCORE_PY, "score.py"),
    ):
        (folder / "src").mkdir(parents=True)
        (folder / "src" / name).write_text(script)
        (folder / f"{folder.name}.yml").write_text(yml)
    (root / "pipeline.yml").write_text(PIPELINE_YML)
    (root / "pipeline-job.yml").write_text(PIPELINE_JOB_YML)
    (root / "deployment.yml").write_text(DEPLOYMENT_YML)
    transforms = root / "transforms"
    transforms.mkdir()
    (transforms / "scale.json").write_text(json.dumps({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}))
    import mlflow.sklearn
    import sklearn

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    mlflow.sklearn.save_model(
        model, str(root / "model"), serialization_format="pickle",
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )  # fmt: skip
    write_data(root / "data")


def expected_predictions(root: Path) -> list[int]:
    import pickle

    model = pickle.loads((root / "model" / "model.pkl").read_bytes())
    rows = []
    for path in sorted((root / "data").glob("*.csv")):
        with open(path) as fh:
            rows += [[float(v) for v in r.values()] for r in csv.DictReader(fh)]
    return [int(p) for p in model.predict(rows)]


def read_scores(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))
