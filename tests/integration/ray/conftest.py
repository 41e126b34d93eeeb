"""Fixtures for running the job engine's scenarios on both executors: local processes and Ray actors.

The Ray side is one real two-node Ray cluster (``ray.cluster_utils.Cluster``, one CPU per node) shared
by the module, on loopback only and with token authentication. A compute of type ``ray`` with address
``auto`` points at it (the drivers inherit ``RAY_ADDRESS`` and the token from this process), and every
deployment of the ``ray`` environment names that compute.

The scenarios themselves are the job engine's own tests (``tests/integration/jobs``), loaded from
their files and run against the environment built here, so the two executors are held to the same
assertions.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
import signal
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchpoint import Client
from batchpoint.common import yamlio
from batchpoint.workspace import init_workspace

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"
SUITE = "batchpoint_job_suite"
ACTOR_TITLE = "ray::BatchpointWorker"
EXECUTORS = ["local", "ray"]


def load_suite(module: str) -> types.ModuleType:
    """A module of the job engine's test suite (``conftest``, ``test_job_reliability``...), imported by path."""
    if SUITE not in sys.modules:
        package = types.ModuleType(SUITE)
        package.__path__ = [str(JOBS_DIR)]
        sys.modules[SUITE] = package
    return importlib.import_module(f"{SUITE}.{module}")


suite = load_suite("conftest")


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def actor_pids() -> list[int]:
    """Live processes of batchpoint's Ray actors (``ray::BatchpointWorker`` titles)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _cmdline(entry.name).startswith(ACTOR_TITLE) and _state(entry.name) != "Z":
            pids.append(int(entry.name))
    return pids


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class RayCluster:
    """The module's two-node cluster; tests that remove a node call ``restore()`` to get two again."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def worker_nodes(self) -> list[Any]:
        return list(self.cluster.worker_nodes)

    def restore(self) -> None:
        if not self.cluster.worker_nodes:
            self.cluster.add_node(num_cpus=1, include_dashboard=False)
        self.cluster.wait_for_nodes()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    with pytest.MonkeyPatch.context() as mp:
        # Loopback only (Ray reads this when imported), token auth; the drivers inherit all of it.
        mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        mp.setenv("RAY_AUTH_MODE", "token")
        mp.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        mp.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
        ray = pytest.importorskip("ray", reason="the Ray executor tests need the ray extra: pip install 'batchpoint[ray]'")
        from ray.cluster_utils import Cluster

        # In case Ray was imported before the settings above.
        ray._private.ray_constants.ENABLE_RAY_CLUSTER = False
        ray._raylet.Config.initialize("")
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        try:
            cluster.add_node(num_cpus=1, include_dashboard=False)
            cluster.wait_for_nodes()
            mp.setenv("RAY_ADDRESS", cluster.address)
            yield RayCluster(cluster)
        finally:
            cluster.shutdown()


class ExecutorEnv(suite.Env):  # type: ignore[name-defined,misc]
    """The job suite's ``Env`` whose deployments run on a given compute (None: the built-in local one)."""

    def __init__(self, root: Path, client: Client, executor: str, compute: str | None) -> None:
        super().__init__(root, client)
        self.executor = executor
        self.compute = compute

    def deploy(self, **settings: Any) -> str:
        self.deployments += 1
        name = f"dep{self.deployments}"
        folder = self.root / name
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "factor.txt").write_text("3")
        (folder / "code").mkdir()
        (folder / "code" / "score.py").write_text(suite.SCORER)
        env_vars = {"STATE_DIR": str(self.state), **settings.pop("environment_variables", {})}
        spec: dict[str, Any] = {
            "name": name,
            "endpoint_name": "jobs-ep",
            "type": "model",
            "model": {"name": f"m-{name}", "path": "model"},
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "settings": {"environment_variables": env_vars, **settings},
        }
        if self.compute:
            spec["compute"] = f"azureml:{self.compute}"
        (folder / "deployment.yml").write_text(yamlio.dumps(spec))
        self.client.batch_deployments.create_from_file(folder / "deployment.yml", set_default=True)
        return name

    def worker_pids(self, job_name: str) -> list[int]:
        """The processes running this job's workers (Ray: the cluster runs one job at a time here)."""
        return actor_pids() if self.executor == "ray" else suite.worker_pids(job_name)


@pytest.fixture
def engine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job suite's short engine timings, so that faults are detected in test time."""
    monkeypatch.setenv("BATCHPOINT_ENGINE_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("BATCHPOINT_ENGINE_LEASE_SECONDS", "1.5")
    monkeypatch.setenv("BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS", "2")


def make_env(tmp_path: Path, executor: str, address: str = "auto") -> ExecutorEnv:
    init_workspace(tmp_path)
    client = Client(tmp_path)
    client.batch_endpoints.create_from_file(None, name="jobs-ep")
    compute = None
    if executor == "ray":
        client.computes.create("ray-cluster", type="ray", address=address, max_instances=2)
        compute = "ray-cluster"
    return ExecutorEnv(tmp_path, client, executor, compute)


def cleanup(env: ExecutorEnv) -> None:
    for job in env.client.jobs.list():
        if not job.status.terminal:
            pids = env.worker_pids(job.name) + ([job.driver.pid] if job.driver.pid else [])
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    env.client.close()


def no_actors_left(timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not actor_pids():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(params=EXECUTORS)
def jobs(request: pytest.FixtureRequest, tmp_path: Path, engine_env: None) -> Iterator[ExecutorEnv]:
    """A workspace whose deployments run on the local executor or on the two-node Ray cluster."""
    executor: str = request.param
    if executor == "ray":
        cluster: RayCluster = request.getfixturevalue("ray_cluster")
        cluster.restore()
    env = make_env(tmp_path, executor)
    yield env
    cleanup(env)
    if executor == "ray":
        # Whatever the job did, its executor leaves no actor behind.
        assert no_actors_left(), f"Ray actors left after the test: {actor_pids()}"


@pytest.fixture
def ray_jobs(tmp_path: Path, engine_env: None, ray_cluster: RayCluster) -> Iterator[ExecutorEnv]:
    """Only the Ray executor (scenarios that exist only there: a node that vanishes)."""
    ray_cluster.restore()
    env = make_env(tmp_path, "ray")
    yield env
    cleanup(env)
    assert no_actors_left(), f"Ray actors left after the test: {actor_pids()}"
