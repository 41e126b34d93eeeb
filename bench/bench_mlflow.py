"""``mlflow.log_metric`` throughput and ``log_batch`` of 1,000 metrics: embedded, batchpoint server, stock server.

    python bench/bench_mlflow.py                        # 300 metrics per round, 3 rounds
    python bench/bench_mlflow.py --metrics 100 --rounds 1
    python bench/bench_mlflow.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB

Three targets, each measured from a fresh client process (the stock MLflow client, as a job's user
code would call it), alternated per round so that a noisy machine hurts them alike:

* ``embedded``: ``MLFLOW_TRACKING_URI=sqlite:///<workspace>/tracking.db``, the store
  ``open_tracking_db`` created (what a job gets in embedded mode);
* ``batchpoint-server``: a real ``batchpoint server`` on a free loopback port, through HTTP with
  ``MLFLOW_TRACKING_TOKEN`` (its tracking store: the workspace's SQLite file, or the schema ``mlflow``
  of ``--database-url``);
* ``mlflow-server``: ``mlflow server --backend-store-uri sqlite:///... --workers 1`` on loopback,
  started by this script (its default uvicorn server, with artifact proxying).

Per round and target: one run, 10 warm-up calls, then ``--metrics`` sequential ``log_metric`` calls
(metrics/s), then ``--batches`` ``log_batch`` calls of 1,000 metrics each (ms per call, median).
Targets (issue #14): the server's rate ≥ 1× the stock server's; ``log_batch`` of 1,000 < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import httpx

BIN = Path(sys.executable).parent
TARGETS = ("embedded", "batchpoint-server", "mlflow-server")

CLIENT = r"""
import json, os, statistics, sys, time
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

metrics, batches = int(sys.argv[1]), int(sys.argv[2])
client = MlflowClient()
mlflow.set_experiment("bench-mlflow")
with mlflow.start_run() as run:
    for i in range(10):
        mlflow.log_metric("warm", i, step=i)
    t0 = time.perf_counter()
    for i in range(metrics):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    elapsed = time.perf_counter() - t0
    batch_ms = []
    for b in range(batches):
        now = int(time.time() * 1000)
        batch = [Metric(f"m{k}", float(k), now, b) for k in range(1000)]
        t1 = time.perf_counter()
        client.log_batch(run.info.run_id, metrics=batch)
        batch_ms.append((time.perf_counter() - t1) * 1000)
    logged = len(client.get_metric_history(run.info.run_id, "loss"))
print(json.dumps({"metrics_per_s": metrics / elapsed, "log_metric_ms": elapsed / metrics * 1000,
                  "log_batch_ms": statistics.median(batch_ms), "log_batch_all_ms": batch_ms, "logged": logged}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: no answer in {timeout} s")


def _start(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def embedded_store(root: Path) -> str:
    """A workspace's tracking store, created by ``open_tracking_db``; its ``MLFLOW_TRACKING_URI``."""
    from batchpoint.runs.tracking import open_tracking_db, tracking_url
    from batchpoint.services import Services
    from batchpoint.workspace import Workspace, init_workspace

    project = root / "embedded"
    project.mkdir()
    init_workspace(project)
    workspace = Workspace.open(project)
    svc = Services(workspace)
    open_tracking_db(svc).dispose()
    url = tracking_url(svc)
    workspace.close()
    return url


def batchpoint_server(root: Path, database_url: str | None) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    from batchpoint.workspace import init_workspace

    project = root / "server"
    project.mkdir()
    init_workspace(project)
    token = "bp-bench-" + secrets.token_urlsafe(32)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPOINT_")}
    env.update(BATCHPOINT_BOOTSTRAP_TOKEN=token, BATCHPOINT_CONFIG=str(project / "user-config.json"))
    if database_url:
        env["BATCHPOINT_DATABASE_URL"] = database_url
    proc = _start([str(BIN / "batchpoint"), "server", "--port", str(port)], project, env, root / "batchpoint.log")
    url = f"http://127.0.0.1:{port}"
    _wait_http(url, proc)
    # The first MLflow request imports mlflow and opens the store (seconds): not part of the rate.
    httpx.get(url + "/api/2.0/mlflow/experiments/search?max_results=1", headers={"Authorization": f"Bearer {token}"},
              timeout=120).raise_for_status()  # fmt: skip
    return proc, {"MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_TOKEN": token}


def mlflow_server(root: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    folder = root / "stock"
    folder.mkdir()
    port = _free_port()
    cmd = [
        str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "artifacts"),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHPOINT_", "MLFLOW_"))}
    proc = _start(cmd, folder, env, root / "mlflow.log")
    url = f"http://127.0.0.1:{port}"
    _wait_http(url, proc)
    return proc, {"MLFLOW_TRACKING_URI": url}


def measure(target_env: dict[str, str], metrics: int, batches: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHPOINT_", "MLFLOW_"))}
    env.update(target_env, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, str(metrics), str(batches)], env=env, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"client failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["logged"] != metrics:
        raise RuntimeError(f"{result['logged']} of {metrics} metrics read back")
    return result


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target in TARGETS:
        mine = [r for r in runs if r["target"] == target]
        out[target] = {
            "metrics_per_s_median": common.median([r["metrics_per_s"] for r in mine]),
            "log_metric_ms_median": common.median([r["log_metric_ms"] for r in mine]),
            "log_batch_1000_ms_median": common.median([r["log_batch_ms"] for r in mine]),
        }
    stock = out["mlflow-server"]["metrics_per_s_median"]
    for target in TARGETS:
        out[target]["rate_vs_stock_server"] = out[target]["metrics_per_s_median"] / stock
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", type=int, default=300, help="log_metric calls per round and target")
    parser.add_argument("--batches", type=int, default=5, help="log_batch calls of 1,000 metrics per round and target")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="the batchpoint server's metadata database")
    parser.add_argument("--quick", action="store_true", help="100 metrics, 2 batches, 1 round")
    args = parser.parse_args(argv)
    metrics, batches, rounds = (100, 2, 1) if args.quick else (args.metrics, args.batches, args.rounds)
    common.ensure_compiled()
    common.WORK.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="mlflow-", dir=common.WORK))
    targets = {"embedded": {"MLFLOW_TRACKING_URI": embedded_store(root)}}
    procs = []
    try:
        proc, targets["batchpoint-server"] = batchpoint_server(root, args.database_url)
        procs.append(proc)
        proc, targets["mlflow-server"] = mlflow_server(root)
        procs.append(proc)
        common.wait_quiet()
        runs = []
        for round_no in range(rounds):
            for target in TARGETS:
                result = {"round": round_no, "target": target, **measure(targets[target], metrics, batches)}
                runs.append(result)
                print(
                    f"round {round_no} {target:18s} {result['metrics_per_s']:7.1f} log_metric/s "
                    f"({result['log_metric_ms']:.2f} ms each), log_batch of 1,000: {result['log_batch_ms']:.1f} ms"
                )
    finally:
        for proc in procs:
            _stop(proc)
    summary = _summary(runs)
    print(json.dumps(summary, indent=2))
    backend = "postgresql" if args.database_url else "sqlite"
    settings = {"metrics": metrics, "batches": batches, "rounds": rounds, "server_backend": backend}
    name = "mlflow" + ("-postgresql" if args.database_url else "") + ("-quick" if args.quick else "")
    common.save(name, {"settings": settings, "summary": summary, "runs": runs})
    return summary


if __name__ == "__main__":
    main()
