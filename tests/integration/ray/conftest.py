"""Fixtures for running the job engine's scenarios on both executors: local processes and Ray actors.

The Ray side is one real two-node Ray cluster (``ray.cluster_utils.Cluster``, one CPU per node) shared
by the session, on loopback only and with token authentication. A compute of type ``ray`` with address
``auto`` points at it (the drivers inherit ``RAY_ADDRESS`` and the token from this process), and every
deployment of the ``ray`` environment names that compute.

The scenarios themselves are the job engine's own tests (``tests/integration/jobs``), loaded from
their files and run against the environment built here, so the two executors are held to the same
assertions.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import os
import secrets
import signal
import socket
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
EXECUTORS = ["local", pytest.param("ray", marks=pytest.mark.ray)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ray: runs on a real Ray cluster (needs the ray extra; skipped without it)")


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _loopback(address: str) -> bool:
    """An address from /proc/net/tcp{,6} (hex, little-endian words) is on the loopback interface."""
    raw = bytes.fromhex(address)
    if len(raw) == 4:
        return raw[::-1][0] == 127
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    ip = ipaddress.IPv6Address(words)
    return ip.is_loopback or (ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


def listening_sockets(pids: set[int]) -> list[tuple[int, str, int, bool]]:
    """(pid, hex address, port, on loopback) of every TCP socket the processes listen on."""
    listening: dict[str, tuple[str, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    address, port = fields[1].split(":")
                    listening[fields[9]] = (address, int(port, 16))
    found = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in listening:
                        address, port = listening[target[8:-1]]
                        found.append((pid, address, port, _loopback(address)))
    return found


class RayCluster:
    """The module's two-node cluster; tests that remove a node call ``restore()`` to get two again."""

    def __init__(self, cluster: Any, client_port: int) -> None:
        self.cluster = cluster
        self.client_address = f"ray://127.0.0.1:{client_port}"

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def worker_nodes(self) -> list[Any]:
        return list(self.cluster.worker_nodes)

    def restore(self) -> None:
        if not self.cluster.worker_nodes:
            self.cluster.add_node(num_cpus=1, include_dashboard=False)
        self.cluster.wait_for_nodes()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    # One cluster for the whole session: a second ``Cluster`` started in the same process after the
    # first one's shutdown fails ("Failed to start GCS"; Ray keeps per-process state, the auth token
    # among it), so every module of Ray tests shares this one.
    with pytest.MonkeyPatch.context() as mp:
        # Loopback only (Ray reads this when imported), token auth; the drivers inherit all of it.
        mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        mp.setenv("RAY_AUTH_MODE", "token")
        mp.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        mp.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
        ray = pytest.importorskip("ray", reason="the Ray executor tests need the ray extra: pip install -e '.[ray]'")
        from ray.cluster_utils import Cluster

        # In case Ray was imported before the settings above.
        ray._private.ray_constants.ENABLE_RAY_CLUSTER = False
        ray._raylet.Config.initialize("")
        # The head also serves Ray Client (ray://); Ray 2.60's client server needs a fixed runtime-env agent port.
        client_port, agent_port = free_port(), free_port()
        head = {"num_cpus": 1, "include_dashboard": False, "ray_client_server_port": client_port}
        head["runtime_env_agent_port"] = agent_port
        cluster = Cluster(initialize_head=True, head_node_args=head)
        try:
            cluster.add_node(num_cpus=1, include_dashboard=False)
            cluster.wait_for_nodes()
            mp.setenv("RAY_ADDRESS", cluster.address)
            yield RayCluster(cluster, client_port)
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

    def wait(self, job: Any, timeout: float = 120) -> Any:
        """The suite's ``wait``, minus one false alarm: a job just resumed looks lost until its new driver beats.

        ``resume`` starts the new driver; on a loaded machine its first heartbeat can come later than the
        tests' ``driver_stale_seconds`` (2 s). A job still Queued or Preparing is given a little longer.
        """
        deadline = time.monotonic() + timeout
        while True:
            final = super().wait(job, timeout=max(1.0, deadline - time.monotonic()))
            starting = final.status.value in ("Queued", "Preparing")
            if final.status.terminal or not starting or time.monotonic() > deadline:
                return final
            time.sleep(0.2)

    def worker_pids(self, job_name: str) -> list[int]:
        """The processes running this job's workers (Ray: the cluster runs one job at a time here)."""
        return actor_pids() if self.executor == "ray" else suite.worker_pids(job_name)


@pytest.fixture
def engine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job suite's short engine timings, so that faults are detected in test time."""
    monkeypatch.setenv("BATCHPOINT_ENGINE_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("BATCHPOINT_ENGINE_LEASE_SECONDS", "1.5")
    monkeypatch.setenv("BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS", "4")


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
