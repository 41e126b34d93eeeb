"""Server-started jobs: invoke → driver up and invoke → Completed, drivers forked from the zygote or not.

    python bench/bench_server_startup.py               # 8 jobs per way, 2 rounds
    python bench/bench_server_startup.py --jobs 4 --rounds 1

A real ``batchpoint server`` on a free loopback port and a fresh workspace per run; a no-op scoring
script over 4 one-line files (``mini_batch_size`` 1, 2 workers). Through the remote SDK, one job after
the other: t0 just before ``invoke()``, the job's ``started_at`` (its driver is up and has the
workspace open), and the job read back as Completed. Two ways, alternated per round:
``BATCHPOINT_ENGINE_FORK_DRIVER=true`` (the default: the server's zygote forks each driver) and
``false`` (each driver is a fresh interpreter).
"""

from __future__ import annotations

import argparse
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

SCORER = "def init():\n    pass\n\n\ndef run(mini_batch):\n    return [1] * len(mini_batch)\n"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(project: Path, fork: bool) -> tuple[subprocess.Popen[bytes], str, str]:
    token = "bp-bench-" + secrets.token_urlsafe(32)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPOINT_")}
    env.update(
        BATCHPOINT_BOOTSTRAP_TOKEN=token,
        BATCHPOINT_ENGINE_FORK_DRIVER=str(fork).lower(),
        BATCHPOINT_CONFIG=str(project / "user-config.json"),
    )
    proc = subprocess.Popen(
        [str(BIN / "batchpoint"), "server", "--port", str(port)], cwd=project, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url, token
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start in 60 s")


def measure(fork: bool, jobs: int) -> dict[str, Any]:
    from batchpoint import Client
    from batchpoint.common import yamlio
    from batchpoint.workspace import init_workspace

    common.WORK.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="server-startup-", dir=common.WORK))
    root.chmod(0o755)  # as root, workers run as an unprivileged user, who must reach the workspace
    project = root / "project"
    project.mkdir()
    init_workspace(project)
    proc, url, token = _start_server(project, fork)
    try:
        client = Client(server=url, token=token)
        client.batch_endpoints.create_from_file(None, name="srv-ep")
        dep = root / "dep"
        (dep / "code").mkdir(parents=True)
        (dep / "code" / "score.py").write_text(SCORER)
        (dep / "model").mkdir()
        (dep / "model" / "model.txt").write_text("none")
        spec = {
            "name": "srv-dep", "endpoint_name": "srv-ep", "type": "model", "model": {"name": "noop", "path": "model"},
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "settings": {"mini_batch_size": 1, "max_concurrency_per_instance": 2},
        }  # fmt: skip
        (dep / "deployment.yml").write_text(yamlio.dumps(spec))
        client.batch_deployments.create_from_file(dep / "deployment.yml", set_default=True)
        data = root / "data"
        data.mkdir()
        for i in range(4):
            (data / f"{i}.txt").write_text("x\n")
        common.wait_quiet()
        up, done = [], []
        for _ in range(jobs):
            t0 = time.time()
            job = client.batch_endpoints.invoke("srv-ep", input=str(data))
            final = client.jobs.wait(job.name, timeout=120)
            done.append(time.time() - t0)
            if final.status.value != "Completed" or final.started_at is None:
                raise RuntimeError(f"job {job.name} ended {final.status.value}: {final.message}")
            up.append(final.started_at.timestamp() - t0)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    return {"fork": fork, "driver_up_s": up, "completed_s": done}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="4 jobs, 1 round")
    args = parser.parse_args(argv)
    jobs, rounds = (4, 1) if args.quick else (args.jobs, args.rounds)
    common.ensure_compiled()
    runs = []
    for _ in range(rounds):
        for fork in (True, False):
            run = measure(fork, jobs)
            runs.append(run)
            print(
                f"fork={str(fork).lower():5s}: invoke -> driver up median {common.median(run['driver_up_s']):.3f} s, "
                f"-> Completed median {common.median(run['completed_s']):.3f} s "
                f"(driver up: {', '.join(f'{x:.3f}' for x in run['driver_up_s'])})"
            )
    summary = {
        way: {
            "driver_up_s_median": common.median([x for r in runs if r["fork"] is fork for x in r["driver_up_s"]]),
            "completed_s_median": common.median([x for r in runs if r["fork"] is fork for x in r["completed_s"]]),
        }
        for way, fork in (("zygote", True), ("fresh_interpreter", False))
    }
    print(f"medians: {summary}")
    common.save("server-startup" + ("-quick" if args.quick else ""), {"summary": summary, "runs": runs})
    return summary


if __name__ == "__main__":
    main()
