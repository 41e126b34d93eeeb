"""Start-up: from just before ``invoke()`` to the first ``run()`` call, and the CLI's own wall time.

    python bench/bench_startup.py                  # 10 jobs, 5 runs of each CLI command
    python bench/bench_startup.py --quick          # 5 jobs, 3 runs of each CLI command

The scoring script imports nothing and its ``init()`` does nothing. It writes ``time.time()`` to a
file when its module is imported and when ``run()`` is first called, so t1 is the moment user code
starts scoring (clocks of one machine; ``time.time()`` in every process). t0 is ``time.time()``
just before ``client.batch_endpoints.invoke(...)``. Milestones, each in seconds after t0 (from the
job row and the stamps; the driver may start its workers before its own imports, so they need not
come in this order):

* ``invoke_returned``: ``invoke()`` returned (it resolves the deployment, writes the job row, may
  prepare the runtime, starts the detached driver);
* ``script_imported``: the first worker has imported the scoring script (worker interpreter start,
  batchpoint's worker runtime, the script);
* ``driver_started``: the driver's ``started_at`` (interpreter start, the engine's imports, open the
  workspace);
* ``first_run``: the first ``run()`` call (``init()``, ready message, planning, first lease and task).

Each job has 4 one-line files, ``mini_batch_size: 1``, 2 workers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SCORER = """
import os, time

_STATE = os.environ["BENCH_STATE"]
_first = True


def _stamp(what):
    path = os.path.join(_STATE, f"{what}-{os.getpid()}")
    with open(path, "w") as fh:
        fh.write(repr(time.time()))


_stamp("import")


def init():
    pass


def run(mini_batch):
    global _first
    if _first:
        _stamp("run")
        _first = False
    return [1] * len(mini_batch)
"""


def _read_stamps(state: Path, what: str) -> float:
    return min(float(p.read_text()) for p in state.glob(f"{what}-*"))


def one_job(bench: common.Bench, inputs: Path, state: Path) -> dict[str, Any]:
    for old in state.iterdir():
        old.unlink()
    res = common.run_job(bench, inputs)
    t0 = res["t0"]
    job = bench.client.jobs.get(res["job"])
    assert job.started_at is not None
    started = job.started_at.timestamp()
    imported = _read_stamps(state, "import")
    first_run = _read_stamps(state, "run")
    return {
        "job": res["job"],
        "to_first_run_s": first_run - t0,
        "milestones_s": {
            "invoke_returned": res["invoke_s"],
            "script_imported": imported - t0,
            "driver_started": started - t0,
            "first_run": first_run - t0,
        },
        "to_completed_s": res["to_completed_s"],
    }


def cli_time(args: list[str], workspace: Path, runs: int) -> list[float]:
    exe = str(Path(sys.executable).parent / "batchpoint")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([exe, "-w", str(workspace), *args], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--cli-runs", type=int)
    parser.add_argument("--no-wait-quiet", dest="wait_quiet", action="store_false",
                        help="do not wait (up to 90 s) for the machine to be idle before each job")  # fmt: skip
    args = parser.parse_args(argv)
    n_jobs = args.jobs or (5 if args.quick else 10)
    cli_runs = args.cli_runs or (3 if args.quick else 5)
    common.ensure_compiled()

    bench = common.Bench("startup")
    inputs = bench.root / "inputs"
    inputs.mkdir()
    for i in range(4):
        (inputs / f"f{i}.txt").write_text("x\n")
    state = common.shared_dir(bench.root / "state")
    bench.deploy(
        SCORER,
        {"instance_count": 1, "max_concurrency_per_instance": 2, "mini_batch_size": 1,
         "environment_variables": {"BENCH_STATE": str(state)}},
    )  # fmt: skip
    jobs = []
    for i in range(n_jobs):
        waited = common.wait_quiet() if args.wait_quiet else 0.0
        r = one_job(bench, inputs, state)
        r["waited_for_quiet_s"] = waited
        jobs.append(r)
        phases = ", ".join(f"{k} {v:.3f}" for k, v in r["milestones_s"].items())
        print(f"job {i + 1}: first run() {r['to_first_run_s']:.3f} s after t0 ({phases})")
    values = [j["to_first_run_s"] for j in jobs]
    last_job = jobs[-1]["job"]
    cli = {
        "batchpoint --version": cli_time(["--version"], bench.root, cli_runs),
        "batchpoint job show": cli_time(["job", "show", "-n", last_job], bench.root, cli_runs),
    }
    bench.close()
    summary: dict[str, Any] = {
        "to_first_run_s_median": common.median(values),
        "to_first_run_s_p95": common.percentile(values, 95),
        "to_first_run_s_min": min(values),
        "milestones_s_median": {
            k: common.median([j["milestones_s"][k] for j in jobs]) for k in jobs[0]["milestones_s"]
        },
        "cli_s_median": {k: common.median(v) for k, v in cli.items()},
        "cli_s_p95": {k: common.percentile(v, 95) for k, v in cli.items()},
        "target_s": 1.0,
    }
    print(
        f"invoke -> first run(): median {summary['to_first_run_s_median']:.3f} s, p95 {summary['to_first_run_s_p95']:.3f} s "
        f"over {n_jobs} jobs (target < 1 s); milestones after t0 (median): "
        + ", ".join(f"{k} {v:.3f}" for k, v in summary["milestones_s_median"].items())
    )
    for k, v in summary["cli_s_median"].items():
        print(f"{k}: median {v:.3f} s")
    common.save(
        "startup" + ("-quick" if args.quick else ""),
        {"params": {"jobs": n_jobs, "cli_runs": cli_runs}, "summary": summary, "jobs": jobs, "cli": cli},
    )
    return summary


if __name__ == "__main__":
    main()
