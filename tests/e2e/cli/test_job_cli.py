"""The job commands through the real console script, as an Azure ML shell script would use them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli
from tests.integration.jobs.conftest import SCORER, write_inputs

DEPLOYMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
name: cli-dep
endpoint_name: cli-ep
type: model
model:
  name: cli-model
  path: model
code_configuration:
  code: code
  scoring_script: score.py
settings:
  mini_batch_size: 2
  max_concurrency_per_instance: 2
  retry_settings:
    max_retries: 0
    timeout: 30
  environment_variables:
    STATE_DIR: {state}
"""


def _setup(root: Path, cli: Cli) -> None:
    (root / "model").mkdir()
    (root / "model" / "factor.txt").write_text("3")
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(SCORER)
    (root / "state").mkdir()
    (root / "deployment.yml").write_text(DEPLOYMENT.format(state=root / "state"))
    cli("batch-endpoint", "create", "-n", "cli-ep")
    cli("batch-deployment", "create", "-f", "deployment.yml", "--set-default")


def test_invoke_stream_show_download_logs(workspace: Path, cli: Cli, engine_env: None) -> None:
    _setup(workspace, cli)
    write_inputs(workspace / "data", 5)
    job = cli(
        "batch-endpoint", "invoke", "-n", "cli-ep", "--input", "data", "--query", "name", "-o", "tsv"
    ).stdout.strip()
    assert job.startswith("batchjob-")
    streamed = cli("job", "stream", "-n", job)
    assert "Completed" in streamed.stderr and "5 succeeded" in streamed.stderr
    # The CLI process, single-threaded, was forked into the driver (and let go of its stdout pipe).
    assert "started (forked from pid" in (workspace / ".batchpoint" / "jobs" / job / "logs" / "driver.log").read_text()
    status = cli("job", "show", "-n", job, "--query", "status", "-o", "tsv").stdout.strip()
    assert status == "Completed"
    shown = json.loads(cli("job", "show", "-n", job).stdout)
    assert shown["progress"]["items"] == {"total": 5, "succeeded": 5, "failed": 0}
    assert job in cli("batch-endpoint", "list-jobs", "-n", "cli-ep", "--query", "[].name", "-o", "tsv").stdout
    assert job in cli("batch-deployment", "list-jobs", "-n", "cli-dep", "-e", "cli-ep", "-o", "tsv").stdout
    cli("job", "download", "-n", job, "--output-name", "score", "--download-path", "dl")
    assert len((workspace / "dl" / "named-outputs" / "score" / "predictions.csv").read_text().splitlines()) == 15
    assert "state: Completed" in cli("job", "logs", "-n", job).stdout
    again = cli("job", "cancel", "-n", job, check=False)
    assert again.returncode == 2 and "already ended" in again.stderr and "Traceback" not in again.output


def test_failed_job_says_why_and_stream_exits_1(workspace: Path, cli: Cli, engine_env: None) -> None:
    _setup(workspace, cli)
    write_inputs(workspace / "data", 2, directives={0: "POISON", 1: "POISON"})
    result = cli("batch-endpoint", "invoke", "-n", "cli-ep", "--input", "data", "--stream", check=False)
    assert result.returncode == 1
    assert "Failed" in result.output and "ValueError: poisoned input" in result.output
    assert "Traceback" not in result.stderr.split("first error")[0]


def test_invoke_errors_are_one_clear_line(workspace: Path, cli: Cli) -> None:
    _setup(workspace, cli)
    cases = [
        (["-n", "nope-ep", "--input", "data"], "nope-ep"),
        (["-n", "cli-ep", "--input", "missing-folder"], "does not exist"),
        (["-n", "cli-ep", "--input", "code", "--mini-batch-size", "-1"], "mini_batch_size"),
        (["-n", "cli-ep", "--input", "code", "--set", "retry_settings.timeout=abc"], "retry_settings.timeout"),
        (["-n", "cli-ep", "--input", "code", "-d", "ghost"], "ghost"),
        (["-n", "cli-ep", "--input", "code", "--job-name", "../etc"], "job"),
    ]
    for args, needle in cases:
        result = cli("batch-endpoint", "invoke", *args, check=False)
        assert result.returncode == 2, (args, result.output)
        assert needle in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    assert cli("job", "list", "-o", "tsv").stdout.strip() == ""
