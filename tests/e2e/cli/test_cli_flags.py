"""The flag spellings Azure ML CLI scripts use, and ``datastore list|show``, through the real console script.

``--endpoint`` for ``--endpoint-name``, ``--f`` for ``--file`` (the Azure CLI accepts any unambiguous
prefix of a long option), ``--yes``/``-y`` on deletes, ``--no-wait`` on create/update/delete/invoke
(accepted: batchpoint's changes are synchronous and invoke returns at once), and ``job list
--experiment-name``/``--parent-job-name``. Set-up that is not under test goes through the SDK, to keep
the number of subprocesses (each about a second) small.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Cli, CliResult
from tests.e2e.server.conftest import Server

from batchpoint import Client
from batchpoint.workspace import init_workspace

DATA = Path(__file__).parents[2] / "data"

SCORER = """
def init():
    pass


def run(mini_batch):
    return [1] * len(mini_batch)
"""

DEPLOYMENT = """\
name: flag-dep
endpoint_name: placeholder-ep
type: model
model:
  name: flag-model
  path: model
code_configuration:
  code: code
  scoring_script: score.py
settings:
  mini_batch_size: 1
  max_concurrency_per_instance: 1
"""


def _json(result: CliResult) -> Any:
    return json.loads(result.stdout)


def _tsv(result: CliResult) -> str:
    return result.stdout.strip()


def _write_deployment(root: Path) -> Path:
    (root / "model").mkdir()
    (root / "model" / "weights.txt").write_text("1\n")
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(SCORER)
    (root / "deployment.yml").write_text(DEPLOYMENT)
    return root / "deployment.yml"


def _inputs(folder: Path, files: int = 2) -> Path:
    folder.mkdir()
    for i in range(files):
        (folder / f"f{i}.txt").write_text("x\n")
    return folder


def test_endpoint_file_and_no_wait_spellings_on_endpoints_and_deployments(workspace: Path, cli: Cli) -> None:
    (workspace / "endpoint.yml").write_text("name: flag-ep\ndescription: first\n")
    _write_deployment(workspace)
    assert _json(cli("batch-endpoint", "create", "--f", "endpoint.yml", "--no-wait"))["name"] == "flag-ep"
    updated = cli("batch-endpoint", "update", "-n", "flag-ep", "--set", "description=second", "--no-wait")
    assert _json(updated)["description"] == "second"

    # --endpoint overrides the file's endpoint_name, as --endpoint-name does.
    created = cli(
        "batch-deployment", "create", "--f", "deployment.yml", "--endpoint", "flag-ep", "--set-default", "--no-wait"
    )
    assert _json(created)["endpoint_name"] == "flag-ep"
    shown = cli("batch-deployment", "show", "-n", "flag-dep", "--endpoint", "flag-ep", "--query", "name", "-o", "tsv")
    assert _tsv(shown) == "flag-dep"
    assert (
        _tsv(cli("batch-deployment", "list", "--endpoint", "flag-ep", "--query", "[].name", "-o", "tsv")) == "flag-dep"
    )
    changed = cli(
        "batch-deployment", "update", "-n", "flag-dep", "--endpoint", "flag-ep", "--f", "deployment.yml",
        "--set", "settings.mini_batch_size=3", "--no-wait", "--query", "settings.mini_batch_size", "-o", "tsv",
    )  # fmt: skip
    assert _tsv(changed) == "3"
    assert _json(cli("batch-deployment", "list-jobs", "-n", "flag-dep", "--endpoint", "flag-ep")) == []

    deleted = cli("batch-deployment", "delete", "-n", "flag-dep", "--endpoint", "flag-ep", "--yes", "--no-wait")
    assert "Deleted deployment 'flag-dep'" in deleted.stderr
    cli("batch-endpoint", "delete", "-n", "flag-ep", "-y", "--no-wait")
    assert _json(cli("batch-endpoint", "list")) == []


def test_file_prefix_yes_and_no_wait_on_asset_commands(workspace: Path, cli: Cli, client: Client) -> None:
    shutil.copytree(DATA / "registry" / "data", workspace / "data")
    compute = cli("compute", "create", "--f", str(DATA / "registry/computes/batch-cluster.yml"), "--no-wait")
    assert _json(compute)["name"] == "batch-cluster"
    cli("compute", "update", "-n", "batch-cluster", "--max-instances", "3", "--no-wait")
    data = cli("data", "create", "--f", "data/heart-unlabeled.yml", "--no-wait", "--query", "name", "-o", "tsv")
    assert _tsv(data) == "heart-dataset-unlabeled"

    cli("compute", "delete", "-n", "batch-cluster", "--yes", "--no-wait")
    cli("data", "delete", "-n", "heart-dataset-unlabeled", "-v", "1", "-y", "--no-wait")
    assert [c.name for c in client.computes.list()] == ["local"]
    assert client.data.list(include_archived=True) == []


def test_invoke_spellings_and_job_list_filters(workspace: Path, cli: Cli, client: Client) -> None:
    client.batch_endpoints.create_from_file(None, name="flag-ep")
    client.batch_deployments.create_from_file(_write_deployment(workspace), endpoint_name="flag-ep", set_default=True)
    _inputs(workspace / "data")
    (workspace / "inputs.yml").write_text("inputs:\n  data:\n    type: uri_folder\n    path: data\n")
    first = _tsv(
        cli(
            "batch-endpoint", "invoke", "-n", "flag-ep", "--f", "inputs.yml", "--experiment-name", "exp-a",
            "--no-wait", "--query", "name", "-o", "tsv",
        )
    )  # fmt: skip
    second = client.batch_endpoints.invoke("flag-ep", input=str(workspace / "data"), experiment_name="exp-b").name
    for name in (first, second):  # no driver may outlive the test's folder
        assert client.jobs.wait(name, timeout=120).status.value == "Completed"

    listed = cli("job", "list", "--experiment-name", "exp-a", "--query", "[].name", "-o", "tsv")
    assert _tsv(listed) == first
    assert _json(cli("job", "list", "--experiment-name", "no-such-experiment")) == []
    # Batch jobs have no child jobs: the flag is accepted and lists none.
    assert _json(cli("job", "list", "--parent-job-name", first)) == []
    assert _tsv(cli("job", "list", "--endpoint", "flag-ep", "--query", "length(@)", "-o", "tsv")) == "2"

    # The filter looks past the newest job: the newest of all is exp-b's, yet limit=1 finds exp-a's.
    assert [j.name for j in client.jobs.list(experiment_name="exp-a", limit=1)] == [first]
    assert [j.name for j in client.jobs.list(limit=1)] == [second]
    assert client.jobs.list(parent_job_name=second) == []


def test_datastore_list_and_show(workspace: Path, cli: Cli, client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "shared-folder"
    folder.mkdir()
    client.services.datastores.create("shared", folder, description="team folder")

    listed = _json(cli("datastore", "list"))
    assert [(d["name"], d["is_default"]) for d in listed] == [("workspaceblobstore", True), ("shared", False)]
    shown = _json(cli("datastore", "show", "-n", "shared"))
    assert shown == {
        "name": "shared", "type": "local", "root": str(folder.resolve()), "description": "team folder",
        "is_default": False,
    }  # fmt: skip
    assert "workspaceblobstore" in cli("datastore", "list", "-o", "table").stdout
    assert [d.model_dump() for d in client.datastores.list()] == listed
    assert client.datastores.show("shared").root == str(folder.resolve())

    missing = cli("datastore", "show", "-n", "no-such-store", check=False)
    assert missing.returncode == 2 and "Traceback" not in missing.output
    assert missing.stderr.startswith("ERROR: datastore 'no-such-store' does not exist")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A ``batchpoint server`` on a workspace of its own (not the one the CLI runs in)."""
    project = tmp_path / "server-project"
    project.mkdir()
    init_workspace(project)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPOINT_")}
    env.update(
        {
            "BATCHPOINT_BOOTSTRAP_TOKEN": "bp-test-" + secrets.token_urlsafe(32),
            "BATCHPOINT_CONFIG": str(project / "user-config.json"),
            "BATCHPOINT_ENGINE_WORKER_USER": "root",
            "NO_COLOR": "1",
        }
    )
    running = Server(project, env).start()
    yield running
    running.stop()


def test_datastore_commands_through_a_server(server: Server, tmp_path: Path) -> None:
    elsewhere = tmp_path / "client-side"
    elsewhere.mkdir()
    cli = Cli(elsewhere)  # no workspace here: after login every command talks to the server
    cli("login", "--server", server.url, "--token", server.token)

    listed = _json(cli("datastore", "list"))
    assert [d["name"] for d in listed] == ["workspaceblobstore"]
    assert _json(cli("datastore", "show", "-n", "workspaceblobstore")) == listed[0]
    missing = cli("datastore", "show", "-n", "no-such-store", check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr

    with server.client() as remote:
        assert [d.model_dump() for d in remote.datastores.list()] == listed
        assert remote.datastores.get("workspaceblobstore").is_default
