"""What a deployment and a compute become on Ray: actor resources, the runtime environment, the missing extra."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from batchpoint.errors import MissingExtra
from batchpoint.executors import ray_cluster
from batchpoint.executors.ray_executor import actor_resources, demand_of, fits, pip_packages, runtime_env

from .conftest import cleanup, make_env, suite


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(MissingExtra) as missing:
        ray_cluster.import_ray()
    assert "pip install -e '.[ray]' in the batchpoint checkout" in str(missing.value)
    assert missing.value.exit_code == 2


def test_worker_resources_from_compute_then_deployment() -> None:
    assert actor_resources(None, None) == {"num_cpus": 1.0}
    options = actor_resources({"GPU": 1, "memory": 2e9, "accelerator_type:T4": 1}, {"instance_count": 2, "cpu": 4})
    assert options == {
        "num_cpus": 4.0,
        "num_gpus": 1.0,
        "memory": 2_000_000_000,
        "resources": {"accelerator_type:T4": 1.0},
    }
    assert actor_resources({"CPU": 0.5}, {}) == {"num_cpus": 0.5}
    demand = demand_of(options)
    assert demand == {"CPU": 4.0, "GPU": 1.0, "memory": 2e9, "accelerator_type:T4": 1.0}
    assert fits(demand, {"CPU": 8, "GPU": 1, "memory": 3e9, "accelerator_type:T4": 1})
    assert not fits(demand, {"CPU": 8, "memory": 3e9})


def test_environment_requirements_become_pip_packages() -> None:
    lines = ["scikit-learn>=1.3", "# a comment", " joblib ", "", "joblib", "lightgbm==4.3"]
    assert pip_packages(lines) == ["scikit-learn>=1.3", "joblib", "lightgbm==4.3"]
    assert pip_packages([]) == []


def test_runtime_env_only_when_packages_or_interpreter_variables_need_one() -> None:
    # Plain variables are set by the actor itself: Ray's ready worker processes can take it.
    assert runtime_env({"AZUREML_MODEL_DIR": "/ws/models/m/1", "OMP_NUM_THREADS": "1"}, []) is None
    env = runtime_env({"AZUREML_MODEL_DIR": "/ws/models/m/1", "N": "3"}, ["joblib"])
    assert env is not None
    assert env["env_vars"] == {"AZUREML_MODEL_DIR": "/ws/models/m/1", "N": "3", "PYTHONUNBUFFERED": "1"}
    assert env["pip"] == {"packages": ["joblib"], "pip_check": False}
    seeded = runtime_env({"PYTHONHASHSEED": "0"}, [])
    assert seeded is not None and seeded["env_vars"]["PYTHONHASHSEED"] == "0" and "pip" not in seeded


def test_private_ray_needs_token_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.SimpleNamespace(__version__="2.40.0", is_initialized=lambda: False)
    monkeypatch.setattr(ray_cluster, "import_ray", lambda: fake)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # connect() sets Ray's variables
    with pytest.raises(MissingExtra) as old:
        ray_cluster.RayConnection("local", namespace="t").connect()
    assert "2.52" in str(old.value) and "2.40.0" in str(old.value)


def test_job_on_a_ray_compute_without_ray_fails_naming_the_extra(
    tmp_path: Path, engine_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    hidden = tmp_path / "no-ray"
    hidden.mkdir()
    (hidden / "ray.py").write_text('raise ModuleNotFoundError("No module named \'ray\'", name="ray")\n')
    monkeypatch.setenv("PYTHONPATH", f"{hidden}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # the driver's
    env = make_env(tmp_path / "ws", "ray", address="local")
    try:
        suite.write_inputs(env.root / "data", 2)
        env.deploy()
        final = env.wait(env.client.batch_endpoints.invoke("jobs-ep", input=str(env.root / "data")))
        assert final.status == "Failed"
        assert "pip install -e '.[ray]' in the batchpoint checkout" in (final.failure_reason or "")
    finally:
        cleanup(env)
