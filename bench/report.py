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


def _user(us: dict[str, Any]) -> None:
    """``bench_user.py``: whole processes timed from the outside."""
    s, runs = us["summary"], us["runs"]
    print(
        "| side | rows/s (median) | seconds, each run | seconds (median) | tree CPU s (median) | others' share (median) |"
    )
    print("|---|---|---|---|---|---|")
    for side, rps in s["rows_per_s_median"].items():
        each = ", ".join(f"{x['seconds']:.2f}" for x in runs[side])
        print(
            f"| {side} | {rps:,.0f} | {each} | {s['seconds_median'][side]:.2f} | {s['tree_cpu_s_median'][side]:.2f} | "
            f"{100 * s['foreign_share_median'][side]:.0f}% |"
        )
    print("\n| ratio | target | of medians | paired per round, median | each round | quiet rounds: paired median |")
    print("|---|---|---|---|---|---|")
    for key, target in (("ratio_batchpoint_vs_pool", 0.9), ("ratio_batchpoint_ray_vs_ray_data", 1.5)):
        r = s.get(key)
        if r:
            q = r["paired_median_quiet_rounds"]
            print(
                f"| {key[6:]} | ≥ {target} | {r['of_medians']:.2f} | {r['paired_median']:.2f} | "
                f"{', '.join(f'{x:.2f}' for x in r['paired_per_round'])} | "
                f"{f'{q:.2f}' if q else '-'} ({r['quiet_rounds']} rounds) |"
            )
    if s.get("polled_slowdown"):
        p = s["polled_slowdown"]
        print(
            f"\n`job show` every {p.get('every_s', 1):g} s: {p['paired_median']:.2f}x the job alone ({p['paired_per_round']}), "
            f"{p['cpu_s_per_show_call']:.2f} CPU s per call"
        )
    if s.get("startup"):
        st = s["startup"]
        print(
            f"\nCLI invoke -> first run(): median {st['to_first_run_s_median']:.3f} s, p95 {st['to_first_run_s_p95']:.3f} s; "
            f"all {st['all']}; milestones {st['milestones_s_median']}"
        )
    for side, ms in s["milestones_s_median"].items():
        print(f"{side} milestones (median s after spawn): {ms}")
    for side, cpu in s["cpu_s_median"].items():
        print(f"{side} CPU s (median): {cpu}")
    print()


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

    us = _load("user" + sfx)
    if us:
        _user(us)

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
