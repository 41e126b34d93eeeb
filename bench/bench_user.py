"""Performance as a user measures it: whole processes started from a shell, timed from the outside.

    python bench/bench_user.py                  # 300 files x 5,000 rows x 20 features, 3 rounds
    python bench/bench_user.py --quick          # 40 files, 2 rounds, 3 start-up jobs
    python bench/bench_user.py --ray --rounds 3 # also batchpoint on a private local Ray vs Ray Data

Workload (``bench/workload.py``): CSV files of float rows and a RandomForestClassifier (50 trees, depth
8). Every side reads each file with pandas and calls ``predict``. In every round, one after the other
(the order rotates from round to round), each a fresh process started by this script as a shell starts
it, and timed from just before the spawn to its exit:

* ``batchpoint``: ``batchpoint batch-endpoint invoke --name bench-ep --deployment-name dep1 --input DIR
  --output-path OUT --stream --query name -o tsv`` in an embedded workspace (``bench/.work/user``; the
  deployment as in ``bench_throughput.py``: ``instance_count 1``, ``max_concurrency_per_instance 2``,
  ``mini_batch_size 4``). The command exits once the job has ended; the output's row count is checked.
* ``pool``: ``python bench/pool_user_script.py DIR OUT.csv MODEL``: ``multiprocessing.Pool(2)`` (fork),
  an initializer loading the model, per file read + predict, all predictions in one CSV (fsynced).
* ``batchpoint_polled``: ``batchpoint`` again while a loop runs ``batchpoint job show -n NAME`` every
  second (1 s sleep between calls, as ``while ...; do sleep 1; done`` in an Azure script), from the
  moment invoke printed the job's name. Reported: its time over the ``batchpoint`` run of the same round.
* with ``--ray``: ``ray_data``: ``python bench/ray_data_user_script.py``: ``ray.init()`` with its defaults,
  ``from_items(paths)``, ``map_batches`` of a callable class on ``ActorPoolStrategy(size=2)``,
  ``write_csv``; and ``batchpoint_ray``: the ``batchpoint`` command on a deployment whose compute is
  ``--type ray --address local`` (the job's driver starts a private Ray).

Then ``--startup-rounds`` times: invoke (no ``--stream``) on a deployment with a no-op scoring script
(``bench_startup.py``'s, which stamps ``time.time()`` of its first ``run()``): from just before the
spawn of ``batchpoint batch-endpoint invoke`` to that stamp; median and p95.

CPU is measured for the whole tree of each run: this process makes itself a child subreaper, so the
detached job driver (and what Ray leaves behind) is adopted and reaped here, and ``wait4`` gives every
process's CPU (``common.ProcessTree``). Ray reaps its own worker processes, so on the Ray sides the
tree is also sampled from /proc every 0.1 s and the larger figure counts. The CLI's CPU is split at the moment it printed the job's name
(start-up and invoke vs following the job). CPU that other processes used meanwhile (``/proc/stat``
minus the tree and this process) gives ``foreign_share``; runs under ``--quiet-share`` count as quiet.
The time breakdown uses the job row (created, started, ended), ``driver.log`` and stamps the scoring
code writes (script imported, model loaded, first and last ``run()``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cli
import bench_ray
import bench_startup
import common

ENDPOINT = "bench-ep"

SCORER = """
import json
import os
import time

_STATE = os.environ["BENCH_STATE"]


def _stamp(what, value):
    with open(os.path.join(_STATE, f"{what}-{os.getpid()}"), "w") as fh:
        fh.write(json.dumps(value))


_stamp("import", time.time())

import joblib
import pandas as pd

_first = None
_rows = 0


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.joblib"))
    _stamp("ready", time.time())


def run(mini_batch):
    global _first, _rows
    started = time.time()
    if _first is None:
        _first = started
        _stamp("first", started)
    frames = []
    for path in mini_batch:
        data = pd.read_csv(path)
        frames.append(pd.DataFrame({"file": os.path.basename(path), "prediction": model.predict(data.values)}))
    result = pd.concat(frames, ignore_index=True)
    _rows += len(result)
    # Measurement only: when this worker's latest run() ended, its CPU so far and its rows.
    _stamp("last", [time.time(), sum(os.times()[:2]), _rows])
    return result
"""

_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ (.*)$")


# -- set-up ------------------------------------------------------------------------------------------------
class Setup:
    """The embedded workspace with its deployments, the inputs and the commands."""

    def __init__(self, args: argparse.Namespace, files: int) -> None:
        from workload import workload

        self.data = workload(files, args.rows, 20)
        self.inputs, self.model = self.data / "inputs", self.data / "model" / "model.joblib"
        self.bench = common.Bench("user")
        self.root = self.bench.root
        self.state = common.shared_dir(self.root / "state")
        self.startup_state = common.shared_dir(self.root / "state-startup")
        self.pool_state = common.shared_dir(self.root / "state-pool")
        settings = {
            "instance_count": 1, "max_concurrency_per_instance": args.workers, "mini_batch_size": args.mini_batch_size,
            "output_file_name": "predictions.csv", "retry_settings": {"max_retries": 3, "timeout": 600},
            "environment_variables": {"BENCH_STATE": str(self.state)},
        }  # fmt: skip
        self.dep_local = self.bench.deploy(SCORER, settings, {"model.joblib": self.model})
        self.dep_ray = None
        if args.ray:
            self.bench.client.computes.create("ray-local", type="ray", address="local")
            self.dep_ray = self.bench.deploy(SCORER, settings, {"model.joblib": self.model})
            bench_ray._set_compute(self.bench, self.dep_ray, "azureml:ray-local")
        self.tiny = self.root / "inputs-tiny"
        self.tiny.mkdir()
        for i in range(4):
            (self.tiny / f"f{i}.txt").write_text("x\n")
        self.dep_startup = self.bench.deploy(
            bench_startup.SCORER,
            {"instance_count": 1, "max_concurrency_per_instance": args.workers, "mini_batch_size": 1,
             "environment_variables": {"BENCH_STATE": str(self.startup_state)}},
        )  # fmt: skip
        self.env = bench_cli._env(self.root)
        self.exe = str(Path(sys.executable).parent / "batchpoint")
        self.python = str(Path(sys.executable).parent / "python")
        self.out = self.root / "out"
        self.logs = self.root / "cli-logs"
        self.logs.mkdir()
        self.runs = 0

    def invoke_cmd(self, deployment: str, inputs: Path, output: Path | None, stream: bool) -> list[str]:
        cmd = [self.exe, "batch-endpoint", "invoke", "--name", ENDPOINT, "--deployment-name", deployment,
               "--input", str(inputs)]  # fmt: skip
        if output is not None:
            cmd += ["--output-path", str(output)]
        if stream:
            cmd.append("--stream")
        return cmd + ["--query", "name", "-o", "tsv"]

    def job_dir(self, name: str) -> Path:
        return self.bench.job_dir(name)

    def next_log(self, label: str) -> Path:
        self.runs += 1
        return self.logs / f"{self.runs:03d}-{label}.stderr.txt"


def _clear(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


def _stamps(state: Path, what: str) -> dict[int, Any]:
    out = {}
    for path in state.glob(f"{what}-*"):
        try:
            out[int(path.name.rsplit("-", 1)[1])] = json.loads(path.read_text())
        except (ValueError, OSError):
            continue
    return out


def _count_rows(paths: list[Path]) -> int:
    """Data rows of CSV files with a header line each."""
    rows = 0
    for path in paths:
        with open(path, "rb") as fh:
            rows += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1
    return rows


def _driver_log(job_dir: Path) -> dict[str, Any]:
    """Driver pid and the times (epoch seconds) of its log lines that mark phases."""
    out: dict[str, Any] = {}
    try:
        lines = (job_dir / "logs" / "driver.log").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        m = _LOG_LINE.match(line)
        if not m:
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        text = m.group(2)
        if pid := re.search(r"driver pid (\d+) started", text):
            out["driver_pid"] = int(pid.group(1))
            out.setdefault("driver_log_started", t)
        elif "planned" in text:
            out.setdefault("planned", t)
        elif "driver finished" in text:
            out["driver_finished"] = t
    return out


class _Measure:
    """Machine CPU, this process's CPU and stray children around one run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.waited = common.wait_quiet(max_wait=args.max_wait) if args.wait_quiet else 0.0
        self.strays = common.reap_strays()
        self.busy0, self.own0 = common.machine_busy_s(), common.own_cpu_s()

    def finish(self, res: dict[str, Any], tree_cpu: float, window_s: float) -> None:
        cores = os.cpu_count() or 1
        own = common.own_cpu_s() - self.own0
        foreign = max(0.0, common.machine_busy_s() - self.busy0 - tree_cpu - own)
        res.update(
            waited_for_quiet_s=round(self.waited, 2), bench_cpu_s=round(own, 3), foreign_cpu_s=round(foreign, 3),
            foreign_share=foreign / (window_s * cores), tree_cpu_s=round(tree_cpu, 3),
        )  # fmt: skip


# -- one run of each side ---------------------------------------------------------------------------------
class ShowLoop:
    """``batchpoint job show -n NAME`` every ``interval`` s (from one call's end to the next's start)."""

    def __init__(self, s: Setup, tree: common.ProcessTree, interval: float = 1.0) -> None:
        self.s, self.tree, self.interval = s, tree, interval
        self.name: str | None = None
        self.current: int | None = None
        self.next_at = 0.0
        self.pids: list[int] = []
        self.stopped = False

    def __call__(self) -> None:
        if self.stopped or self.name is None:
            return
        if self.current is not None:
            if self.tree.running(self.current):
                return
            self.next_at = self.tree.exited[self.current][0] + self.interval
            self.current = None
        if time.time() >= self.next_at:
            self.current, _ = self.tree.start(
                [self.s.exe, "job", "show", "-n", self.name], env=self.s.env, cwd=self.s.root
            )
            self.pids.append(self.current)

    def summary(self) -> dict[str, Any]:
        done = [self.tree.exited[p] for p in self.pids if p in self.tree.exited]
        return {
            "show_calls": len(self.pids),
            "show_failed": sum(1 for _t, code, _c in done if code != 0),
            "show_cpu_s": round(sum(c for _t, _code, c in done), 3),
        }


def run_batchpoint(s: Setup, args: argparse.Namespace, deployment: str, label: str, *, poll_show: bool = False) -> dict[str, Any]:  # fmt: skip
    _clear(s.state)
    out = s.out / f"{s.runs + 1:03d}-{label}"
    measure = _Measure(args)
    tree = common.ProcessTree(sample_every=0.1 if deployment == s.dep_ray else None)
    loop = ShowLoop(s, tree, args.show_every) if poll_show else None
    pid, t0 = tree.start(s.invoke_cmd(deployment, s.inputs, out, True), env=s.env, cwd=s.root, stderr=s.next_log(label))
    cli_cpu_at_print = None
    printed_at = None
    name = None

    def every() -> None:
        nonlocal cli_cpu_at_print, printed_at, name
        if name is None and tree.lines[pid]:
            printed_at, name = tree.lines[pid][0]
            name = name.strip()
            cli_cpu_at_print = common._proc_cpu(pid)
            if loop is not None:
                loop.name = name
        if loop is not None:
            if tree.running(pid):
                loop()
            else:
                loop.stopped = True

    tree.wait(pid, args.timeout, every=every)
    t_exit, code, cli_cpu = tree.exited[pid]
    # The driver (adopted) and any show call still going: wait for them too, for their CPU.
    tree.wait(pid, 120, tree=True, every=every)
    t_tree = time.time()
    if code != 0 or name is None:
        raise RuntimeError(f"{label}: invoke exited {code}; see {s.logs}")
    output = out / "predictions.csv"
    rows = _count_rows([output])
    expected = len(os.listdir(s.inputs)) * args.rows
    if rows != expected:
        raise RuntimeError(f"{label}: {rows} rows in {output}, expected {expected}")
    seconds = t_exit - t0
    res: dict[str, Any] = {"job": name, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}
    job = s.bench.client.jobs.get(name)
    log = _driver_log(s.job_dir(name))
    driver_pid = log.get("driver_pid")
    drv = tree.exited.get(driver_pid) if driver_pid else None
    imports, ready, first, last = (_stamps(s.state, w) for w in ("import", "ready", "first", "last"))
    workers_cpu = sum(v[1] for v in last.values())
    m: dict[str, float | None] = {
        "job_row_created": job.created_at.timestamp() if job.created_at else None,
        "cli_printed_name": printed_at,
        "driver_started": job.started_at.timestamp() if job.started_at else log.get("driver_log_started"),
        "planned": log.get("planned"),
        "first_script_imported": min(imports.values()) if imports else None,
        "all_scripts_imported": max(imports.values()) if imports else None,
        "first_worker_ready": min(ready.values()) if ready else None,
        "all_workers_ready": max(ready.values()) if ready else None,
        "first_run": min(first.values()) if first else None,
        "last_run_end": max(v[0] for v in last.values()) if last else None,
        "job_ended": job.ended_at.timestamp() if job.ended_at else log.get("driver_finished"),
        "cli_exit": t_exit,
        "driver_exit": drv[0] if drv else None,
    }
    res["milestones_s"] = {k: (round(v - t0, 3) if v is not None else None) for k, v in m.items()}
    res["job_duration_s"] = job.duration_seconds
    res["cpu_s"] = {
        "cli": round(cli_cpu, 3),
        "cli_until_name_printed": round(cli_cpu_at_print, 3) if cli_cpu_at_print is not None else None,
        "cli_following": round(cli_cpu - cli_cpu_at_print, 3) if cli_cpu_at_print is not None else None,
        "driver_with_reaped_children": round(drv[2], 3) if drv else None,
        "workers_self_reported": round(workers_cpu, 3),
        "other_adopted": round(tree.adopted_cpu_s - (drv[2] if drv else 0.0), 3),
    }
    if drv and res["cpu_s"]["driver_with_reaped_children"] is not None and deployment == s.dep_local:
        # Local workers are the driver's children, reaped by it: their CPU is in the driver's figure.
        res["cpu_s"]["driver_alone"] = round(drv[2] - workers_cpu, 3)
    if loop is not None:
        res.update(loop.summary())
        res["cpu_s"]["job_show_loop"] = res["show_cpu_s"]
    measure.finish(res, _tree_cpu(tree, res), t_tree - t0)
    shutil.rmtree(out, ignore_errors=True)
    return res


def _tree_cpu(tree: common.ProcessTree, res: dict[str, Any]) -> float:
    """The tree's CPU: what was reaped here, or the sampled sum where that is more (Ray: see ``sampled_cpu_s``)."""
    if not tree.sample_every:
        return tree.cpu_s
    res["cpu_s"]["reaped_here"] = round(tree.cpu_s, 3)
    res["cpu_s"]["sampled_descendants"] = round(tree.sampled_cpu_s, 3)
    return max(tree.cpu_s, tree.sampled_cpu_s)


def _script_run(s: Setup, args: argparse.Namespace, cmd: list[str], label: str, env: dict[str, str], *, sample: bool = False) -> tuple[dict[str, Any], float, common.ProcessTree]:  # fmt: skip
    measure = _Measure(args)
    tree = common.ProcessTree(sample_every=0.1 if sample else None)
    pid, t0 = tree.start(cmd, env=env, cwd=s.root, stderr=s.next_log(label))
    tree.wait(pid, args.timeout)
    t_exit, code, cpu = tree.exited[pid]
    tree.wait(pid, 120, tree=True)
    if code != 0:
        raise RuntimeError(f"{label}: exited {code}; see {s.logs}")
    res: dict[str, Any] = {"seconds": t_exit - t0, "cpu_s": {"script_with_reaped_children": round(cpu, 3),
                           "other_adopted": round(tree.adopted_cpu_s, 3)}}  # fmt: skip
    measure.finish(res, _tree_cpu(tree, res), time.time() - t0)
    return res, t0, tree


def run_pool(s: Setup, args: argparse.Namespace) -> dict[str, Any]:
    _clear(s.pool_state)
    out = s.root / "pool-output.csv"
    out.unlink(missing_ok=True)
    script = str(common.BENCH_DIR / "pool_user_script.py")
    cmd = [s.python, script, str(s.inputs), str(out), str(s.model), "--workers", str(args.workers),
           "--chunksize", str(args.mini_batch_size)]  # fmt: skip
    res, t0, _tree = _script_run(s, args, cmd, "pool", {**os.environ, "BENCH_STATE": str(s.pool_state)})
    res["rows"] = _count_rows([out])
    res["rows_per_s"] = res["rows"] / res["seconds"]
    st = {w: _stamps(s.pool_state, w) for w in ("script", "ready", "first", "last")}
    res["milestones_s"] = {
        "imports_done": round(min(st["script"].values()) - t0, 3) if st["script"] else None,
        "all_workers_ready": round(max(st["ready"].values()) - t0, 3) if st["ready"] else None,
        "first_result": round(min(st["first"].values()) - t0, 3) if st["first"] else None,
        "last_result": round(max(st["last"].values()) - t0, 3) if st["last"] else None,
        "exit": round(res["seconds"], 3),
    }
    return res


def run_ray_data(s: Setup, args: argparse.Namespace) -> dict[str, Any]:
    out = s.root / "ray-data-output"
    shutil.rmtree(out, ignore_errors=True)
    script = str(common.BENCH_DIR / "ray_data_user_script.py")
    cmd = [s.python, script, str(s.inputs), str(out), str(s.model), "--workers", str(args.workers),
           "--batch-size", str(args.mini_batch_size)]  # fmt: skip
    res, _t0, _tree = _script_run(s, args, cmd, "ray_data", dict(os.environ), sample=True)
    res["rows"] = _count_rows(sorted(out.glob("*.csv")))
    res["rows_per_s"] = res["rows"] / res["seconds"]
    shutil.rmtree(out, ignore_errors=True)
    return res


def run_startup(s: Setup, args: argparse.Namespace) -> dict[str, Any]:
    """From just before spawning ``batchpoint batch-endpoint invoke`` (no --stream) to the first run()."""
    _clear(s.startup_state)
    measure = _Measure(args)
    tree = common.ProcessTree()
    cmd = s.invoke_cmd(s.dep_startup, s.tiny, None, False)
    pid, t0 = tree.start(cmd, env=s.env, cwd=s.root, stderr=s.next_log("startup"))
    tree.wait(pid, args.timeout, tree=True)  # the CLI, then the driver it left behind
    t_exit, code, cli_cpu = tree.exited[pid]
    if code != 0 or not tree.lines[pid]:
        raise RuntimeError(f"startup: invoke exited {code}; see {s.logs}")
    name = tree.lines[pid][0][1].strip()
    job = s.bench.client.jobs.get(name)
    runs = [float(p.read_text()) for p in s.startup_state.glob("run-*")]
    imports = [float(p.read_text()) for p in s.startup_state.glob("import-*")]
    if not runs or job.status.value != "Completed":
        raise RuntimeError(f"startup job {name} ended {job.status.value} without a run() stamp")
    m = {
        "job_row_created": job.created_at.timestamp() if job.created_at else None,
        "cli_printed_name": tree.lines[pid][0][0],
        "cli_exit": t_exit,
        "driver_started": job.started_at.timestamp() if job.started_at else None,
        "script_imported": min(imports) if imports else None,
        "first_run": min(runs),
    }
    res: dict[str, Any] = {
        "job": name,
        "to_first_run_s": min(runs) - t0,
        "milestones_s": {k: (round(v - t0, 3) if v is not None else None) for k, v in m.items()},
        "cpu_s": {"cli": round(cli_cpu, 3)},
    }
    measure.finish(res, tree.cpu_s, time.time() - t0)
    return res


# -- summary ----------------------------------------------------------------------------------------------
def _paired(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str = "rows_per_s") -> list[float]:
    return [x[key] / y[key] for x, y in zip(a, b, strict=True)]


def _medians(runs: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    keys = list(runs[0][key]) if runs else []
    out: dict[str, float | None] = {}
    for k in keys:
        values = [r[key][k] for r in runs if r[key].get(k) is not None]
        out[k] = round(common.median(values), 3) if values else None
    return out


def summarize(runs: dict[str, list[dict[str, Any]]], startup: list[dict[str, Any]], quiet_share: float, show_every: float = 1.0) -> dict[str, Any]:  # fmt: skip
    med = {side: common.median([x["rows_per_s"] for x in xs]) for side, xs in runs.items() if xs}
    quiet = {side: [x for x in xs if x["foreign_share"] < quiet_share] for side, xs in runs.items()}
    qmed = {side: (common.median([x["rows_per_s"] for x in xs]) if xs else None) for side, xs in quiet.items()}

    def ratio(a: str, b: str) -> dict[str, Any] | None:
        if not runs.get(a) or not runs.get(b):
            return None
        paired = _paired(runs[a], runs[b])
        # Rounds where both runs were quiet.
        both = [
            p for p, x, y in zip(paired, runs[a], runs[b], strict=True)
            if x["foreign_share"] < quiet_share and y["foreign_share"] < quiet_share
        ]  # fmt: skip
        return {
            "of_medians": round(med[a] / med[b], 3),
            "paired_per_round": [round(p, 3) for p in paired],
            "paired_median": round(common.median(paired), 3),
            "quiet_rounds": len(both),
            "paired_median_quiet_rounds": round(common.median(both), 3) if both else None,
            "of_quiet_medians": round(qa / qb, 3) if (qa := qmed.get(a)) and (qb := qmed.get(b)) else None,
        }

    summary: dict[str, Any] = {
        "rows_per_s_median": {k: round(v, 1) for k, v in med.items()},
        "seconds_median": {side: round(common.median([x["seconds"] for x in xs]), 3) for side, xs in runs.items() if xs},
        "quiet_share_limit": quiet_share,
        "quiet_runs": {side: len(xs) for side, xs in quiet.items()},
        "rows_per_s_quiet_median": {k: (round(v, 1) if v else None) for k, v in qmed.items()},
        "foreign_share_median": {
            side: round(common.median([x["foreign_share"] for x in xs]), 3) for side, xs in runs.items() if xs
        },
        "ratio_batchpoint_vs_pool": ratio("batchpoint", "pool"),
        "target_batchpoint_vs_pool": 0.9,
        "ratio_batchpoint_ray_vs_ray_data": ratio("batchpoint_ray", "ray_data"),
        "target_batchpoint_ray_vs_ray_data": 1.5,
        "milestones_s_median": {side: _medians(xs, "milestones_s") for side, xs in runs.items() if xs and "milestones_s" in xs[0]},
        "cpu_s_median": {side: _medians(xs, "cpu_s") for side, xs in runs.items() if xs},
        "tree_cpu_s_median": {side: round(common.median([x["tree_cpu_s"] for x in xs]), 3) for side, xs in runs.items() if xs},
    }  # fmt: skip
    if runs.get("batchpoint_polled"):
        slow = _paired(runs["batchpoint_polled"], runs["batchpoint"], "seconds")
        summary["polled_slowdown"] = {
            "every_s": show_every,
            "paired_per_round": [round(x, 3) for x in slow],
            "paired_median": round(common.median(slow), 3),
            "show_calls_median": common.median([x["show_calls"] for x in runs["batchpoint_polled"]]),
            "show_cpu_s_median": round(common.median([x["show_cpu_s"] for x in runs["batchpoint_polled"]]), 3),
            "cpu_s_per_show_call": round(
                sum(x["show_cpu_s"] for x in runs["batchpoint_polled"])
                / max(1, sum(x["show_calls"] for x in runs["batchpoint_polled"])), 3
            ),
        }  # fmt: skip
    if startup:
        values = [x["to_first_run_s"] for x in startup]
        quiet_values = [x["to_first_run_s"] for x in startup if x["foreign_share"] < quiet_share]
        summary["startup"] = {
            "to_first_run_s_median": round(common.median(values), 3),
            "to_first_run_s_p95": round(common.percentile(values, 95), 3),
            "to_first_run_s_min": round(min(values), 3),
            "all": [round(v, 3) for v in values],
            "quiet_runs": len(quiet_values),
            "to_first_run_s_median_quiet": round(common.median(quiet_values), 3) if quiet_values else None,
            "milestones_s_median": _medians(startup, "milestones_s"),
            "cli_cpu_s_median": round(common.median([x["cpu_s"]["cli"] for x in startup]), 3),
            "target_s": 1.0,
        }
    return summary


def print_table(summary: dict[str, Any]) -> None:
    print("\n| side | rows/s (median) | seconds (median) | quiet runs | rows/s (quiet median) | tree CPU s (median) |")
    print("|---|---|---|---|---|---|")
    for side, rps in summary["rows_per_s_median"].items():
        q = summary["rows_per_s_quiet_median"].get(side)
        print(
            f"| {side} | {rps:,.0f} | {summary['seconds_median'][side]:.2f} | {summary['quiet_runs'][side]} | "
            f"{f'{q:,.0f}' if q else '-'} | {summary['tree_cpu_s_median'][side]:.2f} |"
        )
    print("\n| ratio | target | of medians | paired per round (median) | quiet rounds: paired median | each round |")
    print("|---|---|---|---|---|---|")
    for key, target in (("ratio_batchpoint_vs_pool", 0.9), ("ratio_batchpoint_ray_vs_ray_data", 1.5)):
        r = summary.get(key)
        if r:
            q = r["paired_median_quiet_rounds"]
            print(
                f"| {key[6:]} | >= {target} | {r['of_medians']:.3f} | {r['paired_median']:.3f} | "
                f"{f'{q:.3f}' if q else '-'} ({r['quiet_rounds']}) | {r['paired_per_round']} |"
            )
    if "polled_slowdown" in summary:
        p = summary["polled_slowdown"]
        print(
            f"\n`job show` every {p['every_s']:g} s during the job: {p['paired_median']:.3f}x the time of the job alone (paired "
            f"median; each round {p['paired_per_round']}); {p['show_calls_median']} calls, "
            f"{p['cpu_s_per_show_call']:.2f} CPU s per call"
        )
    if "startup" in summary:
        st = summary["startup"]
        print(
            f"\ninvoke (CLI) -> first run(): median {st['to_first_run_s_median']:.3f} s, p95 {st['to_first_run_s_p95']:.3f} s, "
            f"min {st['to_first_run_s_min']:.3f} s (target < 1 s); milestones (median, s after spawn): "
            + ", ".join(f"{k} {v:.3f}" for k, v in st["milestones_s_median"].items() if v is not None)
        )
    for side, ms in summary["milestones_s_median"].items():
        print(f"{side} milestones (median, s after spawn): " + ", ".join(f"{k} {v}" for k, v in ms.items()))
    for side, cpu in summary["cpu_s_median"].items():
        print(f"{side} CPU s (median): " + ", ".join(f"{k} {v}" for k, v in cpu.items()))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="40 files, 2 rounds, 3 start-up jobs")
    parser.add_argument("--files", type=int)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--startup-rounds", type=int)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mini-batch-size", type=int, default=4)
    parser.add_argument("--ray", action="store_true", help="also Ray Data vs batchpoint on a private local Ray")
    parser.add_argument("--no-polled", dest="polled", action="store_false", help="skip the job-show polling runs")
    parser.add_argument(
        "--show-every", type=float, default=2.0,
        help="seconds between two job-show calls of the polling runs (Azure's scripts sleep 10 s or more)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--no-wait-quiet", dest="wait_quiet", action="store_false",
                        help="do not wait for the machine to be idle before each run")  # fmt: skip
    parser.add_argument("--max-wait", type=float, default=60.0, help="longest wait for an idle machine per run (s)")
    parser.add_argument("--quiet-share", type=float, default=0.10,
                        help="runs during which other processes used less than this share of the CPUs count as quiet")  # fmt: skip
    args = parser.parse_args(argv)
    files = args.files or (40 if args.quick else 300)
    rounds = args.rounds or (2 if args.quick else 3)
    startup_rounds = args.startup_rounds or (3 if args.quick else 7)
    if args.ray:
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            parser.error("--ray needs Ray: pip install -e '.[ray]'")
    if not common.become_subreaper():
        print("warning: not a child subreaper; the detached driver's CPU will be missing", file=sys.stderr)
    try:
        return _main(args, files, rounds, startup_rounds)
    finally:
        common.reap_strays()
        common.become_subreaper(False)


def _main(args: argparse.Namespace, files: int, rounds: int, startup_rounds: int) -> dict[str, Any]:
    common.ensure_compiled()
    s = Setup(args, files)

    sides: list[tuple[str, Any]] = [
        ("batchpoint", lambda: run_batchpoint(s, args, s.dep_local, "batchpoint")),
        ("pool", lambda: run_pool(s, args)),
    ]
    if args.polled:
        sides.append(("batchpoint_polled", lambda: run_batchpoint(s, args, s.dep_local, "polled", poll_show=True)))
    if args.ray:
        assert s.dep_ray is not None
        dep_ray = s.dep_ray
        sides.append(("ray_data", lambda: run_ray_data(s, args)))
        sides.append(("batchpoint_ray", lambda: run_batchpoint(s, args, dep_ray, "batchpoint_ray")))
    run_startup(s, args)  # warm-up, not counted: the first CLI process after set-up reads cold files
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in sides}
    for r in range(rounds):
        order = sides[r % len(sides) :] + sides[: r % len(sides)]
        for name, fn in order:
            res = fn()
            runs[name].append(res)
            ms = res.get("milestones_s", {})
            extra = (f"; job row {ms.get('job_row_created')}, driver {ms.get('driver_started')}, workers ready "
                     f"{ms.get('all_workers_ready')}, last run() {ms.get('last_run_end')}, ended {ms.get('job_ended')} s"
                     if "job_row_created" in ms else "")  # fmt: skip
            if "show_calls" in res:
                extra += f"; {res['show_calls']} job show calls, {res['show_cpu_s']:.2f} CPU s"
            print(
                f"round {r + 1} {name:17s} {res['rows']} rows in {res['seconds']:.2f} s = {res['rows_per_s']:,.0f} rows/s, "
                f"tree CPU {res['tree_cpu_s']:.2f} s, others used {100 * res['foreign_share']:.0f}% of the CPUs{extra}",
                flush=True,
            )
    startup = []
    for i in range(startup_rounds):
        res = run_startup(s, args)
        startup.append(res)
        print(
            f"start-up {i + 1}: first run() {res['to_first_run_s']:.3f} s after spawning the CLI ("
            + ", ".join(f"{k} {v}" for k, v in res["milestones_s"].items())
            + f"); others used {100 * res['foreign_share']:.0f}% of the CPUs",
            flush=True,
        )
    s.bench.close()
    summary = summarize(runs, startup, args.quiet_share, args.show_every)
    print_table(summary)
    params = {
        "files": files, "rows_per_file": args.rows, "features": 20, "workers": args.workers,
        "mini_batch_size": args.mini_batch_size, "rounds": rounds, "startup_rounds": startup_rounds, "ray": args.ray,
        "model": "RandomForestClassifier(50 trees, depth 8)", "pool_start_method": "fork (Python's default on Linux)",
    }  # fmt: skip
    common.save(
        "user" + ("-quick" if args.quick else ""),
        {"params": params, "summary": summary, "runs": runs, "startup": startup},
    )
    return summary


if __name__ == "__main__":
    main()
