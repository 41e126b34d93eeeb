"""What a deployment and a compute become on Ray: actor resources, the runtime environment, the missing extra."""

from __future__ import annotations

import sys

import pytest

from batchpoint.errors import MissingExtra
from batchpoint.executors import ray_cluster
from batchpoint.executors.ray_executor import actor_resources, demand_of, fits, pip_packages, runtime_env


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(MissingExtra) as missing:
        ray_cluster.import_ray()
    assert "pip install 'batchpoint[ray]'" in str(missing.value)
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


def test_environment_becomes_pip_packages() -> None:
    environment = {
        "pip_requirements": ["scikit-learn>=1.3", "# a comment", "joblib"],
        "conda_file": {
            "channels": ["conda-forge"],
            "dependencies": [
                "python=3.11",
                "pip",
                "numpy=1.26",
                "conda-forge::pandas>=2",
                {"pip": ["joblib", "lightgbm==4.3"]},
            ],
        },
    }
    assert pip_packages(environment) == ["scikit-learn>=1.3", "joblib", "numpy==1.26.*", "pandas>=2", "lightgbm==4.3"]
    assert pip_packages(None) == []
    assert pip_packages({"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"}) == []


def test_runtime_env_carries_variables_and_packages() -> None:
    env = runtime_env({"AZUREML_MODEL_DIR": "/ws/models/m/1", "N": "3"}, ["joblib"])
    assert env["env_vars"] == {"AZUREML_MODEL_DIR": "/ws/models/m/1", "N": "3", "PYTHONUNBUFFERED": "1"}
    assert env["pip"] == {"packages": ["joblib"], "pip_check": False}
    assert "pip" not in runtime_env({}, [])
