"""Throughput: a batchpoint job vs a bare ``multiprocessing.Pool`` doing the same scoring.

    python bench/bench_throughput.py                  # 200 files x 5,000 rows x 20 features, 5 rounds
    python bench/bench_throughput.py --quick          # 40 files, 2 rounds

Workload: CSV files of float rows and a RandomForestClassifier (50 trees, depth 8) saved with joblib.
Per file, both sides read the CSV with pandas and call ``predict``. Three ways, alternated in every round:

* ``pool_bare``: ``multiprocessing.get_context("spawn").Pool(2, initializer=load model)`` and
  ``imap_unordered(read+predict, files, chunksize=4)``; the pool start-up is included. This is the
  baseline of the target (batchpoint >= 0.9x its rows/s).
* ``pool_output``: the same, but every file's ``file,prediction`` rows are rendered as CSV in the pool
  process and written, in order, to one output file (fsynced): the deliverable batchpoint produces.
* ``batchpoint``: a job on a deployment with ``instance_count: 1``, ``max_concurrency_per_instance: 2``,
  ``mini_batch_size: 4``; the scoring script returns a DataFrame ``file,prediction`` per mini-batch.
  Timed from just before ``invoke()`` to the job read back as Completed; also reported: the time to
  the merged ``predictions.csv`` and the job's own ``duration_seconds`` (driver start to end).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import pool_scorer

SCORER = """
import json
import os
import time

import joblib
import pandas as pd


last_end = 0.0


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.joblib"))
    with open(os.path.join(os.environ["BENCH_STATE"], f"ready-{os.getpid()}"), "w") as fh:
        fh.write(repr(time.time()))


def run(mini_batch):
    global last_end
    frames = []
    for path in mini_batch:
        data = pd.read_csv(path)
        frames.append(pd.DataFrame({"file": os.path.basename(path), "prediction": model.predict(data.values)}))
    result = pd.concat(frames, ignore_index=True)
    last_end = time.time()
    return result


def shutdown():
    # Measurement only: when this worker's last run() returned, and the CPU it used.
    with open(os.path.join(os.environ["BENCH_STATE"], f"done-{os.getpid()}"), "w") as fh:
        fh.write(json.dumps([last_end, sum(os.times()[:2])]))
"""


def _ready(state: Path, t0: float) -> dict[str, float]:
    """When the first and the last worker had loaded the model (the stamps of ``init``), from t0."""
    stamps = [float(p.read_text()) for p in state.glob("ready-*")]
    for p in state.glob("ready-*"):
        p.unlink()
    return {"first_ready_s": min(stamps) - t0, "all_ready_s": max(stamps) - t0} if stamps else {}


def run_pool(inputs: Path, model: Path, workers: int, chunk: int, output: Path | None, state: Path) -> dict[str, Any]:
    import multiprocessing

    cpu0 = _cpu()
    t0 = time.time()
    files = sorted(str(inputs / name) for name in os.listdir(inputs))
    ctx = multiprocessing.get_context("spawn")
    rows = 0
    t_first = None
    with ctx.Pool(workers, initializer=pool_scorer.init, initargs=(str(model), str(state))) as pool:
        if output is None:
            for count in pool.imap_unordered(pool_scorer.predict_count, files, chunksize=chunk):
                t_first = t_first or time.time()
                rows += count
        else:
            with open(output, "w") as out:
                out.write("file,prediction\n")
                for text in pool.imap(pool_scorer.predict_csv, files, chunksize=chunk):
                    t_first = t_first or time.time()
                    out.write(text)
                    rows += text.count("\n")
                out.flush()
                os.fsync(out.fileno())
    t1 = time.time()
    res = {
        "rows": rows, "seconds": t1 - t0, "rows_per_s": rows / (t1 - t0), "first_result_s": (t_first or t1) - t0,
        **_ready(state, t0), "cpu_s_parent_and_children": _cpu() - cpu0,
    }  # fmt: skip
    res["scoring_span_s"] = res["seconds"] - res.get("all_ready_s", 0)
    return res


def _cpu() -> float:
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_batchpoint(bench: common.Bench, inputs: Path, state: Path) -> dict[str, Any]:
    result = common.run_job(bench, inputs, watch=0.1)
    result.update(_ready(state, result["t0"]))
    done = [json.loads(p.read_text()) for p in state.glob("done-*")]
    for p in state.glob("done-*"):
        p.unlink()
    if done:
        result["last_run_end_s"] = max(d[0] for d in done) - result["t0"]
        result["worker_cpu_s_self_reported"] = sum(d[1] for d in done)
        result["scoring_span_s"] = result["last_run_end_s"] - result.get("all_ready_s", 0)
        result["end_phase_s"] = result["to_completed_s"] - result["last_run_end_s"]
    attempts = common.attempts(bench, result["job"])
    worker_busy = sum(float(a["elapsed_seconds"] or 0) for a in attempts)
    with open(result["output"], "rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    rows = lines - 1  # header
    result.update(
        rows=rows,
        seconds=result["to_completed_s"],
        rows_per_s=rows / result["to_completed_s"],
        rows_per_s_to_output=rows / result["to_output_s"],
        rows_per_s_job_duration=rows / result["job_duration_s"],
        worker_busy_s=worker_busy,
    )
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="40 files, 2 rounds")
    parser.add_argument("--files", type=int)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mini-batch-size", type=int, default=4)
    parser.add_argument(
        "--no-wait-quiet", dest="wait_quiet", action="store_false",
        help="do not wait (up to 90 s) for the machine to be idle before each run",
    )  # fmt: skip
    parser.add_argument(
        "--quiet-share", type=float, default=0.10,
        help="runs during which other processes used less than this share of the CPUs count as quiet",
    )  # fmt: skip
    args = parser.parse_args(argv)
    files = args.files or (40 if args.quick else 200)
    rounds = args.rounds or (2 if args.quick else 5)
    common.ensure_compiled()

    from workload import workload

    data = workload(files, args.rows, args.features)
    inputs, model = data / "inputs", data / "model" / "model.joblib"
    bench = common.Bench("throughput")
    state = common.shared_dir(bench.root / "state")  # the worker user writes its stamps there
    bench.deploy(
        SCORER,
        {
            "instance_count": 1, "max_concurrency_per_instance": args.workers, "mini_batch_size": args.mini_batch_size,
            "output_file_name": "predictions.csv", "retry_settings": {"max_retries": 3, "timeout": 600},
            "environment_variables": {"BENCH_STATE": str(state)},
        },
        {"model.joblib": model},
    )  # fmt: skip
    pool_out = bench.root / "pool-output.csv"
    runs: dict[str, list[dict[str, Any]]] = {"pool_bare": [], "pool_output": [], "batchpoint": []}
    cores = os.cpu_count() or 1
    for r in range(rounds):
        for side in runs:
            waited = common.wait_quiet() if args.wait_quiet else 0.0
            busy0, own0 = common.machine_busy_s(), _cpu()
            if side == "pool_bare":
                res = run_pool(inputs, model, args.workers, args.mini_batch_size, None, state)
                own = res["cpu_s_parent_and_children"]
            elif side == "pool_output":
                pool_out.unlink(missing_ok=True)
                res = run_pool(inputs, model, args.workers, args.mini_batch_size, pool_out, state)
                own = res["cpu_s_parent_and_children"]
            else:
                res = run_batchpoint(bench, inputs, state)
                workers = max(res.get("worker_cpu_s_self_reported", 0), res["workers_cpu_s"])
                own = _cpu() - own0 + res["driver_cpu_s"] + workers
            # CPU that other processes on the machine used while this run went on.
            foreign = max(0.0, common.machine_busy_s() - busy0 - own)
            res.update(
                waited_for_quiet_s=waited, foreign_cpu_s=foreign, foreign_share=foreign / (res["seconds"] * cores)
            )
            runs[side].append(res)
            extra = f"; workers ready at {res.get('all_ready_s', float('nan')):.2f} s, scoring {res.get('scoring_span_s', float('nan')):.2f} s"
            if side == "batchpoint":
                extra += (f", end phase {res.get('end_phase_s', float('nan')):.2f} s; output at {res['to_output_s']:.2f} s, "
                          f"job duration {res['job_duration_s']:.2f} s, invoke {res['invoke_s']:.2f} s")  # fmt: skip
            extra += f"; others used {100 * res['foreign_share']:.0f}% of the CPUs"
            print(
                f"round {r + 1} {side:12s} {res['rows']} rows in {res['seconds']:.2f} s = {res['rows_per_s']:,.0f} rows/s{extra}"
            )
    bench.close()

    med = {side: common.median([x["rows_per_s"] for x in xs]) for side, xs in runs.items()}
    quiet = {side: [x for x in xs if x["foreign_share"] < args.quiet_share] for side, xs in runs.items()}
    quiet_med = {side: common.median([x["rows_per_s"] for x in xs]) if xs else None for side, xs in quiet.items()}
    bp = runs["batchpoint"]
    summary = {
        "rows_per_s": med,
        "quiet_share_limit": args.quiet_share,
        "quiet_runs": {side: len(xs) for side, xs in quiet.items()},
        "rows_per_s_quiet_runs": quiet_med,
        "ratio_vs_pool_bare_quiet_runs": (
            quiet_med["batchpoint"] / quiet_med["pool_bare"]
            if quiet_med["batchpoint"] and quiet_med["pool_bare"]
            else None
        ),
        "ratio_vs_pool_output_quiet_runs": (
            quiet_med["batchpoint"] / quiet_med["pool_output"]
            if quiet_med["batchpoint"] and quiet_med["pool_output"]
            else None
        ),
        "foreign_share_median": {side: common.median([x["foreign_share"] for x in xs]) for side, xs in runs.items()},
        "seconds_median": {side: common.median([x["seconds"] for x in xs]) for side, xs in runs.items()},
        "batchpoint_to_output_s_median": common.median([x["to_output_s"] for x in bp]),
        "batchpoint_job_duration_s_median": common.median([x["job_duration_s"] for x in bp]),
        "batchpoint_invoke_s_median": common.median([x["invoke_s"] for x in bp]),
        "all_workers_ready_s_median": {
            side: common.median([x.get("all_ready_s", 0) for x in xs]) for side, xs in runs.items()
        },
        "scoring_span_s_median": {
            side: common.median([x.get("scoring_span_s", 0) for x in xs]) for side, xs in runs.items()
        },
        "batchpoint_end_phase_s_median": common.median([x.get("end_phase_s", 0) for x in bp]),
        "cpu_s_median": {
            "pool_bare": common.median([x["cpu_s_parent_and_children"] for x in runs["pool_bare"]]),
            "pool_output": common.median([x["cpu_s_parent_and_children"] for x in runs["pool_output"]]),
            "batchpoint_workers": common.median([x.get("worker_cpu_s_self_reported", 0) for x in bp]),
            "batchpoint_driver": common.median([x["driver_cpu_s"] for x in bp]),
        },
        "ratio_vs_pool_bare": med["batchpoint"] / med["pool_bare"],
        # Each round's batchpoint run against the Pool runs next to it (similar load), then the median.
        "ratio_vs_pool_bare_paired_median": common.median(
            [b["rows_per_s"] / p["rows_per_s"] for b, p in zip(bp, runs["pool_bare"], strict=True)]
        ),
        "ratio_vs_pool_output_paired_median": common.median(
            [b["rows_per_s"] / p["rows_per_s"] for b, p in zip(bp, runs["pool_output"], strict=True)]
        ),
        "ratio_vs_pool_output": med["batchpoint"] / med["pool_output"],
        "target_ratio": 0.9,
    }
    print(
        f"median rows/s: pool_bare {med['pool_bare']:,.0f}, pool_output {med['pool_output']:,.0f}, "
        f"batchpoint {med['batchpoint']:,.0f} -> ratio {summary['ratio_vs_pool_bare']:.3f} vs bare pool "
        f"({summary['ratio_vs_pool_output']:.3f} vs pool with output); target >= 0.9. Paired per round: "
        f"{summary['ratio_vs_pool_bare_paired_median']:.3f} vs bare pool, "
        f"{summary['ratio_vs_pool_output_paired_median']:.3f} vs pool with output"
    )
    if summary["ratio_vs_pool_bare_quiet_runs"]:
        print(
            f"runs with others using < {100 * args.quiet_share:.0f}% of the CPUs: {summary['quiet_runs']}; their median rows/s: "
            + ", ".join(f"{k} {v:,.0f}" for k, v in quiet_med.items() if v)
            + f" -> ratio {summary['ratio_vs_pool_bare_quiet_runs']:.3f} vs bare pool"
            + (
                f", {summary['ratio_vs_pool_output_quiet_runs']:.3f} vs pool with output"
                if summary["ratio_vs_pool_output_quiet_runs"]
                else ""
            )
        )
    params = {
        "files": files, "rows_per_file": args.rows, "features": args.features, "workers": args.workers,
        "mini_batch_size": args.mini_batch_size, "rounds": rounds, "model": "RandomForestClassifier(50 trees, depth 8)",
        "pool_start_method": "spawn",
    }  # fmt: skip
    common.save("throughput" + ("-quick" if args.quick else ""), {"params": params, "summary": summary, "runs": runs})
    return summary


if __name__ == "__main__":
    main()
