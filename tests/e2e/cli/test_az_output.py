"""Output shaped like ``az``, through the real console script.

``-o none`` and ``-o jsonc``; the global flags ``--only-show-errors``, ``--debug`` and ``--verbose``
anywhere on the command line, and ``-o``/``--query`` before the command too; ``compute create
--size``; ``-o table`` that never cuts a name, version or state in 80 columns, and a ``job stream``
display that fits them; help with value names (``KEY=VALUE``, ``INTEGER``) instead of Python types;
``create`` of an existing endpoint or deployment updating it and ``model list`` showing each model's
latest version, as the Azure CLI does. Set-up that is not under test goes through the SDK.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import BIN, Cli
from tests.e2e.cli.test_cli_flags import _inputs, _write_deployment

from batchpoint import Client
from batchpoint.cli import reference

NARROW = {"COLUMNS": "80"}
LONG_ENDPOINT = "endpoint-with-a-long-name-000001"  # 32 characters: the longest an endpoint name may be
LONG_DEPLOYMENT = "deployment-with-a-long-name-0001"
BROKEN_SCORER = "def init(:\n    pass\n"


def _json(text: str) -> Any:
    return json.loads(text)


def _model_folder(workspace: Path) -> str:
    (workspace / "weights").mkdir(exist_ok=True)
    (workspace / "weights" / "w.txt").write_text("1\n")
    return str(workspace / "weights")


def _on_a_terminal(cwd: Path, *args: str, env: dict[str, str]) -> str:
    """What ``batchpoint ARGS`` writes to stdout when stdout is a terminal (a pseudo-terminal here)."""
    primary, secondary = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm-256color", "BATCHPOINT_CONFIG": str(cwd / ".cfg.json"), **env}
    for key in ("NO_COLOR", "BATCHPOINT_WORKSPACE", "BATCHPOINT_SERVER", "BATCHPOINT_TOKEN"):
        if key not in env:
            full_env.pop(key, None)
    proc = subprocess.Popen(
        [str(BIN / "batchpoint"), *args], cwd=cwd, stdout=secondary, stderr=subprocess.PIPE, env=full_env
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the other side closed: the command ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode()


def test_output_none_and_jsonc_and_root_output_flags(cli: Cli, workspace: Path) -> None:
    weights = _model_folder(workspace)
    created = cli("model", "create", "-n", "m", "-p", weights, "-o", "none")
    assert created.stdout == "" and created.stderr == ""
    # -o and --query before the command apply to it, as after it; the command's own win.
    assert cli("-o", "none", "model", "create", "-n", "m", "-p", weights).stdout == ""
    assert cli("--query", "[].version", "-o", "tsv", "model", "list", "-n", "m").stdout == "1\n2\n"
    assert cli("-o", "none", "model", "show", "-n", "m", "-o", "tsv", "--query", "version").stdout == "2\n"

    # jsonc: plain JSON unless stdout is a terminal and NO_COLOR is unset.
    assert _json(cli("model", "show", "-n", "m", "-o", "jsonc").stdout)["version"] == "2"
    coloured = _on_a_terminal(workspace, "model", "show", "-n", "m", "-o", "jsonc", env={})
    assert "\x1b[" in coloured and '"version"' in coloured
    plain = _on_a_terminal(workspace, "model", "show", "-n", "m", "-o", "jsonc", env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain and _json(plain)["version"] == "2"


def test_only_show_errors_debug_and_verbose_anywhere(cli: Cli, workspace: Path, client: Client) -> None:
    weights = _model_folder(workspace)
    client.models.create("m", weights)
    client.models.create("m", weights)
    noted = cli("model", "delete", "-n", "m", "-v", "1", "--yes")
    assert "Deleted model 'm' version '1'" in noted.stderr
    quiet = cli("model", "delete", "-n", "m", "-v", "2", "--yes", "--only-show-errors")
    assert quiet.stderr == "" and quiet.stdout == ""

    # A warning from below the CLI (the SDK's Python warning: a scoring script that does not compile).
    client.batch_endpoints.create_from_file(None, name="warn-ep")
    deployment = _write_deployment(workspace)
    (workspace / "code" / "score.py").write_text(BROKEN_SCORER)
    warned = cli("batch-deployment", "create", "-f", str(deployment), "-e", "warn-ep", "-o", "none")
    assert warned.stderr.startswith("WARNING: ") and "score.py" in warned.stderr
    silenced = cli("--only-show-errors", "batch-deployment", "create", "-f", str(deployment), "-e", "warn-ep")
    assert silenced.stderr == "" and _json(silenced.stdout)["name"] == "flag-dep"

    # Errors stay one line, and still show with --only-show-errors; --debug adds the traceback.
    missing = cli("model", "show", "-n", "nope", "--only-show-errors", check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("ERROR: model 'nope' does not exist")
    assert "Traceback" not in missing.stderr
    debugged = cli("model", "show", "-n", "nope", "--debug", check=False)
    assert debugged.returncode == 2 and "Traceback (most recent call last)" in debugged.stderr
    assert "ERROR: model 'nope' does not exist" in debugged.stderr
    verbose = cli("model", "list", "--verbose", "-o", "none")
    assert re.search(r"^INFO: batchpoint\.cli: command ran in [0-9.]+ seconds$", verbose.stderr, re.M)
    assert cli("model", "list", "-o", "none").stderr == ""


def test_compute_create_takes_size(cli: Cli) -> None:
    created = cli("compute", "create", "-n", "sized", "--size", "STANDARD_DS3_V2", "--max-instances", "2")
    assert (_json(created.stdout)["name"], _json(created.stdout)["max_instances"]) == ("sized", 2)


def _assert_fits(text: str, width: int = 80) -> None:
    assert all(len(line) <= width for line in text.splitlines()), text


def test_tables_keep_names_whole_and_the_stream_display_fits_80_columns(
    cli: Cli, workspace: Path, client: Client
) -> None:
    client.batch_endpoints.create_from_file(None, name=LONG_ENDPOINT)
    client.batch_deployments.create_from_file(
        _write_deployment(workspace), endpoint_name=LONG_ENDPOINT, name=LONG_DEPLOYMENT, set_default=True
    )
    job = client.batch_endpoints.invoke(LONG_ENDPOINT, input=str(_inputs(workspace / "data", files=3))).name
    assert client.jobs.wait(job, timeout=120).status.value == "Completed"
    assert len(job) > 40  # batchjob-<uuid>

    listed = cli("job", "list", "-o", "table", env=NARROW).stdout
    for value in (job, LONG_ENDPOINT, LONG_DEPLOYMENT, "Completed"):
        assert value in listed, listed
    shown = cli("batch-deployment", "list", "-e", LONG_ENDPOINT, "-o", "table", env=NARROW).stdout
    for value in (LONG_DEPLOYMENT, LONG_ENDPOINT, "Succeeded"):
        assert value in shown, shown
    long_model = "a-model-whose-name-is-long-enough-to-fill-a-column"
    client.models.create(long_model, str(workspace / "model"), description="words " * 30)
    models = cli("model", "list", "-o", "table", env=NARROW).stdout
    assert long_model in models and "flag-model" in models, models
    assert models.count("words") < 30 and "…" in models  # a long description is cut, not wrapped for pages
    short = cli("model", "list", "-o", "table", "--query", "[].{v: version}", env=NARROW).stdout
    _assert_fits(short)  # a table that fits is not widened

    streamed = cli("job", "stream", "-n", job, env=NARROW)
    display = [line for line in streamed.stderr.splitlines() if "mini-batches" in line or "items:" in line]
    _assert_fits("\n".join(display))
    assert any(line.startswith("Completed ") and line.endswith("3/3 mini-batches") for line in display), display
    assert any(line.startswith("  items: 3 ok, 0 failed") for line in display), display


def test_help_shows_value_names(cli: Cli) -> None:
    python_types = re.compile(r"<(str|int|float|bool|path|list\[[^>]*\]|[a-z]+\|[a-z|]+)>")
    for entry in reference.walk():  # every command's option lines, as --help prints them
        for param in entry.command.get_params(entry.ctx):
            record = param.get_help_record(entry.ctx)
            if record is not None:
                assert not python_types.search(record[0]), (entry.name, record)
    invoke = cli("batch-endpoint", "invoke", "--help").stdout
    assert re.search(r"--mini-batch-size\s+-m\s+INTEGER", invoke), invoke
    assert re.search(r"--set\s+KEY=VALUE", invoke) and re.search(r"--stream\s+Follow", invoke), invoke
    created = cli("model", "create", "--help").stdout
    assert re.search(r"--tag,--tags\s+KEY=VALUE", created) and not python_types.search(created), created
    assert not python_types.search(cli("init", "--help").stdout)


def test_create_of_existing_updates_and_model_list_shows_the_latest_of_each(
    cli: Cli, workspace: Path, client: Client
) -> None:
    # az ml batch-endpoint/batch-deployment create call begin_create_or_update: an existing one is updated.
    cli("batch-endpoint", "create", "-n", "again-ep")
    updated = cli("batch-endpoint", "create", "-n", "again-ep", "--set", "description=second")
    assert _json(updated.stdout)["description"] == "second"
    deployment = str(_write_deployment(workspace))
    cli("batch-deployment", "create", "-f", deployment, "-e", "again-ep", "--set-default", "-o", "none")
    replaced = cli(
        "batch-deployment", "create", "-f", deployment, "-e", "again-ep", "--set", "settings.mini_batch_size=4"
    )
    assert _json(replaced.stdout)["settings"]["mini_batch_size"] == 4 and _json(replaced.stdout)["is_default"]
    assert [d.name for d in client.batch_deployments.list("again-ep")] == ["flag-dep"]

    # az ml model list lists the models (one entry each, its latest version); with --name, the versions.
    weights = _model_folder(workspace)
    for name in ("m", "m", "m", "other"):
        client.models.create(name, weights)
    latest = "[].[name, version]"
    assert _json(cli("model", "list", "--query", latest).stdout) == [
        ["flag-model", "1"], ["m", "3"], ["other", "1"],
    ]  # fmt: skip
    assert _json(cli("model", "list", "-n", "m", "--query", "[].version").stdout) == ["1", "2", "3"]
    client.models.archive("m", "3")
    assert ["m", "2"] in _json(cli("model", "list", "--query", latest).stdout)
    client.models.archive("m")
    assert "m" not in _json(cli("model", "list", "--query", "[].name").stdout)
    archived = _json(cli("model", "list", "--include-archived", "--query", "[?name=='m'].[version, archived]").stdout)
    assert archived == [["3", True]]
