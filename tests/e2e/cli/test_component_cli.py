"""The component commands through the real ``batchpoint`` console script (a subprocess per call).

Each call costs about a second, so one test chains the checks on one workspace.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from tests.conftest import Cli, CliResult

DATA = Path(__file__).parents[2] / "data" / "components"


def _user_error(result: CliResult, *needles: str) -> None:
    """Exit 2, an ``ERROR:`` line (plus hints), no traceback, and the words we expect."""
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("ERROR: "), result.output
    for needle in needles:
        assert needle in result.stderr, (needle, result.output)


def test_component_create_show_list_archive_restore(cli: Cli, workspace: Path) -> None:
    shutil.copytree(DATA, workspace / "components")
    created = json.loads(cli("component", "create", "-f", "components/train.yml").stdout)
    assert (created["name"], created["version"], created["type"]) == ("train_model", "1", "command")
    assert created["code"].startswith("snapshot:") and created["inputs"]["max_epochs"]["default"] == 10

    again = json.loads(cli("component", "create", "--file", "components/train.yml").stdout)
    assert again["content_hash"] == created["content_hash"] and again["version"] == "1"
    changed = ("--set", "command=echo ${{inputs.training_data}} ${{outputs.model_output}}")
    _user_error(cli("component", "create", "-f", "components/train.yml", *changed, check=False),
                "version '1' already exists with a different definition")  # fmt: skip
    second = cli("component", "create", "-f", "components/train.yml", *changed, "--version", "2",
                 "--query", "version", "-o", "tsv")  # fmt: skip
    assert second.stdout.strip() == "2"
    named = json.loads(cli("component", "create", "-f", "components/train.yml", "-n", "copy", "-v", "5").stdout)
    assert (named["name"], named["version"]) == ("copy", "5")

    assert json.loads(cli("component", "show", "-n", "train_model").stdout)["version"] == "2"
    assert json.loads(cli("component", "show", "-n", "train_model", "-v", "1").stdout)["version"] == "1"
    latest = cli("component", "show", "-n", "train_model", "--label", "latest", "--query", "version", "-o", "tsv")
    assert latest.stdout.strip() == "2"
    _user_error(cli("component", "show", "-n", "train_model", "-l", "stable", check=False), "only 'latest'")
    _user_error(cli("component", "show", "-n", "nothing", check=False), "component 'nothing' does not exist")

    table = cli("-o", "table", "component", "list").stdout
    assert "train_model" in table and "copy" in table
    versions = cli("component", "list", "-n", "train_model", "--query", "[].version").stdout
    assert json.loads(versions) == ["1", "2"]

    archived = json.loads(cli("component", "archive", "-n", "train_model", "-v", "2").stdout)
    assert archived["archived"] is True
    assert json.loads(cli("component", "show", "-n", "train_model").stdout)["version"] == "1"
    listed = json.loads(cli("component", "list", "-n", "train_model", "--include-archived").stdout)
    assert [c["version"] for c in listed] == ["1", "2"]
    cli("component", "restore", "-n", "train_model", "-v", "2")
    assert json.loads(cli("component", "show", "-n", "train_model").stdout)["version"] == "2"

    pipeline = yaml.safe_load(cli("component", "create", "-f", "components/pipeline.yml", "-o", "yaml").stdout)
    assert pipeline["type"] == "pipeline" and set(pipeline["jobs"]) == {"train", "score", "report"}
    assert all(step["component"].startswith("azureml:") for step in pipeline["jobs"].values())
    names = json.loads(cli("component", "list", "--query", "[].name").stdout)
    assert names == ["copy", "train_and_score", "train_model"]  # the steps' anonymous components are hidden

    bad = workspace / "components" / "bad.yml"
    bad.write_text(yaml.safe_dump({"name": "bad", "type": "command", "command": "echo ${{inputs.x}}"}))
    _user_error(cli("component", "create", "-f", str(bad), check=False),
                "bad.yml", "command", "component 'bad'", "${{inputs.x}}", "not declared")  # fmt: skip
    bad.write_text(yaml.safe_dump({"name": "bad", "type": "command", "command": "echo", "comand": "x"}))
    _user_error(cli("component", "create", "-f", str(bad), check=False), "bad.yml", "comand", "unknown field")
    _user_error(cli("component", "create", check=False), "--file")
