"""Pipeline jobs through the server: the remote SDK uploads the local inputs and code and registers the
local component files, the server checks every path in the pipeline, its queue runs the steps."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from batchpoint.client.transport import Transport
from batchpoint.common import yamlio
from batchpoint.errors import BatchpointError, Forbidden
from batchpoint.jobs.invoke import InvokeRequest
from batchpoint.pipelines.remote import upload_pipeline_paths

from .conftest import BIN, Server, ServerFactory, wait_for

UPPER_YML = """\
type: command
name: upper
version: "1"
inputs:
  data: {type: uri_folder}
outputs:
  out: {type: uri_folder}
code: src
command: python upper.py ${{inputs.data}} ${{outputs.out}}
"""
UPPER_PY = """\
import pathlib, sys
data, out = sys.argv[1:]
text = pathlib.Path(data, "words.txt").read_text().strip()
pathlib.Path(out, "upper.txt").write_text(text.upper())
"""
SUFFIX_PY = """\
import pathlib, sys
prepared, suffix, out = sys.argv[1:]
pathlib.Path(out, "result.txt").write_text(pathlib.Path(prepared, "upper.txt").read_text() + suffix)
"""
PIPELINE: dict[str, Any] = {
    "type": "pipeline",
    "inputs": {"words": {"type": "uri_folder", "path": "data"}, "suffix": "!"},
    "outputs": {"final": {"type": "uri_folder"}},
    "jobs": {
        "prepare": {  # a local component file: registered on the server by the SDK
            "type": "command",
            "component": "components/upper.yml",
            "inputs": {"data": {"path": "${{parent.inputs.words}}"}},  # a binding in a mapping: never uploaded
        },
        "finish": {  # an inline step: its code folder uploaded
            "type": "command",
            "code": "steps",
            "command": "python suffix.py ${{inputs.prepared}} ${{inputs.suffix}} ${{outputs.result}}",
            "inputs": {"prepared": "${{parent.jobs.prepare.outputs.out}}", "suffix": "${{parent.inputs.suffix}}"},
            "outputs": {"result": "${{parent.outputs.final}}"},
        },
    },
}


@pytest.fixture(scope="module")
def server(server_factory: ServerFactory) -> Server:
    return server_factory()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The pipeline's files on the client's machine (none of them exists on the server)."""
    for rel, text in {
        "data/words.txt": "ab\n",
        "components/upper.yml": UPPER_YML,
        "components/src/upper.py": UPPER_PY,
        "steps/suffix.py": SUFFIX_PY,
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "pipeline.yml").write_text(yamlio.dumps(PIPELINE))
    return tmp_path


def test_a_local_pipeline_runs_on_the_server(server: Server, project: Path) -> None:
    with server.client() as client:
        job = client.jobs.create(project / "pipeline.yml", set=["inputs.suffix=-ok"])
        assert job.type == "pipeline" and job.experiment_name == project.name
        final = client.jobs.wait(job.name, timeout=120)
        assert final.status.value == "Completed", final.message
        children = client.jobs.list(parent_job_name=job.name)
        assert sorted(c.name for c in children) == [f"{job.name}-finish", f"{job.name}-prepare"]
        assert all(c.status.value == "Completed" for c in children)
        for child in children:  # the server's queue started each step (the pipeline's driver only queued it)
            assert ("supervisor", "launch") in [(e.actor, e.action) for e in client.jobs.get(child.name).history]
        dest = client.jobs.download(job.name, output_name="final", download_path=project / "dl")
        assert (dest / "named-outputs" / "final" / "result.txt").read_text() == "AB-ok"


def _refused(server: Server, spec: dict[str, Any], token: str | None = None) -> tuple[int, str]:
    with server.http(token or server.token) as http:
        answer = http.post("/api/v1/jobs", json={"spec": spec})
    return answer.status_code, answer.text


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("inputs.words.path", {"inputs": {"words": {"type": "uri_folder", "path": "/etc"}, "suffix": "!"}}),
        (
            "jobs.s.inputs.d.path",
            {"jobs": {"s": {"command": "true", "inputs": {"d": {"type": "uri_folder", "path": "/etc"}}}}},
        ),
        ("jobs.s.code", {"jobs": {"s": {"command": "true", "code": "/etc"}}}),
        ("jobs.s.outputs.o.path", {"jobs": {"s": {"command": "true", "outputs": {"o": {"path": "/etc/out"}}}}}),
        ("outputs.final.path", {"outputs": {"final": {"type": "uri_folder", "path": "/etc/out"}}}),
        ("jobs.s.component", {"jobs": {"s": {"component": "/etc/component.yml"}}}),
        ("jobs.s.task.code", {"jobs": {"s": {"type": "parallel", "task": {"code": "/etc", "entry_script": "x"}}}}),
    ],
)
def test_a_path_outside_the_server_folders_is_a_clear_4xx(server: Server, field: str, change: dict[str, Any]) -> None:
    spec = {"type": "pipeline", "jobs": {"s": {"command": "true"}}, **change}
    status, text = _refused(server, spec)
    assert status == 422, text
    error = json.loads(text)["error"]
    assert "outside the folders this server reads from" in error["message"] and error["field"] == field, error


def test_a_local_input_that_is_no_file_here_is_refused_as_a_server_path(server: Server, project: Path) -> None:
    with server.client() as client, pytest.raises(BatchpointError, match="outside the folders this server reads"):
        client.jobs.create({**PIPELINE, "inputs": {"words": {"path": "/no-such-folder/x"}, "suffix": "!"}},
                           base_dir=project)  # fmt: skip


def test_an_endpoint_scoped_token_cannot_create_a_pipeline_job(server: Server, project: Path) -> None:
    with server.client() as owner:
        owner.batch_endpoints.create_from_file(None, name="pipe-ep")
        scoped = owner.tokens.create("contributor", name="pipe-app", endpoint="pipe-ep").token
        before = {j.name for j in owner.jobs.list()}
    status, text = _refused(server, {"type": "pipeline", "jobs": {"s": {"command": "true"}}}, scoped)
    assert status == 403 and "pipe-ep" in text
    with server.client(scoped) as client, pytest.raises(Forbidden):
        client.jobs.create(project / "pipeline.yml")
    with server.client() as owner:
        assert {j.name for j in owner.jobs.list()} == before


def test_the_cli_creates_a_pipeline_on_the_server_and_lists_its_steps(server: Server, project: Path) -> None:
    env = {k: v for k, v in server.env.items() if k != "BATCHPOINT_BOOTSTRAP_TOKEN"}
    env.update({"BATCHPOINT_SERVER": server.url, "BATCHPOINT_TOKEN": server.token})

    def cli(*args: str) -> tuple[Any, str]:
        """The command's JSON answer (the first value printed) and all it printed."""
        proc = subprocess.run(
            [str(BIN / "batchpoint"), *args, "-o", "json"], cwd=project, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.JSONDecoder().raw_decode(proc.stdout)[0], proc.stdout + proc.stderr

    created, printed = cli("job", "create", "-f", "pipeline.yml", "--stream")
    name = created["name"]
    assert f"Job {name}: Completed" in printed and "step finish: Completed" in printed, printed
    steps, _ = cli("job", "list", "--parent-job-name", name)
    assert sorted(s["name"] for s in steps) == [f"{name}-finish", f"{name}-prepare"]


def _server_project(server: Server, code: str) -> tuple[Path, dict[str, Any]]:
    """A component file and an input folder on the server, inside its datastores: a pipeline naming them."""
    root = server.workspace / "datastores" / "workspaceblobstore" / f"shared-{abs(hash(code))}"
    (root / "comp" / "src").mkdir(parents=True, exist_ok=True)
    (root / "comp" / "upper.yml").write_text(UPPER_YML.replace("code: src", f"code: {code}"))
    (root / "comp" / "src" / "upper.py").write_text(UPPER_PY)
    (root / "words").mkdir(exist_ok=True)
    (root / "words" / "words.txt").write_text("cd\n")
    spec = {
        "type": "pipeline",
        "inputs": {"words": {"type": "uri_folder", "path": str(root / "words")}},
        "outputs": {
            "upper": {"type": "uri_folder", "path": f"azureml://datastores/workspaceblobstore/paths/{root.name}-out"}
        },
        "jobs": {
            "prepare": {
                "component": str(root / "comp" / "upper.yml"),
                "inputs": {"data": "${{parent.inputs.words}}"},
                "outputs": {"out": "${{parent.outputs.upper}}"},
            }
        },
    }
    return root, spec


def test_a_component_file_of_the_server_inside_its_folders_runs(server: Server, tmp_path: Path) -> None:
    root, spec = _server_project(server, "src")
    with server.http(server.token) as http:
        answer = http.post("/api/v1/jobs", json={"spec": spec})
    assert answer.status_code == 202, answer.text
    with server.client() as client:
        name = answer.json()["name"]
        assert client.jobs.wait(name, timeout=120).status.value == "Completed"
        dest = client.jobs.download(name, output_name="upper", download_path=tmp_path)
        assert (dest / "named-outputs" / "upper" / "upper.txt").read_text() == "CD"
    # the pipeline output's datastore URI was turned into its folder on the server
    assert (root.with_name(f"{root.name}-out") / "upper.txt").read_text() == "CD"


@pytest.mark.parametrize(("code", "message"), [("/etc", "outside the folders"), ("../../../../../../etc", "'..'")])
def test_a_server_component_file_cannot_name_code_outside_the_folders(server: Server, code: str, message: str) -> None:
    _, spec = _server_project(server, code)
    status, text = _refused(server, spec)
    assert status == 422 and message in text, text


class _Recorder(Transport):
    """A transport that records what it would upload (no server)."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", None)
        self.uploaded: list[Path] = []

    def upload(self, local: Path) -> str:
        self.uploaded.append(local.resolve())
        return f"azureml://datastores/workspaceblobstore/paths/uploads/{len(self.uploaded):032x}/{local.name}"


def test_the_sdk_uploads_a_parallel_steps_task_and_leaves_bindings_and_literals(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "conda.yml").write_text("dependencies: [python=3.11]\n")
    bound = {"path": "${{parent.inputs.d}}", "type": "uri_folder"}
    data: dict[str, Any] = {
        "type": "pipeline",
        "inputs": {
            "d": {"type": "uri_folder", "path": "data"},
            "n": 3,
            "mode": {"type": "string", "default": "append"},
            "ds": {"type": "uri_folder", "path": "azureml://datastores/workspaceblobstore/paths/x"},
            "asset": {"type": "uri_folder", "path": "azureml:words@latest"},
        },
        "jobs": {
            "score": {
                "type": "parallel",
                "inputs": {"data": "${{parent.inputs.d}}", "again": bound},
                "outputs": {"out": {"type": "uri_folder", "path": "/somewhere/of/the/server"}},
                "input_data": "${{inputs.data}}",
                "task": {
                    "type": "run_function",
                    "code": "src",
                    "entry_script": "score.py",
                    "environment": {"image": "python:3.11", "conda_file": "conda.yml"},
                },  # fmt: skip
            }
        },
    }
    transport = _Recorder()
    sent = upload_pipeline_paths(transport, data, tmp_path)
    assert transport.uploaded == [tmp_path / "data", tmp_path / "src"]
    assert sent["inputs"]["d"]["path"].endswith("/data")
    assert {k: sent["inputs"][k] for k in ("n", "mode", "ds", "asset")} == {
        k: data["inputs"][k] for k in ("n", "mode", "ds", "asset")
    }
    step = sent["jobs"]["score"]
    assert step["inputs"] == {"data": "${{parent.inputs.d}}", "again": bound}
    assert step["outputs"] == data["jobs"]["score"]["outputs"]  # outputs are the server's business
    assert step["task"]["code"].startswith("azureml://datastores/") and step["task"]["code"].endswith("/src")
    assert step["task"]["environment"]["conda_file"] == {"dependencies": ["python=3.11"]}  # read, sent inline
    assert data["jobs"]["score"]["task"]["code"] == "src"  # the caller's mapping is left as it was


def test_a_pipeline_takes_no_slot_of_its_own_so_its_steps_run_on_a_one_slot_compute(
    server_factory: ServerFactory,
) -> None:
    server = server_factory({"BATCHPOINT_SERVER_JOBS_PER_COMPUTE": "1"})
    spec = {"type": "pipeline", "jobs": {"a": {"command": "echo a"}, "b": {"command": "echo b"}}}
    with server.client() as client:
        jobs = [client.jobs.create(spec), client.jobs.create(spec)]  # two pipelines at once: no deadlock either
        for job in jobs:
            assert client.jobs.wait(job.name, timeout=60).status.value == "Completed"


def test_its_starter_cancels_a_pipeline_or_one_of_its_steps(server: Server) -> None:
    with server.client() as owner:
        contributor = owner.tokens.create("contributor", name="pipe-carol").token
    spec = {"type": "pipeline", "jobs": {"long": {"command": "sleep 600"}}}
    with server.client(contributor) as client:

        def running_step(job: str) -> str:
            def running() -> list[str]:
                return [c.name for c in client.jobs.list(parent_job_name=job) if c.status.value == "Running"]

            return str(wait_for(running)[0])

        whole = client.jobs.create(spec)
        step = running_step(whole.name)
        client.jobs.cancel(whole.name)
        assert client.jobs.wait(whole.name, timeout=60).status.value == "Canceled"
        assert client.jobs.wait(step, timeout=60).status.value == "Canceled"
        # a step is its pipeline's starter's too (the driver that made it holds no token)
        other = client.jobs.create(spec)
        client.jobs.cancel(running_step(other.name))
        failed = client.jobs.wait(other.name, timeout=60)
        assert failed.status.value == "Failed" and "long" in (failed.failure_reason or ""), failed.failure_reason


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "pipeline", "jobs": []},
        {"type": "pipeline", "jobs": {"s": "true"}},
        {"type": "pipeline", "inputs": [], "outputs": "x", "jobs": {"s": {"command": "true"}}},
        {"type": "pipeline", "inputs": {"d": {"path": 5}}, "jobs": {"s": {"command": "true"}}},
        {"type": "pipeline", "jobs": {"s": {"command": "true", "inputs": [1], "outputs": {"o": "/etc"}}}},
        {"type": "pipeline", "jobs": {"s": {"command": "true", "code": 5, "environment": "nope", "task": "x"}}},
        {"type": "pipeline", "jobs": {"s": {"component": 5}}},
        {"type": "pipeline", "jobs": {"s": {"component": {"type": "command", "command": "true", "code": "/etc"}}}},
        {"type": "pipeline", "jobs": {"s": {"component": "relative/component.yml"}}},
        {"type": "pipeline", "jobs": {"s": {"component": "/"}}},
        {"type": "pipeline", "jobs": {"s": {"command": "true", "inputs": {"d": {"path": "${{ not a binding"}}}}},
        {"type": "pipeline", "jobs": {"s": {"command": "true", "environment_variables": ["A=1"]}}},
        {"type": "pipeline", "jobs": {"s": {"command": "true", "inputs": {"d": [1, 2]}, "outputs": {"o": 5}}}},
        {"type": "pipeline", "jobs": {"s": {"command": ["true"], "compute": {"x": 1}, "type": 5}}},
        {"type": "pipeline", "settings": [], "jobs": {"s": {"command": "true"}}},
        {"type": "pipeline", "jobs": {"s": {"type": "parallel", "task": {"code": 5}, "input_data": 3}}},
        {"type": "pipeline", "jobs": {"s": {"command": "true", "code": "azureml://datastores/nope/paths/x"}}},
    ],
)
def test_odd_pipeline_specs_are_4xx_never_5xx(server: Server, spec: dict[str, Any]) -> None:
    status, text = _refused(server, spec)
    assert 400 <= status < 500, text


HELLO_COMPONENT = """\
type: pipeline
name: hello_steps
jobs:
  hello:
    type: command
    component:
      command: echo hello from a step
"""


def test_an_invoke_only_token_follows_the_steps_of_the_pipeline_it_invoked(server: Server, tmp_path: Path) -> None:
    (tmp_path / "hello.yml").write_text(HELLO_COMPONENT)
    deployment = {"name": "hello-dpl", "endpoint_name": "hello-ep", "type": "pipeline", "component": "hello.yml"}
    (tmp_path / "deployment.yml").write_text(yamlio.dumps(deployment))
    with server.client() as owner:
        owner.batch_endpoints.create_from_file(None, name="hello-ep")
        owner.batch_deployments.create_from_file(tmp_path / "deployment.yml", set_default=True)
        app = owner.tokens.create("contributor", name="hello-app", endpoint="hello-ep", invoke_only=True).token
        other = owner.tokens.create("contributor", name="hello-other", endpoint="hello-ep", invoke_only=True).token
    with server.client(app) as client:
        job = client.batch_endpoints.invoke("hello-ep", InvokeRequest())
        final = client.jobs.wait(job.name, timeout=120)
        assert final.status.value == "Completed", final.message
        step = final.steps[0].job
        assert step is not None and client.jobs.get(step).status.value == "Completed"
        assert "hello from a step" in client.jobs.logs(step, "user_logs/std_log.txt")
    with server.client(other) as client, pytest.raises(BatchpointError, match="does not exist"):
        client.jobs.get(step)  # another application on the endpoint: not its job
