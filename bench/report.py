"""Print the tables of ``docs/benchmarks.md`` from ``bench/results/*.json`` (full-size results).

python bench/report.py            # full-size results
python bench/report.py --quick    # the --quick results
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _milestones(job: dict[str, Any]) -> dict[str, float]:
    """Seconds after t0; older results stored chained phases instead."""
    if "milestones_s" in job:
        return dict(job["milestones_s"])
    p = job["phases_s"]
    started = p["invoke"] + p["driver_start"]
    imported = started + p["to_script_import"]
    return {
        "invoke_returned": p["invoke"], "script_imported": imported, "driver_started": started,
        "first_run": imported + p["to_first_run"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sfx = "-quick" if args.quick else ""

    tp = _load("throughput" + sfx)
    if tp:
        m, p, s = tp["machine"], tp["params"], tp["summary"]
        print("| | |\n|---|---|")
        print(f"| machine | {m['cpu']}, {m['memory_gib']} GiB RAM, {m['os']} |")
        print(
            f"| CPU cores | {m['cpu_cores']} (shared with other work; load average at start {m['loadavg_at_start'][0]:.1f}) |"
        )
        print(f"| Python | {m['python']} |")
        print(f"| batchpoint | {m['batchpoint']} |")
        print(f"| workspace disk | {m['workspace_fs']} |")
        print()
        r = s["rows_per_s"]
        print("| side | rows/s (median) | seconds (median) | all workers ready (s) | scoring (s) |")
        print("|---|---|---|---|---|")
        for side in ("pool_bare", "pool_output", "batchpoint"):
            print(
                f"| {side} | {r[side]:,.0f} | {s['seconds_median'][side]:.2f} | "
                f"{s['all_workers_ready_s_median'][side]:.2f} | {s['scoring_span_s_median'][side]:.2f} |"
            )
        print(
            f"\nratio vs pool_bare {s['ratio_vs_pool_bare']:.3f} (paired {s.get('ratio_vs_pool_bare_paired_median', 0):.3f}), "
            f"vs pool_output {s['ratio_vs_pool_output']:.3f} (paired {s.get('ratio_vs_pool_output_paired_median', 0):.3f}); "
            f"batchpoint to output {s['batchpoint_to_output_s_median']:.2f} s, job duration "
            f"{s['batchpoint_job_duration_s_median']:.2f} s, end phase {s['batchpoint_end_phase_s_median']:.2f} s; "
            f"CPU s {s['cpu_s_median']}; params {p}"
        )
        for side, runs in tp["runs"].items():
            print(side, [round(x["seconds"], 2) for x in runs])
        print()

    ov = _load("overhead" + sfx)
    if ov:
        print(
            "| `mini_batch_size` | mini-batches | end to end (mini-batches/s) | without start-up (/s) | gap median (ms) | gap p99 (ms) | driver CPU (s) |"
        )
        print("|---|---|---|---|---|---|---|")
        for row in ov["summary"]["rows"]:
            print(
                f"| {row['mini_batch_size']} | {row['mini_batches']:,} | {row['mb_per_s_end_to_end']:,.0f} | "
                f"{row['mb_per_s_steady']:,.0f} | {row['worker_gap_median_ms']:.2f} | {row['worker_gap_p99_ms']:.2f} | "
                f"{row['driver_cpu_s']} |"
            )
        print()

    st = _load("startup" + sfx)
    if st:
        s = st["summary"]
        values = sorted(j["to_first_run_s"] for j in st["jobs"])
        print("| measurement | median | p95 |\n|---|---|---|")
        print(
            f"| `invoke` to first `run()` call | {s['to_first_run_s_median']:.3f} s | {s['to_first_run_s_p95']:.3f} s |"
        )
        for k in s["cli_s_median"]:
            print(f"| `{k}` | {s['cli_s_median'][k]:.3f} s | {s['cli_s_p95'][k]:.3f} s |")
        milestones = [_milestones(j) for j in st["jobs"]]
        print("| milestone, seconds after t0 | median |\n|---|---|")
        for k in milestones[0]:
            print(f"| {k} | {statistics.median(m[k] for m in milestones):.3f} s |")
        print("all jobs, first run():", [round(v, 3) for v in values])
        print()

    for name in ("planning" + sfx, "planning" + sfx + "-plan-only"):
        pl = _load(name)
        if pl:
            print(f"{name}:\n| input files | mini-batches | planning time | driver peak RSS (VmHWM) | whole job |")
            print("|---|---|---|---|---|")
            for row in pl["summary"]["rows"]:
                print(
                    f"| {row['files']:,} | {row['mini_batches']:,} | {row['planning_s']:.2f} s | "
                    f"{row['driver_peak_rss_mib_vmhwm']} MiB | {row['status']} in {row['end_to_end_s']:.1f} s |"
                )
            print()


if __name__ == "__main__":
    main()
