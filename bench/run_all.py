"""Run every benchmark in turn; raw results go to ``bench/results/*.json``, a summary to the screen.

python bench/run_all.py            # full sizes (several minutes; creates 1,000,000 empty files once)
python bench/run_all.py --quick    # small sizes (about a minute)
python bench/run_all.py --only throughput,startup,server_startup,cli,user
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cli
import bench_overhead
import bench_planning
import bench_server_startup
import bench_startup
import bench_throughput
import bench_user
import common

BENCHMARKS = {
    "startup": bench_startup.main,
    "overhead": bench_overhead.main,
    "throughput": bench_throughput.main,
    "planning": bench_planning.main,
    "server_startup": bench_server_startup.main,
    "cli": bench_cli.main,
    # Last: whole CLI processes timed from the outside (it is a child subreaper while it runs).
    "user": bench_user.main,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(BENCHMARKS))
    parser.add_argument(
        "--no-wait-quiet", action="store_true",
        help="start every run at once (by default a run waits up to 90 s for the machine to be idle)",
    )  # fmt: skip
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    no_wait = ["--no-wait-quiet"] if args.no_wait_quiet else []
    extra = {"startup": no_wait, "overhead": no_wait, "throughput": no_wait, "cli": no_wait, "user": no_wait}
    common.ensure_compiled()
    print(json.dumps(common.machine(), indent=2))
    results = {}
    for name in chosen:
        print(f"\n=== {name} ===")
        started = time.perf_counter()
        results[name] = BENCHMARKS[name]((["--quick"] if args.quick else []) + extra.get(name, []))
        print(f"({name} took {time.perf_counter() - started:.0f} s)")

    print("\n=== summary ===")
    if "throughput" in results:
        t = results["throughput"]
        r = t["rows_per_s"]
        print(
            f"throughput: batchpoint {r['batchpoint']:,.0f} rows/s, multiprocessing.Pool {r['pool_bare']:,.0f} rows/s "
            f"-> {t['ratio_vs_pool_bare']:.2f}x (target >= 0.9x); vs Pool writing the same output "
            f"{t['ratio_vs_pool_output']:.2f}x (medians of all runs; paired per round: "
            f"{t['ratio_vs_pool_bare_paired_median']:.2f}x and {t['ratio_vs_pool_output_paired_median']:.2f}x)"
        )
        if t.get("ratio_vs_pool_bare_quiet_runs"):
            print(
                f"throughput, runs while others used < {100 * t['quiet_share_limit']:.0f}% of the CPUs "
                f"{t['quiet_runs']}: {t['ratio_vs_pool_bare_quiet_runs']:.2f}x the bare Pool"
                + (
                    f", {t['ratio_vs_pool_output_quiet_runs']:.2f}x the Pool with output"
                    if t.get("ratio_vs_pool_output_quiet_runs")
                    else ""
                )
            )
    if "overhead" in results:
        row = results["overhead"]["rows"][0]
        print(
            f"overhead: {row['mb_per_s_end_to_end']:.0f} mini-batches/s end to end at mini_batch_size "
            f"{row['mini_batch_size']} (target >= 500/s); {row['mb_per_s_steady']:.0f}/s without start-up"
        )
    if "startup" in results:
        s = results["startup"]
        print(f"start-up: invoke -> first run() median {s['to_first_run_s_median']:.3f} s (target < 1 s)")
    if "planning" in results:
        big = results["planning"]["rows"][-1]
        print(
            f"planning: {big['files']:,} files, driver peak RSS {big['driver_peak_rss_mib_vmhwm']} MiB "
            f"(target < 500 MB), planning {big['planning_s']:.1f} s"
        )
    if "server_startup" in results:
        z, f = results["server_startup"]["zygote"], results["server_startup"]["fresh_interpreter"]
        print(
            f"server jobs: invoke -> driver up median {z['driver_up_s_median']:.3f} s forked from the zygote, "
            f"{f['driver_up_s_median']:.3f} s as fresh interpreters"
        )
    if "cli" in results:
        rows = results["cli"]["rows"]
        print(
            "cli start-up (median): "
            + ", ".join(f"{name} {rows[name]['median_ms']:.0f} ms" for name in bench_cli.TARGETS_MS)
            + f" (targets < 150, < 150, < 300 ms); interpreter floor {rows['python -c pass']['median_ms']:.0f} ms"
        )
    if "user" in results:
        u = results["user"]
        r = u["ratio_batchpoint_vs_pool"]
        print(
            f"as a user measures it (whole processes): `batchpoint batch-endpoint invoke --stream` "
            f"{u['rows_per_s_median']['batchpoint']:,.0f} rows/s, Pool(2) script {u['rows_per_s_median']['pool']:,.0f} rows/s "
            f"-> {r['of_medians']:.2f}x (paired {r['paired_median']:.2f}x; target >= 0.9x)"
        )
        if u.get("polled_slowdown"):
            print(
                f"  with `job show` every 1 s: {u['polled_slowdown']['paired_median']:.2f}x the time of the job alone"
            )
        if u.get("startup"):
            st = u["startup"]
            print(
                f"  CLI invoke -> first run(): median {st['to_first_run_s_median']:.3f} s, "
                f"p95 {st['to_first_run_s_p95']:.3f} s (target < 1 s)"
            )


if __name__ == "__main__":
    main()
