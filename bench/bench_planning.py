"""Planning memory: the driver's peak RSS while it plans (and runs) a job over many files.

    python bench/bench_planning.py                       # 10,000, 100,000 and 1,000,000 files
    python bench/bench_planning.py --quick               # 10,000 and 100,000 files
    python bench/bench_planning.py --sizes 1000000 --plan-only

Inputs are empty files in sub-folders of 250 (1,000,000 files = 4,000 folders) under
``bench/.work/`` (created once, then reused). The scoring script returns ``[1] * len(mini_batch)``;
``mini_batch_size`` is 100 (1,000,000 files = 10,000 mini-batches), 2 workers.

The driver is found by ``client.jobs.get(name).driver.pid``; every 0.2 s the bench reads its
``/proc/<pid>/status``: ``VmRSS`` (sampled peak, split into the planning phase and the rest) and
``VmHWM`` (the kernel's own peak RSS of the process, so nothing between two samples is missed).
Planning time is the driver log's ``planned N files`` line minus the job's ``started_at`` (it includes
preparing the runtime and starting the workers, a few ms). With ``--plan-only`` the job is canceled
(``client.jobs.cancel``) as soon as planning is done.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SCORER = """
def init():
    pass


def run(mini_batch):
    return [1] * len(mini_batch)
"""

PER_FOLDER = 250
TARGET_MIB = 500


def _planned_at(bench: common.Bench, job: str) -> float | None:
    log = bench.job_dir(job) / "logs" / "driver.log"
    try:
        for line in log.read_text().splitlines():
            if " planned " in line:
                stamp = line[:23]  # 2024-01-01 12:00:00,123
                return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
    except OSError:
        return None
    return None


def measure(bench: common.Bench, inputs: Path, n_files: int, plan_only: bool, mbs: int) -> dict[str, Any]:
    client = bench.client
    t0 = time.time()
    job = client.batch_endpoints.invoke("bench-ep", input=str(inputs), mini_batch_size=mbs)
    watch = common.DriverWatch(bench, job.name, 0.2)
    planned = None
    canceled = False
    while True:
        job = client.jobs.get(job.name)
        if planned is None:
            planned = _planned_at(bench, job.name)
            if planned is not None and plan_only and not job.status.terminal:
                client.jobs.cancel(job.name)
                canceled = True
        if job.status.terminal or job.driver.lost:
            break
        time.sleep(0.2)
    t_end = time.time()
    watched = watch.stop()
    started = job.started_at.timestamp() if job.started_at else t0
    plan_samples = [kib for t, kib in watch.samples if planned is None or t <= planned]
    run_samples = [kib for t, kib in watch.samples if planned is not None and t > planned]
    return {
        "files": n_files,
        "mini_batches": job.progress.mini_batches.total,
        "status": job.status.value,
        "canceled_after_planning": canceled,
        "planning_s": (planned - started) if planned else None,
        "end_to_end_s": t_end - t0,
        "job_duration_s": job.duration_seconds,
        "peak_rss_mib_planning": round(max(plan_samples, default=0) / 1024, 1),
        "peak_rss_mib_after_planning": round(max(run_samples, default=0) / 1024, 1),
        **watched,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 files")
    parser.add_argument("--sizes", help="numbers of files, comma separated")
    parser.add_argument("--plan-only", action="store_true", help="cancel each job once planning is done")
    parser.add_argument("--mini-batch-size", type=int, default=100)
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else (
        [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    )  # fmt: skip
    common.ensure_compiled()
    free = shutil.disk_usage(common.WORK.parent if not common.WORK.exists() else common.WORK)
    print(f"free disk: {free.free / 2**30:.1f} GiB")

    from workload import tiny_files

    bench = common.Bench("planning")
    bench.deploy(
        SCORER, {"instance_count": 1, "max_concurrency_per_instance": 2, "mini_batch_size": args.mini_batch_size}
    )
    rows = []
    for n in sizes:
        inputs = tiny_files(n, per_folder=PER_FOLDER, content="")
        common.wait_quiet()
        row = measure(bench, inputs, n, args.plan_only, args.mini_batch_size)
        rows.append(row)
        print(
            f"{n:>9,} files: {row['status']}{' (canceled after planning)' if row['canceled_after_planning'] else ''}; "
            f"planning {row['planning_s'] or float('nan'):.2f} s, driver peak RSS {row['driver_peak_rss_mib_vmhwm']} MiB "
            f"(VmHWM; sampled: planning {row['peak_rss_mib_planning']} MiB, after {row['peak_rss_mib_after_planning']} MiB; "
            f"private {row['driver_peak_private_mib_sampled']} MiB), "
            f"end to end {row['end_to_end_s']:.1f} s"
        )
    bench.close()
    summary = {"rows": rows, "target_peak_rss_mib": TARGET_MIB}
    name = "planning" + ("-quick" if args.quick else "") + ("-plan-only" if args.plan_only else "")
    common.save(
        name,
        {
            "params": {"sizes": sizes, "mini_batch_size": args.mini_batch_size, "per_folder": PER_FOLDER},
            "summary": summary,
        },
    )
    return summary


if __name__ == "__main__":
    main()
