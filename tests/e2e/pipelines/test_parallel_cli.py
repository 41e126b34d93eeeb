"""A pipeline whose scoring step is a parallel component, deployed behind a batch endpoint, through the real CLI.

Azure's batch-scoring-with-preprocessing example with its score step written as a parallel job
(``parallelComponent.schema.json``): ``init()`` reads the model named in ``program_arguments``,
``run(mini_batch)`` scores one prepared file, ``append_row_to`` gathers every row in the
pipeline's ``scores`` output. Registered with ``component create``, deployed, invoked, downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli
from tests.e2e.pipelines.examples import INPUTS_YML, expected_predictions, write_project

PARALLEL_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/parallelComponent.schema.json
name: score_parallel
version: 1
type: parallel
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
input_data: ${{inputs.data}}
mini_batch_size: "1"
resources:
  instance_count: 1
max_concurrency_per_instance: 2
mini_batch_error_threshold: 0
retry_settings:
  max_retries: 1
  timeout: 60
logging_level: INFO
task:
  type: run_function
  code: src
  entry_script: score.py
  program_arguments: --model_path ${{inputs.model}} --score_mode ${{inputs.score_mode}}
  append_row_to: ${{outputs.scores}}
"""

SCORE_PY = """\
import argparse, csv, glob, os, pickle

def init():
    global model, mode
    p = argparse.ArgumentParser()
    p.add_argument("--model_path"); p.add_argument("--score_mode")
    args, _ = p.parse_known_args()
    mode = args.score_mode
    model = pickle.load(open(glob.glob(os.path.join(args.model_path, "**", "model.pkl"), recursive=True)[0], "rb"))
    print("model loaded for", mode)

def run(mini_batch):
    results = []
    for path in mini_batch:
        rows = list(csv.DictReader(open(path)))
        preds = model.predict([[float(v) for v in r.values()] for r in rows])
        results += [f"{os.path.basename(path)} {i} {int(p)} {mode}" for i, p in enumerate(preds)]
    return results
"""

PIPELINE_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
type: pipeline
name: batch_scoring_parallel
inputs:
  input_data:
    type: uri_folder
  score_mode:
    type: string
    default: append
outputs:
  scores:
    type: uri_folder
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
    type: parallel
    component: azureml:score_parallel@latest
    mini_batch_size: "1"
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
name: parallel-scoring
endpoint_name: uci-parallel
type: pipeline
component: pipeline-parallel.yml
settings:
  default_compute: local
"""


def test_parallel_scoring_step_behind_a_batch_endpoint(workspace: Path, cli: Cli) -> None:
    write_project(workspace)
    folder = workspace / "components" / "score_parallel"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "score.py").write_text(SCORE_PY)
    (folder / "score.yml").write_text(PARALLEL_YML)
    (workspace / "pipeline-parallel.yml").write_text(PIPELINE_YML)
    (workspace / "deployment-parallel.yml").write_text(DEPLOYMENT_YML)
    (workspace / "inputs.yml").write_text(INPUTS_YML.format(mode="parallel"))
    cli("model", "create", "--name", "heart-classifier", "--type", "mlflow_model", "--path", "model")
    cli("model", "create", "--name", "heart-classifier-transforms", "--type", "custom_model", "--path", "transforms")
    cli("component", "create", "-f", "components/prepare/prepare.yml")
    cli("component", "create", "-f", "components/score_parallel/score.yml")
    shown = json.loads(cli("component", "show", "-n", "score_parallel", "-v", "1").stdout)
    assert shown["type"] == "parallel" and shown["parallel"]["append_row_to"] == "scores"
    cli("batch-endpoint", "create", "-n", "uci-parallel")
    cli("batch-deployment", "create", "-f", "deployment-parallel.yml", "--set-default")
    job = cli("batch-endpoint", "invoke", "-n", "uci-parallel", "--f", "inputs.yml", "--query", "name", "-o", "tsv")
    name = job.stdout.strip()
    cli("job", "stream", "-n", name)
    pipeline = json.loads(cli("job", "show", "-n", name).stdout)
    assert pipeline["status"] == "Completed", pipeline["message"]
    score = json.loads(cli("job", "show", "-n", f"{name}-score_job").stdout)
    assert score["type"] == "batch" and score["progress"]["mini_batches"]["total"] == 2  # one prepared file each
    cli("job", "download", "-n", name, "--output-name", "scores", "--download-path", "dl")
    lines = (workspace / "dl" / "named-outputs" / "scores" / "parallel_run_step.txt").read_text().splitlines()
    rows = [line.split() for line in lines]
    assert [int(r[2]) for r in rows] == expected_predictions(workspace)
    assert [r[0] for r in rows] == ["part-0.csv"] * 3 + ["part-1.csv"] * 3
    assert {r[3] for r in rows} == {"parallel"}
    logs = cli("job", "show", "-n", f"{name}-score_job", "--query", "logs_path", "-o", "tsv").stdout.strip()
    assert "model loaded for parallel" in "".join(p.read_text() for p in Path(logs).rglob("*.txt"))
