"""Command jobs through the embedded SDK: inputs, outputs, environment variables, exit codes, cancel, code snapshots."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchpoint import Client
from batchpoint.command_jobs.runspec import CommandRunSpec
from batchpoint.command_jobs.service import CommandJobService
from batchpoint.errors import Conflict, InvalidInput
from batchpoint.jobs.schemas import Job, JobState
from batchpoint.services import Services
from batchpoint.workspace import init_workspace

from .conftest import wait_for

MAIN = """\
import os, sys, pathlib
args = sys.argv[1:]
print("args:", " ".join(args))
print("env:", os.environ.get("GREETING"), os.environ.get("AZUREML_RUN_ID"))
data, out = pathlib.Path(args[0]), pathlib.Path(args[-1])
(out / "shout.txt").write_text((data / "words.txt").read_text().upper())
(out / "sub").mkdir()
(out / "sub" / "n.txt").write_text(str(len(args)))
print("done", file=sys.stderr)
"""


class Project:
    def __init__(self, root: Path, client: Client) -> None:
        self.root = root
        self.client = client
        (root / "src").mkdir()
        (root / "src" / "main.py").write_text(MAIN)
        (root / "data").mkdir()
        (root / "data" / "words.txt").write_text("hello world\n")

    def job(self, **fields: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
            "type": "command",
            "code": "src",
            "command": "python main.py ${{inputs.data}} --lr ${{inputs.lr}} $[[--opt ${{inputs.opt}}]] "
            "--flag ${{inputs.flag}} ${{outputs.result}}",
            "inputs": {"data": {"type": "uri_folder", "path": "data"}, "lr": 0.01, "flag": True},
            "outputs": {"result": {"type": "uri_folder"}},
            "environment_variables": {"GREETING": "hi"},
        }
        spec.update(fields)
        return spec

    def create(self, spec: dict[str, Any], **options: Any) -> Job:
        return self.client.jobs.create(spec, base_dir=self.root, **options)

    def wait(self, job: Job, timeout: float = 120) -> Job:
        final = self.client.jobs.wait(job.name, timeout=timeout)
        assert final.status.terminal, final.message
        return final

    def std_log(self, job: Job) -> str:
        return self.client.jobs.logs(job.name, "user_logs/std_log.txt")


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request: pytest.FixtureRequest, tmp_path: Path, engine_env: None) -> Iterator[Project]:
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")
    init_workspace(tmp_path)
    client = Client(tmp_path)
    yield Project(tmp_path, client)
    client.close()


@pytest.fixture
def sqlite_project(tmp_path: Path, engine_env: None) -> Iterator[Project]:
    init_workspace(tmp_path)
    client = Client(tmp_path)
    yield Project(tmp_path, client)
    client.close()


def test_inputs_outputs_and_environment_variables_reach_the_command(project: Project, tmp_path: Path) -> None:
    job = project.wait(project.create(project.job()))
    assert job.status is JobState.completed, job.message
    assert job.type == "command" and job.message == "Completed"
    log = project.std_log(job)
    # literals as Azure writes them, the unset optional fragment dropped, the input as a local folder
    assert f"args: {project.root / 'data'} --lr 0.01 --flag True " in log
    assert "--opt" not in log
    assert f"env: hi {job.name}" in log and "done" in log
    assert job.inputs["lr"].value == "0.01" and job.inputs["data"].resolved == str(project.root / "data")
    out = Path(job.outputs["result"].path)
    assert out == project.root / ".batchpoint" / "datastores" / "workspaceblobstore" / "azureml" / job.name / "result"
    assert (out / "shout.txt").read_text() == "HELLO WORLD\n"
    dest = project.client.jobs.download(job.name, download_path=tmp_path / "dl")
    assert (dest / "named-outputs" / "result" / "shout.txt").read_text() == "HELLO WORLD\n"
    assert (dest / "named-outputs" / "result" / "sub" / "n.txt").is_file()


def test_set_overrides_and_a_given_optional_input(sqlite_project: Project, tmp_path: Path) -> None:
    p = sqlite_project
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "words.txt").write_text("other words\n")
    spec = p.job(inputs={"data": {"type": "uri_folder", "path": "data"}, "lr": 0.01, "flag": True, "opt": "x"})
    job = p.wait(p.create(spec, name="cmd-set", set=["inputs.lr=0.5", f"inputs.data.path={tmp_path / 'other'}"]))
    assert job.name == "cmd-set" and job.status is JobState.completed, job.message
    log = p.std_log(job)
    assert "--lr 0.5 --opt x --flag True" in log
    assert (Path(job.outputs["result"].path) / "shout.txt").read_text() == "OTHER WORDS\n"
    with pytest.raises(Conflict, match="already exists"):
        p.create(spec, name="cmd-set")


def test_a_failing_command_fails_the_job_with_its_exit_code_and_stderr(project: Project) -> None:
    command = "echo to-stdout; echo first >&2; echo 'the real problem' >&2; exit 3"
    job = project.wait(project.create(project.job(command=command, inputs={}, outputs={})))
    assert job.status is JobState.failed
    assert job.failure_reason is not None
    assert job.failure_reason.startswith("command exited with code 3: ")
    assert "the real problem" in job.failure_reason and "to-stdout" not in job.failure_reason
    assert "to-stdout" in project.std_log(job)


def _live(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def test_cancel_kills_the_whole_process_tree(project: Project) -> None:
    pid_file = project.root / "child.pid"
    command = f"sleep 600 & echo $! > {pid_file}; wait"
    job = project.create(project.job(command=command, inputs={}, outputs={}))
    child = int(wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip()))
    assert _live(child)
    project.client.jobs.cancel(job.name)
    final = project.wait(job)
    assert final.status is JobState.canceled
    wait_for(lambda: not _live(child), timeout=20)


def test_code_snapshot_honours_amlignore_then_gitignore(sqlite_project: Project) -> None:
    p = sqlite_project
    src = p.root / "src"
    (src / "secret.txt").write_text("x")
    (src / "build").mkdir()
    (src / "build" / "big.bin").write_text("x")
    (src / "keep.log").write_text("x")
    (src / "other.log").write_text("x")
    (src / ".gitignore").write_text("secret.txt\n")
    listing = "find . -type f | sort > ${{outputs.files}}/listing.txt"
    spec = p.job(command=listing, inputs={}, outputs={"files": {"type": "uri_folder"}})
    job = p.wait(p.create(spec))
    files = (Path(job.outputs["files"].path) / "listing.txt").read_text().split()
    assert "./secret.txt" not in files and "./main.py" in files and "./build/big.bin" in files
    (src / ".amlignore").write_text("# comments are fine\nbuild/\n*.log\n!keep.log\n")
    job = p.wait(p.create(spec))
    files = (Path(job.outputs["files"].path) / "listing.txt").read_text().split()
    assert "./secret.txt" in files  # .amlignore wins over .gitignore
    assert "./build/big.bin" not in files and "./other.log" not in files and "./keep.log" in files


def test_errors_name_the_field_and_the_file(sqlite_project: Project) -> None:
    p = sqlite_project
    (p.root / "job.yml").write_text("type: command\ncommand: echo ${{inputs.nope}}\ncomand: typo\n")
    with pytest.raises(InvalidInput) as bad_field:
        p.client.jobs.create(p.root / "job.yml")
    assert bad_field.value.field == "comand" and bad_field.value.file == str(p.root / "job.yml")
    with pytest.raises(InvalidInput, match="does not exist") as missing:
        p.create(p.job(inputs={"data": {"type": "uri_folder", "path": "nowhere"}, "lr": 1, "flag": False}))
    assert missing.value.field == "inputs.data.path"
    with pytest.raises(InvalidInput, match="outputs") as bad_ref:
        p.create(p.job(command="echo ${{outputs.missing}}", inputs={}, outputs={}))
    assert bad_ref.value.field == "command"
    with pytest.raises(InvalidInput, match="expects a file"):
        p.create(p.job(inputs={"data": {"type": "uri_file", "path": "data"}, "lr": 1, "flag": False}))
    with pytest.raises(InvalidInput, match="names input 'lr', which the job does not give") as not_given:
        p.create(p.job(inputs={"data": {"type": "uri_folder", "path": "data"}}))
    assert not_given.value.field == "command"
    with pytest.raises(InvalidInput, match="unknown job type"):
        p.create({"type": "sweep", "command": "true"})


def test_data_assets_and_datastore_uris_as_inputs(sqlite_project: Project) -> None:
    p = sqlite_project
    p.client.data.create("words", p.root / "data", type="uri_folder")
    blob = p.root / ".batchpoint" / "datastores" / "workspaceblobstore" / "in"
    blob.mkdir(parents=True)
    (blob / "f.txt").write_text("from the datastore")
    inputs = {
        "asset": {"type": "uri_folder", "path": "azureml:words@latest"},
        "uri": {"type": "uri_file", "path": "azureml://datastores/workspaceblobstore/paths/in/f.txt"},
    }
    job = p.wait(p.create(p.job(command="cat ${{inputs.asset}}/words.txt ${{inputs.uri}}", inputs=inputs, outputs={})))
    assert job.status is JobState.completed, job.message
    assert "hello world" in p.std_log(job) and "from the datastore" in p.std_log(job)


def test_create_run_is_the_pipeline_engines_way_in(sqlite_project: Project) -> None:
    """What the pipeline engine does for a step: resolve inputs against declared ports, build the run, create it."""
    p = sqlite_project
    ctx = p.client._services
    assert isinstance(ctx, Services)
    service = CommandJobService(ctx)
    declared = {
        "data": {"type": "uri_folder"},
        "n": {"type": "integer", "default": 3},
        "tag": {"type": "string", "optional": True},
    }
    inputs = service.resolve_inputs({"data": "data"}, base_dir=p.root, file=None, declared=declared)
    assert set(inputs) == {"data", "n"} and inputs["n"].value == "3" and inputs["data"].content_hash
    again = service.resolve_inputs({"data": "data"}, base_dir=p.root, file=None, declared=declared)
    assert again["data"].content_hash == inputs["data"].content_hash
    with pytest.raises(InvalidInput, match="expected an integer"):
        service.resolve_inputs({"data": "data", "n": "many"}, base_dir=p.root, file=None, declared=declared)
    with pytest.raises(InvalidInput, match="required"):
        service.resolve_inputs({}, base_dir=p.root, file=None, declared=declared)
    output = service.default_output("parent-step", "out", "uri_folder")
    run = CommandRunSpec(
        command="ls ${{inputs.data}} > ${{outputs.out}}/ls.txt; echo ${{inputs.n}} $[[${{inputs.tag}}]]",
        inputs=inputs,
        outputs={"out": output},
    )
    parent = service.create_run(run.model_copy(), name="parent", parent_job_name=None, experiment_name="e", start=False)
    assert parent.status is JobState.queued
    step = service.create_run(run, name="parent-step", parent_job_name="parent", experiment_name="e")
    step = p.wait(step)
    assert step.status is JobState.completed, step.message
    assert step.parent_job_name == "parent"
    assert (Path(output.path) / "ls.txt").read_text() == "words.txt\n"
    assert [j.name for j in p.client.jobs.list(parent_job_name="parent")] == ["parent-step"]


def test_a_curated_environment_is_registered_on_first_use(sqlite_project: Project) -> None:
    p = sqlite_project
    ref = "azureml://registries/azureml/environments/minimal-ubuntu22.04-py39-cpu/labels/latest"
    command = "python -c 'import sys; print(sys.prefix)'; echo $VIRTUAL_ENV"
    job = p.wait(p.create(p.job(command=command, environment=ref, inputs={}, outputs={})))
    assert job.status is JobState.completed, job.message
    env = p.client.environments.get("AzureML-minimal-ubuntu22.04-py39-cpu")
    assert env.version == "1" and env.pip_requirements is None
    assert job.environment is not None and job.environment["kind"] == "registered"
    assert str(job.environment["path"]) in p.std_log(job)
    same = p.client._services.environments.resolve("azureml:AzureML-minimal-ubuntu22.04-py39-cpu@latest")
    assert same.id == env.id
    with pytest.raises(InvalidInput, match="not a curated environment"):
        p.client._services.environments.resolve("azureml://registries/azureml/environments/nope/labels/latest")


def test_a_resumed_job_runs_the_command_again(sqlite_project: Project) -> None:
    p = sqlite_project
    pid_file = p.root / "cmd.pid"
    marker = p.root / "ran"
    command = f"echo run >> {marker}; if [ $(wc -l < {marker}) -lt 2 ]; then echo $$ > {pid_file}; sleep 600; fi"
    job = p.create(p.job(command=command, inputs={}, outputs={}))
    wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip())
    driver = p.client.jobs.get(job.name).driver.pid
    assert driver is not None
    os.kill(driver, signal.SIGKILL)
    os.killpg(int(pid_file.read_text()), signal.SIGKILL)
    wait_for(lambda: p.client.jobs.get(job.name).driver.lost, timeout=30)
    p.client.jobs.resume(job.name)
    final = p.wait(job)
    assert final.status is JobState.completed, final.message
    assert marker.read_text() == "run\nrun\n"
