"""What the CLI imports to answer: ``--version`` and ``--help`` none of the heavy layers, ``job show`` no server.

Each case runs the console script's entry point (``[project.scripts]`` in pyproject.toml) in a fresh
interpreter, then writes the names in ``sys.modules`` to a file. Only imports are checked, never
times: those are measured by ``bench/bench_cli.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from batchpoint.cli.main import GROUPS
from batchpoint.jobs import quickview
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


def _run(
    tmp_path: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True
) -> tuple[set[str], str]:
    """The modules loaded by ``batchpoint ARGS`` (in ``env``, besides no login), and what it printed on stdout."""
    modules_file = tmp_path / "modules.txt"
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("BATCHPOINT_")}
    env.update({"BATCHPOINT_CONFIG": str(tmp_path / "no-login.json"), "NO_COLOR": "1", "COLUMNS": "200", **extra})
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(modules_file), ENTRY_POINT, *args],
        cwd=cwd or tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )
    return set(modules_file.read_text().split()), proc.stdout


def _loaded(tmp_path: Path, *args: str, cwd: Path | None = None) -> set[str]:
    """The top-level packages loaded by ``batchpoint ARGS``."""
    return {name.split(".")[0] for name in _run(tmp_path, *args, cwd=cwd)[0]}


@pytest.mark.parametrize("args", [("--version",), ("--help",), ()])
def test_version_and_help_import_no_heavy_layer(tmp_path: Path, args: tuple[str, ...]) -> None:
    loaded = _loaded(tmp_path, *args)
    assert not loaded.intersection(HEAVY)
    assert "rich" not in loaded  # the root's help is click's plain text; rich is for the groups' help
    assert "pydantic" not in loaded


def test_job_show_imports_no_server_layer(tmp_path: Path) -> None:
    # A job that does not exist is left to the full path (it reports it): workspace, services, job query.
    project = tmp_path / "project"
    project.mkdir()
    init_workspace(project)
    loaded = _loaded(tmp_path, "job", "show", "-n", "no-such-job", cwd=project)
    assert "sqlalchemy" in loaded  # it did reach the workspace database
    assert not loaded.intersection(SERVER_ONLY)


def _workspace_with_job(project: Path, name: str, state: str = "Completed") -> Path:
    """A workspace holding one job row (written as the services write it); returns its root."""
    from batchpoint.endpoints.settings import BatchDeploymentSettings
    from batchpoint.jobs.schemas import JobInput, JobOutput, RunSpec
    from batchpoint.store.tables import JobRow
    from batchpoint.workspace import Workspace

    project.mkdir(parents=True)
    root = init_workspace(project)
    spec = RunSpec(
        deployment={"name": "dep"}, settings=BatchDeploymentSettings(), input=JobInput(path="in", resolved="/in"),
        output=JobOutput(path="/out"),
    )  # fmt: skip
    ws = Workspace(root)
    with ws.db.session() as s:
        s.add(
            JobRow(
                name=name, state=state, endpoint_name="ep", deployment_name="dep", spec=spec.model_dump(mode="json"),
                created_at=1_700_000_000.0, started_at=1_700_000_001.0, ended_at=1_700_000_003.5,
                heartbeat_at=1_700_000_003.0, driver_epoch=1, mb_total=2, mb_done=2, items_total=4, items_ok=4,
                error={"exception": "ValueError", "message": "x"}, environment=None,
            )
        )  # fmt: skip
    ws.close()
    return root


@pytest.mark.parametrize("args", [(), ("--query", "status", "-o", "tsv"), ("-o", "tsv"), ("-o", "yaml")])
def test_job_show_light_path_imports_no_database_layer(tmp_path: Path, args: tuple[str, ...]) -> None:
    project = tmp_path / "project"
    _workspace_with_job(project, "job-1")
    loaded, out = _run(tmp_path, "job", "show", "-n", "job-1", *args, cwd=project)
    packages = {name.split(".")[0] for name in loaded}
    assert not packages.intersection({"sqlalchemy", "pydantic_settings", "rich", "alembic", "httpx", "fastapi"})
    assert "batchpoint.services" not in loaded and "batchpoint.jobs.service" not in loaded
    assert "Completed" in out
    # The entry point answers this one without the CLI framework (cli/entry.py).
    assert not packages.intersection({"typer", "click"}), packages & {"typer", "click"}


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        (["job", "show", "-n", "j"], {"name": "j"}),
        (["-w", "W", "job", "show", "--name=j", "-o", "tsv", "--query", "status"],
         {"workspace": "W", "name": "j", "output": "tsv", "query": "status"}),
        (["--workspace=W", "job", "show", "--output=yaml", "-n", "j"], {"workspace": "W", "name": "j", "output": "yaml"}),
        (["job", "show"], None),  # no name: the full CLI says so
        (["job", "show", "-n", "j", "--web"], None),  # a flag it does not know
        (["job", "show", "-n", "j", "-o", "JSON"], None),  # the full CLI validates the format
        (["job", "show", "-n", "a", "-n", "b"], None),
        (["job", "show", "-n"], None),
        (["job", "list"], None),
        (["--verbose", "job", "show", "-n", "j"], None),
    ],
)  # fmt: skip
def test_the_entry_point_takes_only_the_simple_job_show(argv: list[str], parsed: dict[str, str] | None) -> None:
    from batchpoint.cli.entry import parse_job_show

    assert parse_job_show(argv) == parsed


def test_job_show_light_path_only_for_the_embedded_sqlite_workspace(tmp_path: Path) -> None:
    project = tmp_path / "project"
    root = _workspace_with_job(project, "job-1")
    cases = {  # environment: whether the light path answers
        "plain": ({}, True),
        "stale seconds": ({"BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS": "2.5"}, True),
        "other engine setting": ({"BATCHPOINT_ENGINE_PREFETCH": "4"}, True),
        "database url": ({"BATCHPOINT_DATABASE_URL": f"sqlite:///{root / 'metadata.db'}"}, False),
        "server": ({"BATCHPOINT_SERVER": "http://127.0.0.1:1"}, False),
        "engine as JSON": ({"BATCHPOINT_ENGINE": '{"driver_stale_seconds": 3}'}, False),
        "lower-case name": ({"batchpoint_engine_driver_stale_seconds": "3"}, False),
        "stale seconds pydantic parses": ({"BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS": "1e3"}, False),
        "empty workspace": ({"BATCHPOINT_WORKSPACE": ""}, False),
    }
    for case, (extra, light) in cases.items():
        modules = _run(tmp_path, "job", "show", "-n", "job-1", cwd=project, env=extra, check=False)[0]
        assert ("sqlalchemy" not in {n.split(".")[0] for n in modules}) is light, case


def test_saved_login_takes_the_full_path_unless_a_workspace_is_named(tmp_path: Path) -> None:
    project = tmp_path / "project"
    root = _workspace_with_job(project, "job-1")
    config = tmp_path / "login.json"
    config.write_text(json.dumps({"server": "http://127.0.0.1:1", "token": "t"}))
    config.chmod(0o600)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BATCHPOINT_CONFIG", str(config))
        mp.delenv("BATCHPOINT_WORKSPACE", raising=False)
        mp.chdir(project)
        assert quickview.embedded_root(None) is None  # the saved server wins over the cwd's workspace
        assert quickview.embedded_root(project) == root  # a named workspace wins over the login
        mp.setenv("BATCHPOINT_WORKSPACE", str(project))
        assert quickview.embedded_root(None) == root


def test_light_path_agrees_with_the_modules_it_mirrors(tmp_path: Path) -> None:
    """quickview cannot import the settings (pydantic-settings): it must read the ones it uses alike."""
    from batchpoint.config import EngineSettings, Settings
    from batchpoint.workspace import Workspace, WorkspaceLayout, find_workspace

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.upper().startswith("BATCHPOINT_"):
                mp.delenv(key)
        assert quickview.Engine() == quickview.engine_settings()
        assert quickview.Engine().driver_stale_seconds == EngineSettings().driver_stale_seconds
        mp.setenv(quickview._STALE_VAR, "2.5")
        light = quickview.engine_settings()
        assert light is not None and light.driver_stale_seconds == Settings().engine.driver_stale_seconds == 2.5
    prefix = Settings.model_config["env_prefix"]
    assert set(quickview._FULL_PATH_VARS) == {prefix + f.upper() for f in ("server", "database_url", "engine")}
    assert EngineSettings.model_config["env_prefix"] + "DRIVER_STALE_SECONDS" == quickview._STALE_VAR
    assert set(Settings.model_fields) >= {"server", "database_url", "engine", "workspace"}

    project = tmp_path / "project"
    root = _workspace_with_job(project, "job-1")
    (project / "a" / "b").mkdir(parents=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("BATCHPOINT_WORKSPACE", raising=False)
        for explicit in (project, root, project / "a"):
            expected = root if explicit != project / "a" else None
            assert quickview.find_root(explicit) == expected
            if expected is not None:
                assert find_workspace(explicit) == expected
        mp.chdir(project / "a" / "b")
        assert quickview.find_root(None) == find_workspace() == root
        mp.chdir(tmp_path)
        assert quickview.find_root(None) is None
        mp.setenv("BATCHPOINT_WORKSPACE", str(project))
        mp.setenv("BATCHPOINT_CONFIG", str(tmp_path / "no-login.json"))
        opened = Workspace.open()
        opened.close()
        assert quickview.embedded_root(None) == opened.root == root
    view = quickview.get_job(project, "job-1")
    assert view is not None and view.logs_path == str(WorkspaceLayout(root).job_dir("job-1") / "logs")


def test_help_lists_every_group_without_importing_it(tmp_path: Path) -> None:
    loaded, help_text = _run(tmp_path, "--help")
    lines = help_text.splitlines()
    for name, group in GROUPS.items():
        assert any(name in line and group.help in line for line in lines), name
    for command in ("init", "server", "login", "logout"):
        assert any(f" {command} " in line for line in lines), command
    assert "batchpoint.cli.main" in loaded
    assert not loaded.intersection(group.module for group in GROUPS.values())
