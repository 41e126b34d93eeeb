"""``batchpoint status`` is cheap: it answers from the supervisor's files without the database layer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from batchpoint.workspace import init_workspace

WRAPPER = """
import sys
modules_file = sys.argv[1]
sys.argv = ["batchpoint", *sys.argv[2:]]
from batchpoint.cli.main import run
try:
    run()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
finally:
    with open(modules_file, "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""
HEAVY = ("sqlalchemy", "pydantic_settings", "alembic", "fastapi", "httpx", "uvicorn")


def test_status_imports_no_database_layer(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    root = init_workspace(project)
    modules_file = tmp_path / "modules.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPOINT_")}
    env["BATCHPOINT_CONFIG"] = str(tmp_path / "no-login.json")
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(modules_file), "status", "-o", "json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["target"] == {"kind": "workspace", "location": str(root)}
    assert report["supervisor"]["state"] == "not_running"
    loaded = {name.split(".")[0] for name in modules_file.read_text().split()}
    assert not loaded.intersection(HEAVY)
