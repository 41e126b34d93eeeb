"""``batchpoint job create -f job.yml`` through the real console script, as an Azure ML shell script would use it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli

JOB = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
code: src
command: >-
  python train.py --data ${{inputs.training_data}} --lr ${{inputs.learning_rate}}
  $[[--epochs ${{inputs.epochs}}]] --out ${{outputs.model}}
inputs:
  training_data:
    type: uri_file
    path: data/train.csv
  learning_rate: 0.01
outputs:
  model:
    type: uri_folder
environment_variables:
  RUN_MODE: test
experiment_name: cli-experiment
display_name: train
"""

TRAIN = """\
import argparse, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--data"); parser.add_argument("--lr", type=float); parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--out")
args = parser.parse_args()
rows = pathlib.Path(args.data).read_text().splitlines()
print(f"training on {len(rows)} rows, lr={args.lr}, epochs={args.epochs}, mode={os.environ['RUN_MODE']}", flush=True)
pathlib.Path(args.out, "model.txt").write_text(f"{args.lr}\\n")
"""


def _setup(root: Path) -> None:
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text(TRAIN)
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n")
    (root / "job.yml").write_text(JOB)


def test_create_stream_show_download(workspace: Path, cli: Cli, engine_env: None) -> None:
    _setup(workspace)
    created = cli("job", "create", "-f", "job.yml", "--stream", "--web", "--set", "inputs.epochs=3")
    job = json.loads(created.stdout.split("\ntraining on")[0])
    name = job["name"]
    assert job["type"] == "command" and job["experiment_name"] == "cli-experiment"
    # the command's own output, live, then the final state
    assert "training on 3 rows, lr=0.01, epochs=3, mode=test" in created.stdout
    assert f"Job {name}: Completed" in created.stderr
    shown = json.loads(cli("job", "show", "-n", name).stdout)
    assert shown["status"] == "Completed"
    assert shown["inputs"]["learning_rate"]["value"] == "0.01"
    assert shown["inputs"]["training_data"]["resolved"] == str(workspace / "data" / "train.csv")
    assert set(shown["outputs"]) == {"model"}
    cli("job", "download", "-n", name, "--download-path", "dl")
    assert (workspace / "dl" / "named-outputs" / "model" / "model.txt").read_text() == "0.01\n"
    assert "training on" in cli("job", "logs", "-n", name, "--file", "user_logs/std_log.txt").stdout
    listed = cli("job", "list", "--query", "[].name", "-o", "tsv").stdout.split()
    assert name in listed


def test_a_failing_command_exits_1_with_the_reason(workspace: Path, cli: Cli, engine_env: None) -> None:
    _setup(workspace)
    result = cli(
        "job", "create", "-f", "job.yml", "--name", "will-fail", "--set", "command=echo oops >&2; exit 4", "--stream",
        check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.output
    assert "command exited with code 4: oops" in result.stderr
    assert "Traceback" not in result.output
    status = cli("job", "show", "-n", "will-fail", "--query", "status", "-o", "tsv").stdout.strip()
    assert status == "Failed"


def test_bad_files_are_one_clear_line(workspace: Path, cli: Cli) -> None:
    _setup(workspace)
    (workspace / "bad.yml").write_text(JOB.replace("path: data/train.csv", "path: data/missing.csv"))
    result = cli("job", "create", "-f", "bad.yml", check=False)
    assert result.returncode == 2
    assert "inputs.training_data.path" in result.stderr and "bad.yml" in result.stderr
    assert "Traceback" not in result.output
