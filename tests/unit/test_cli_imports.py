"""What the CLI imports to answer: ``--version`` and ``--help`` none of the heavy layers, ``job show`` no server.

Each case runs the console script's entry point (``[project.scripts]`` in pyproject.toml) in a fresh
interpreter, then writes the names in ``sys.modules`` to a file. Only imports are checked, never
times: those are measured by ``bench/bench_cli.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from batchpoint.cli.main import GROUPS
from batchpoint.workspace import init_workspace

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["batchpoint"]

# Runs the entry point as the installed script would, with the CLI's arguments after the output path.
WRAPPER = """
import importlib, sys
modules_file, module_name, function = sys.argv[1], *sys.argv[2].split(":")
sys.argv = ["batchpoint", *sys.argv[3:]]
try:
    getattr(importlib.import_module(module_name), function)()
except SystemExit:
    pass
finally:
    with open(modules_file, "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
"""

HEAVY = ("sqlalchemy", "pydantic_settings", "alembic", "fastapi", "httpx")
SERVER_ONLY = ("fastapi", "alembic", "httpx", "uvicorn")


def _run(tmp_path: Path, *args: str, cwd: Path | None = None) -> tuple[set[str], str]:
    """The modules loaded by ``batchpoint ARGS``, and what it printed on stdout."""
    modules_file = tmp_path / "modules.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPOINT_")}
    env.update({"BATCHPOINT_CONFIG": str(tmp_path / "no-login.json"), "NO_COLOR": "1", "COLUMNS": "200"})
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(modules_file), ENTRY_POINT, *args],
        cwd=cwd or tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(modules_file.read_text().split()), proc.stdout


def _loaded(tmp_path: Path, *args: str, cwd: Path | None = None) -> set[str]:
    """The top-level packages loaded by ``batchpoint ARGS``."""
    return {name.split(".")[0] for name in _run(tmp_path, *args, cwd=cwd)[0]}


@pytest.mark.parametrize("args", [("--version",), ("--help",)])
def test_version_and_help_import_no_heavy_layer(tmp_path: Path, args: tuple[str, ...]) -> None:
    loaded = _loaded(tmp_path, *args)
    assert not loaded.intersection(HEAVY)
    if args == ("--version",):
        assert "rich" not in loaded  # typer's help formatting is for --help only


def test_job_show_imports_no_server_layer(tmp_path: Path) -> None:
    # A job that does not exist goes the same way as one that does: workspace, services, job query.
    project = tmp_path / "project"
    project.mkdir()
    init_workspace(project)
    loaded = _loaded(tmp_path, "job", "show", "-n", "no-such-job", cwd=project)
    assert "sqlalchemy" in loaded  # it did reach the workspace database
    assert not loaded.intersection(SERVER_ONLY)


def test_help_lists_every_group_without_importing_it(tmp_path: Path) -> None:
    loaded, help_text = _run(tmp_path, "--help")
    lines = help_text.splitlines()
    for name, group in GROUPS.items():
        assert any(name in line and group.help in line for line in lines), name
    for command in ("init", "server", "login", "logout"):
        assert any(f" {command} " in line for line in lines), command
    assert "batchpoint.cli.main" in loaded
    assert not loaded.intersection(group.module for group in GROUPS.values())
