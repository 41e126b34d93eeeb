"""``model create --path azureml://jobs/<job>/outputs/<name>`` and ``runs:/<run id>/<path>``: a model from what a
job produced, with its lineage (job, run) on the model version."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import Cli, CliResult

JOB = f"""\
type: command
command: >-
  {sys.executable} -c "import pathlib, sys; out = pathlib.Path(sys.argv[1]); (out / 'weights').mkdir();
  (out / 'weights' / 'w.txt').write_text('0.5'); (out / 'README').write_text('tiny model')"
  ${{{{outputs.model}}}}
outputs:
  model:
    type: custom_model
"""


def _error(result: CliResult, *needles: str) -> None:
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.stderr, (needle, result.output)


def test_a_model_registered_from_a_job_output_records_its_lineage(workspace: Path, cli: Cli) -> None:
    (workspace / "job.yml").write_text(JOB)
    job = cli("job", "create", "-f", "job.yml", "--stream", "--query", "name", "-o", "tsv").stdout.strip()
    job = job.splitlines()[-1] if job else json.loads(cli("job", "list").stdout)[0]["name"]
    assert json.loads(cli("job", "show", "-n", job).stdout)["status"] == "Completed"
    uri = f"azureml://jobs/{job}/outputs/model"
    model = json.loads(cli("model", "create", "--name", "tiny", "--type", "custom_model", "--path", uri).stdout)
    assert model["job_name"] == job and model["version"] == "1"
    shown = json.loads(cli("model", "show", "--name", "tiny", "--version", "1").stdout)
    assert shown["job_name"] == job
    cli("model", "download", "--name", "tiny", "--version", "1", "--download-path", "dl")
    assert (workspace / "dl" / "tiny" / "model" / "weights" / "w.txt").read_text() == "0.5"
    # a folder inside the output
    part = json.loads(cli("model", "create", "--name", "w", "--path", f"{uri}/paths/weights").stdout)
    assert part["job_name"] == job and part["path"] == "weights"
    _error(cli("model", "create", "--name", "x", "--path", f"azureml://jobs/{job}/outputs/nope", check=False),
           "has no output 'nope'", "model")  # fmt: skip
    _error(cli("model", "create", "--name", "x", "--path", f"{uri}/paths/../../../../etc", check=False),
           "outside")  # fmt: skip
    _error(cli("model", "create", "--name", "x", "--path", "azureml://jobs/no-such-job/outputs/model", check=False),
           "no-such-job")  # fmt: skip


def test_a_model_registered_from_a_run_s_artifacts(workspace: Path, cli: Cli) -> None:
    import mlflow

    from batchpoint import Client
    from batchpoint.runs.tracking import open_tracking_db, tracking_url

    with Client(workspace) as bp:
        open_tracking_db(bp.services).engine.dispose()
        client = mlflow.tracking.MlflowClient(tracking_url(bp.services))
    run = client.create_run("0")
    (workspace / "artifact").mkdir()
    (workspace / "artifact" / "model.txt").write_text("logged")
    client.log_artifacts(run.info.run_id, str(workspace / "artifact"), "model")
    client.set_terminated(run.info.run_id)
    model = json.loads(cli("model", "create", "--name", "logged", "--path", f"runs:/{run.info.run_id}/model").stdout)
    assert model["run_id"] == run.info.run_id and model["job_name"] is None
    cli("model", "download", "--name", "logged", "--download-path", "dl")
    assert (workspace / "dl" / "logged" / "model" / "model.txt").read_text() == "logged"
    _error(cli("model", "create", "--name", "x", "--path", f"runs:/{'0' * 32}/model", check=False), "does not exist")


LINKING_JOB = f"""\
type: command
command: >-
  {sys.executable} -c "import os, sys; os.symlink('/etc/hostname', sys.argv[1]);
  os.symlink('/etc/hostname', os.path.join(sys.argv[2], 'weights.txt'))"
  ${{{{outputs.file}}}} ${{{{outputs.folder}}}}
outputs:
  file:
    type: uri_file
  folder:
    type: uri_folder
"""


def test_a_link_the_job_left_in_its_output_is_not_followed_out_of_it(workspace: Path, cli: Cli) -> None:
    """A job's code could leave links to files it may not read (jobs run as another user on a server):
    registering its output must not copy what they point at."""
    (workspace / "job.yml").write_text(LINKING_JOB)
    cli("job", "create", "-f", "job.yml", "--name", "linker", "--stream")
    assert json.loads(cli("job", "show", "-n", "linker").stdout)["status"] == "Completed"
    for output in ("file", "folder"):
        uri = f"azureml://jobs/linker/outputs/{output}"
        _error(cli("model", "create", "--name", "x", "--path", uri, check=False), "outside")
