"""Per-mini-batch overhead: a ``run()`` that does nothing, over many tiny files.

    python bench/bench_overhead.py                 # 10,000 files; mini_batch_size 1, 10, 100; 2 workers
    python bench/bench_overhead.py --quick         # 2,000 files

The scoring script returns ``[1] * len(mini_batch)`` and keeps ``time.time()`` of every ``run()`` call
in memory; ``shutdown()`` writes them to a file (so measuring costs nothing per call). From them:

* ``mb_per_s_end_to_end``: mini-batches / (just before ``invoke()`` to the job read back Completed);
* ``mb_per_s_steady``: mini-batches / (first ``run()`` call to last ``run()`` call), i.e. the job
  without start-up (driver, workers, init) and without the end (worker shutdown, merge);
* the gap between two consecutive ``run()`` calls of one worker: what one mini-batch costs a worker
  end to end (lease, message to the worker, ``run``, formatting, part file, result message, commit);
  median and p99 over all gaps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SCORER = """
import json, os, time

_calls = []


def init():
    pass


def run(mini_batch):
    _calls.append(time.time())
    return [1] * len(mini_batch)


def shutdown():
    with open(os.path.join(os.environ["BENCH_STATE"], f"calls-{os.getpid()}.json"), "w") as fh:
        json.dump(_calls, fh)
"""


def measure(bench: common.Bench, inputs: Path, state: Path, n_files: int, mbs: int) -> dict[str, Any]:
    for old in state.glob("calls-*.json"):
        old.unlink()
    result = common.run_job(bench, inputs, mini_batch_size=mbs, watch=0.2)
    calls = {p.name: json.loads(p.read_text()) for p in state.glob("calls-*.json")}
    first = min(c[0] for c in calls.values())
    last = max(c[-1] for c in calls.values())
    gaps = [b - a for c in calls.values() for a, b in zip(c, c[1:], strict=False)]
    n_mb = result["mini_batches"]
    ended = result["t0"] + result["to_completed_s"]
    return {
        "mini_batch_size": mbs,
        "files": n_files,
        "mini_batches": n_mb,
        "run_calls": sum(len(c) for c in calls.values()),
        "calls_per_worker": sorted(len(c) for c in calls.values()),
        "to_completed_s": result["to_completed_s"],
        "job_duration_s": result["job_duration_s"],
        "mb_per_s_end_to_end": n_mb / result["to_completed_s"],
        "mb_per_s_job_duration": n_mb / result["job_duration_s"],
        # Each worker's own rate between its first and its last run() call, summed over workers.
        "mb_per_s_steady": sum((len(c) - 1) / (c[-1] - c[0]) for c in calls.values() if len(c) > 1),
        "first_run_s": first - result["t0"],
        "last_run_to_completed_s": ended - last,
        "worker_gap_median_ms": 1000 * common.median(gaps) if gaps else None,
        "worker_gap_p99_ms": 1000 * common.percentile(gaps, 99) if gaps else None,
        **{k: result[k] for k in result if k.startswith(("driver_", "workers_"))},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 files")
    parser.add_argument("--files", type=int)
    parser.add_argument("--sizes", default="1,10,100", help="mini_batch_size values, comma separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="runs per mini_batch_size (the median is reported)")
    parser.add_argument("--no-wait-quiet", dest="wait_quiet", action="store_false",
                        help="do not wait (up to 90 s) for the machine to be idle before each run")  # fmt: skip
    args = parser.parse_args(argv)
    n_files = args.files or (2000 if args.quick else 10_000)
    common.ensure_compiled()

    from workload import tiny_files

    inputs = tiny_files(n_files)
    bench = common.Bench("overhead")
    state = common.shared_dir(bench.root / "state")  # the worker user writes its stamps there
    bench.deploy(
        SCORER,
        {
            "instance_count": 1, "max_concurrency_per_instance": args.workers, "mini_batch_size": 1,
            "environment_variables": {"BENCH_STATE": str(state)},
        },
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    for mbs in [int(x) for x in args.sizes.split(",")]:
        runs = []
        for _ in range(args.rounds):
            waited = common.wait_quiet() if args.wait_quiet else 0.0
            runs.append({**measure(bench, inputs, state, n_files, mbs), "waited_for_quiet_s": waited})
        runs.sort(key=lambda r: r["mb_per_s_end_to_end"])
        row = runs[len(runs) // 2]
        row["all_runs_mb_per_s_end_to_end"] = [r["mb_per_s_end_to_end"] for r in runs]
        rows.append(row)
        print(
            f"mini_batch_size {mbs:4d}: {row['mini_batches']} mini-batches in {row['to_completed_s']:.2f} s end to end = "
            f"{row['mb_per_s_end_to_end']:.0f}/s; steady {row['mb_per_s_steady'] or 0:.0f}/s; worker gap median "
            f"{row['worker_gap_median_ms']:.2f} ms p99 {row['worker_gap_p99_ms']:.2f} ms; driver CPU {row['driver_cpu_s']} s"
        )
    bench.close()
    summary = {"rows": rows, "target_mb_per_s": 500}
    common.save(
        "overhead" + ("-quick" if args.quick else ""),
        {"params": {"files": n_files, "workers": args.workers}, "summary": summary},
    )
    return summary


if __name__ == "__main__":
    main()
