"""The server process never loads user code or untrusted serialized data (reliability-security.md 4.7).

Static: no module of ``batchpoint.server`` imports a deserializer of code (pickle, cloudpickle,
dill, joblib, torch, mlflow) or the worker runtime, none calls an unsafe YAML loader or an
``extractall``. Dynamic: building the app and answering requests imports none of them either.
(The end-to-end tests check that scoring scripts run in processes other than the server's.)
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import batchpoint.server

SERVER = Path(batchpoint.server.__file__).parent
FORBIDDEN_MODULES = ("pickle", "cloudpickle", "dill", "joblib", "torch", "mlflow", "sklearn", "batchpoint.runtime")
FORBIDDEN_CALLS = ("unsafe_load", "full_load", "extractall", "loads_pickle")
MLFLOW_REST = "mlflow_child.py"
"""The one module that imports mlflow: the entry point of the MLflow process the server starts for the
tracking API (issue #14). It runs in a process of its own; the server process never imports it but for
its standard-library constants (checked below, and by the probe)."""


def _imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_server_modules_import_no_deserializer_of_code() -> None:
    modules = sorted(SERVER.rglob("*.py"))
    assert len(modules) >= 20
    for path in modules:
        tree = ast.parse(path.read_text(), filename=str(path))
        for name in _imports(tree):
            if path.name == MLFLOW_REST and name.split(".")[0] in ("mlflow", "flask", "werkzeug", "a2wsgi"):
                continue
            assert not name.startswith(FORBIDDEN_MODULES), f"{path.name} imports {name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_CALLS:
                raise AssertionError(f"{path.name}:{node.lineno} calls {node.attr}")
            if isinstance(node, ast.Attribute) and node.attr == "load" and getattr(node.value, "id", "") == "yaml":
                raise AssertionError(f"{path.name}:{node.lineno} calls yaml.load")


PROBE = """
import sys, tempfile
from fastapi.testclient import TestClient
from batchpoint.workspace import init_workspace
from batchpoint.server.app import create_app

folder = tempfile.mkdtemp()
init_workspace(folder)
app = create_app(workspace=folder, bootstrap_token="t" * 40, run_jobs=False, announce=lambda token: None)
with TestClient(app, base_url="http://localhost") as client:  # a Host the server answers to
    headers = {"Authorization": "Bearer " + "t" * 40}
    for path in ("/api/v1/models", "/api/v1/batch-endpoints", "/api/v1/jobs", "/metrics", "/api/v1/openapi.json"):
        assert client.get(path, headers=headers).status_code == 200, path
    # the MLflow tracking API answers from a process of its own (501 without the mlflow extra)
    mlflow = client.get("/api/2.0/mlflow/experiments/search?max_results=1", headers=headers)
    assert mlflow.status_code in (200, 501), mlflow.text
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN} or m.startswith("batchpoint.runtime"))
print(",".join(loaded))
"""


def test_the_running_app_loads_no_user_code_machinery() -> None:
    roots = {m.split(".")[0] for m in FORBIDDEN_MODULES if m != "pickle" and not m.startswith("batchpoint")}
    probe = PROBE.replace("{FORBIDDEN}", repr(roots))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"the server process loaded: {result.stdout.strip()}"
