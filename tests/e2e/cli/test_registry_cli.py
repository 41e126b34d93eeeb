"""The registry commands through the real ``batchpoint`` console script (a subprocess per call).

Each call costs about a second, so every test chains several checks on one workspace.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import CliResult

from batchpoint import Client
from batchpoint.cli.main import run
from batchpoint.store.tables import BatchDeploymentRow, BatchEndpointRow

DATA = Path(__file__).parents[2] / "data" / "registry"
MODEL_YML = DATA / "models" / "heart-mlflow" / "model.yml"


@pytest.fixture
def run_cli(workspace: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> Any:
    """Call the console script's entry function in this process: the same code path as the
    installed script, without a second of interpreter start-up per call."""
    monkeypatch.chdir(workspace)
    monkeypatch.delenv("BATCHPOINT_WORKSPACE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(*args: str, expect: int = 2) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["batchpoint", *args])
        code: int | str | None = 0
        try:
            run()
        except SystemExit as exc:
            code = exc.code
        out, err = capfd.readouterr()
        result = CliResult(int(code or 0), out, err)
        assert result.returncode == expect, (args, result.output)
        return result

    return invoke


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def assert_user_error(result: Any, *needles: str) -> None:
    """Exit 2, one ``ERROR:`` line (plus an optional hint), no traceback, and the words we expect."""
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("ERROR: "), result.output
    assert all(line.lstrip().startswith("hint:") for line in lines[1:]), result.output
    for needle in needles:
        assert needle in result.stderr, (needle, result.output)


def _model_folder(root: Path) -> Path:
    folder = root / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w1")
    return folder


def test_model_commands(cli: Any, workspace: Path) -> None:
    created = as_json(cli("model", "create", "-f", str(MODEL_YML)))
    shown = cli("model", "show", "-n", "heart-classifier-mlflow", "--label", "latest", "-o", "yaml").stdout
    source = yaml.safe_load(MODEL_YML.read_text())
    assert yaml.safe_load(shown) == created
    assert (created["name"], created["type"], created["description"], created["path"]) == (
        source["name"],
        source["type"],
        source["description"],
        "model",
    )
    assert created["tags"] == {"framework": "sklearn", "rows": "303"}
    assert set(created["flavors"]) == {"python_function", "sklearn"}

    folder = _model_folder(workspace)
    assert cli("model", "create", "-n", "m", "-p", "./model", "--query", "version", "-o", "tsv").stdout == "1\n"
    flags = ["-n", "m", "-p", "model", "--tag", "team=a", "-d", "two", "--set", "stage=Dev"]
    second = as_json(cli("model", "create", *flags))
    assert (second["version"], second["tags"], second["stage"]) == ("2", {"team": "a"}, "Dev")
    (folder / "weights.bin").write_bytes(b"changed")  # registered versions do not follow the folder

    assert as_json(cli("model", "archive", "-n", "m", "-v", "2", "--query", "archived")) is True
    table = cli("model", "list", "-n", "m", "-o", "table").stdout
    assert "custom_model" in table and "two" not in table  # version 2 is archived
    listed = as_json(cli("model", "list", "--include-archived", "-n", "m", "--query", "[].[version, archived]"))
    assert listed == [["1", False], ["2", True]]
    assert as_json(cli("model", "restore", "-n", "m", "--query", "archived")) is False

    got = as_json(cli("model", "download", "-n", "m", "-v", "1", "--download-path", "dl"))
    assert Path(got["path"]) == workspace / "dl" / "m" / "model"
    assert (Path(got["path"]) / "weights.bin").read_bytes() == b"w1"
    deleted = cli("model", "delete", "-n", "m", "-v", "1", "--yes")
    assert deleted.stdout == "" and "Deleted model 'm' version '1'" in deleted.stderr
    with Client(workspace) as client:
        assert [(m.name, m.version) for m in client.models.list()] == [("heart-classifier-mlflow", "1"), ("m", "2")]


def test_environment_commands(cli: Any, workspace: Path) -> None:
    created = as_json(cli("environment", "create", "-f", str(DATA / "environments" / "environment.yml")))
    assert created["conda_file"]["dependencies"][0] == "python=3.11" and created["version"] == "1"
    (workspace / "requirements.txt").write_text("pandas\n")
    flags = ["-n", "batch-sklearn", "--pip-requirements", "requirements.txt", "--python-version", "3.11"]
    assert as_json(cli("environment", "create", *flags, "--query", "[version, pip_requirements]")) == ["2", ["pandas"]]
    assert as_json(cli("environment", "show", "-n", "batch-sklearn", "-v", "1", "--query", "image")).startswith("mcr.")
    assert as_json(cli("environment", "archive", "-n", "batch-sklearn", "--query", "archived")) is True
    assert as_json(cli("environment", "restore", "-n", "batch-sklearn", "-v", "2", "--query", "archived")) is False
    cli("environment", "delete", "-n", "batch-sklearn", "-v", "2", "--yes")
    listed = cli("environment", "list", "--include-archived", "-o", "tsv", "--query", "[].[name, version, archived]")
    assert listed.stdout.splitlines() == ["batch-sklearn\t1\tTrue"]


def test_data_commands(cli: Any, workspace: Path) -> None:
    data_yml = str(DATA / "data" / "heart-unlabeled.yml")
    created = as_json(cli("data", "create", "-f", data_yml))
    assert created["path"] == str((DATA / "data" / "heart-unlabeled").resolve())
    (workspace / "one.csv").write_text("a\n1\n")
    one = as_json(cli("data", "create", "-n", "one", "-p", "one.csv", "--type", "uri_file", "-v", "7"))
    assert (one["version"], one["path"]) == ("7", str(workspace / "one.csv"))
    assert as_json(cli("data", "show", "-n", "heart-dataset-unlabeled", "--query", "type")) == "uri_folder"
    assert as_json(cli("data", "archive", "-n", "one", "--query", "archived")) is True
    assert as_json(cli("data", "list", "--query", "[].name")) == ["heart-dataset-unlabeled"]
    assert as_json(cli("data", "restore", "-n", "one", "-v", "7", "--query", "archived")) is False
    cli("data", "delete", "-n", "one", "-v", "7", "--yes")
    with Client(workspace) as client:
        assert [d.name for d in client.data.list(include_archived=True)] == ["heart-dataset-unlabeled"]


def test_compute_commands(cli: Any) -> None:
    cluster = as_json(cli("compute", "create", "-f", str(DATA / "computes" / "batch-cluster.yml")))
    assert (cluster["type"], cluster["max_instances"]) == ("amlcompute", 5)
    ray = ["-n", "ray-gpu", "--type", "ray", "--address", "ray://head:10001", "--resources", '{"GPU": 1}']
    assert as_json(cli("compute", "create", *ray, "--query", "resources")) == {"GPU": 1.0}
    updated = as_json(cli("compute", "update", "-n", "batch-cluster", "--max-instances", "8", "--tag", "cost=low"))
    assert updated["max_instances"] == 8 and updated["tags"] == {"cost": "low"}
    assert as_json(cli("compute", "show", "-n", "local", "--query", "type")) == "local"
    cli("compute", "delete", "-n", "ray-gpu", "--yes")
    assert as_json(cli("compute", "list", "--query", "[].name")) == ["local", "batch-cluster"]


def test_bad_input_through_the_installed_script(cli: Any, workspace: Path) -> None:
    _model_folder(workspace)
    (workspace / "bad.yml").write_text("name: m\n  path: [\n")
    assert_user_error(cli("model", "create", "-f", "bad.yml", check=False), "bad.yml", "malformed YAML", "line 2")
    assert_user_error(cli("model", "create", "-n", "../x", "-p", "model", check=False), "'name'", "..")
    assert_user_error(cli("compute", "show", "-n", "gpu", check=False), "'gpu' does not exist", "--type amlcompute")
    assert not (workspace / ".batchpoint" / "artifacts" / "blobs").exists()


BAD_MODELS: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("name: m\npath: model\npaht: model\n", [], ("bad.yml", "'paht'", "unknown field")),
    ("name: m\npath: model\ntype: onnx_model\n", [], ("bad.yml", "'type'")),
    ("name: m\ntags: [1]\npath: model\n", [], ("bad.yml", "'tags'", "mapping")),
    ("name: m\n", [], ("bad.yml", "'path'", "required")),
    ("name: m\npath: nowhere\n", [], ("bad.yml", "'path'", "does not exist")),
    ("name: m\npath: model\nversion: 1\n", [], ("bad.yml", "'version'", "already exists")),
    ('name: "a\\0b"\npath: model\n', [], ("bad.yml", "'name'", "NUL")),
    (f"name: {'x' * 300}\npath: model\n", [], ("bad.yml", "'name'", "invalid name")),
    ("name: ok\npath: model\n", ["-n", "a/b"], ("'name'", "path separator")),
    ("name: ok\npath: model\n", ["--set", "version=../1"], ("'version'", "..")),
    ("- a list\n", [], ("bad.yml", "mapping")),
]


def test_bad_input_exits_2_and_creates_nothing(run_cli: Any, workspace: Path) -> None:
    """The same checks in-process (same entry point, no interpreter start-up), for every noun."""
    _model_folder(workspace)
    run_cli("model", "create", "-n", "m", "-p", "model", "-v", "1", expect=0)
    for text, extra, needles in BAD_MODELS:
        (workspace / "bad.yml").write_text(text)
        assert_user_error(run_cli("model", "create", "-f", "bad.yml", *extra), *needles)
    assert_user_error(run_cli("model", "show", "-n", "nope"), "model 'nope' does not exist", "hint")
    assert_user_error(run_cli("model", "show", "-n", "m", "--label", "best"), "'--label'")
    assert_user_error(run_cli("model", "delete", "-n", "m", "-v", "9", "--yes"), "version '9' does not exist")

    (workspace / "env.yml").write_text("name: e\nconda_file: missing.yaml\n")
    assert_user_error(run_cli("environment", "create", "-f", "env.yml"), "env.yml", "'conda_file'", "does not exist")
    assert_user_error(run_cli("environment", "create", "-n", "e"), "at least one of")
    assert_user_error(run_cli("environment", "show", "-n", "ghost", "-v", "3"), "'ghost' version '3' does not exist")

    (workspace / "data.yml").write_text("name: d\ntype: uri_file\npath: model\n")
    assert_user_error(run_cli("data", "create", "-f", "data.yml"), "data.yml", "'path'", "is a folder")
    uri = "azureml://datastores/workspaceblobstore/paths/../../x"
    assert_user_error(run_cli("data", "create", "-n", "d", "-p", uri), "'path'", "outside")
    assert_user_error(run_cli("data", "create", "-n", "d", "-p", "model", "--type", "table"), "'type'")

    assert_user_error(run_cli("compute", "create", "-n", "r", "--type", "ray"), "'address'", "ray://HOST:PORT")
    assert_user_error(run_cli("compute", "create", "-n", "r", "--max-instances", "0"), "'max_instances'")
    assert_user_error(run_cli("compute", "create", "-n", "local", "--type", "local"), "built-in")
    assert_user_error(run_cli("compute", "update", "-n", "ghost", "--max-instances", "2"), "'ghost' does not exist")
    assert_user_error(run_cli("compute", "create", "-n", "r", "--resources", "{GPU"), "'--resources'", "JSON")

    with Client(workspace) as client:
        assert [(m.name, m.version) for m in client.models.list(include_archived=True)] == [("m", "1")]
        assert client.environments.list(include_archived=True) == []
        assert client.data.list(include_archived=True) == []
        assert [c.name for c in client.computes.list()] == ["local"]


def test_assets_in_use_are_protected(cli: Any, workspace: Path) -> None:
    with Client(workspace) as client:
        client.models.create("m", _model_folder(workspace))
        with client.services.db.session() as s:
            endpoint = BatchEndpointRow(name="scoring")
            s.add(endpoint)
            s.flush()
            s.add(
                BatchDeploymentRow(
                    endpoint_id=endpoint.id, name="blue", type="model", model_name="m", model_version="1"
                )
            )
    assert_user_error(cli("model", "delete", "-n", "m", "-v", "1", "--yes", check=False), "scoring/blue")
    assert_user_error(cli("model", "archive", "-n", "m", check=False), "scoring/blue")
    with Client(workspace) as client:
        assert not client.models.get("m", "1").archived
