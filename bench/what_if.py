"""What-if: the throughput workload with a proposed engine change emulated, next to the real thing.

    python bench/what_if.py                      # 100 files x 5,000 rows, 3 rounds
    python bench/what_if.py --files 200 --rounds 5

Variants, alternated in every round (the median is reported):

* ``pool``: the bare ``multiprocessing.Pool`` baseline of ``bench_throughput.py``.
* ``as_is``: a batchpoint job exactly as ``bench_throughput.py`` runs it.
* ``forked_driver``: the driver is *forked* from this process (which has the engine imported
  already) instead of started as a new interpreter: the job is created with
  ``invoke(..., start=False)`` and the child runs ``JobRunner(...).run()`` after ``setsid`` and a
  second fork, like ``jobs/driver.py`` does (proposal for ``jobs/driver.py`` ``spawn``).
* ``--with-fast-exit`` adds ``fast_exit`` and ``fast_exit_forked_driver``: the scoring script's
  ``shutdown()`` ends the worker with ``os._exit(0)``. That emulated a worker that skips interpreter
  teardown; the worker does so itself since commit 042e0a2, so these variants now equal the others.

This is a diagnostic for engine work, not part of ``run_all.py``; it uses engine internals.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_throughput as bt
import common

FAST_EXIT = """
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
"""


def _forked_driver(root: Path, name: str) -> None:
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    try:
        from batchpoint.config import Settings
        from batchpoint.jobs.engine import JobRunner
        from batchpoint.services import Services
        from batchpoint.workspace import Workspace

        JobRunner(Services(Workspace(root, Settings())), name, 1).run()
    finally:
        os._exit(0)


def _run_forked(bench: common.Bench, inputs: Path, deployment: str) -> dict[str, Any]:
    client = bench.client
    t0 = time.time()
    job = client.batch_endpoints.invoke("bench-ep", input=str(inputs), deployment_name=deployment, start=False)
    watch = common.DriverWatch(bench, job.name, 0.1)
    _forked_driver(client.workspace_path, job.name)
    output = Path(job.outputs["score"].path) / "predictions.csv"
    while not output.exists():
        time.sleep(0.005)
    while not (job := client.jobs.get(job.name)).status.terminal:
        time.sleep(0.005)
    seconds = time.time() - t0
    assert job.started_at is not None
    return {"seconds": seconds, "t0": t0, "started_s": job.started_at.timestamp() - t0, **watch.stop()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--with-fast-exit", action="store_true", help="also the os._exit-in-shutdown() variants")
    args = parser.parse_args(argv)
    common.ensure_compiled()
    from workload import workload

    data = workload(args.files, 5000, 20)
    inputs, model = data / "inputs", data / "model" / "model.joblib"
    bench = common.Bench("what-if")
    state = bench.root / "state"
    state.mkdir()
    settings = {
        "instance_count": 1, "max_concurrency_per_instance": 2, "mini_batch_size": 4,
        "retry_settings": {"max_retries": 3, "timeout": 600}, "environment_variables": {"BENCH_STATE": str(state)},
    }  # fmt: skip
    anchor = "        fh.write(json.dumps([last_end, sum(os.times()[:2])]))\n"
    assert anchor in bt.SCORER
    fast_scorer = bt.SCORER.replace(anchor, anchor + FAST_EXIT)
    as_is = bench.deploy(bt.SCORER, settings, {"model.joblib": model})
    fast = bench.deploy(fast_scorer, settings, {"model.joblib": model})
    import batchpoint.executors.local
    import batchpoint.jobs.engine
    import batchpoint.jobs.prepare  # noqa: F401 - imported before forking, as the proposal would have them

    variants = ["pool", "as_is", "forked_driver"]
    if args.with_fast_exit:
        variants += ["fast_exit", "fast_exit_forked_driver"]
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for r in range(args.rounds):
        for v in variants:
            common.wait_quiet()
            busy0, own0 = common.machine_busy_s(), bt._cpu()
            if v == "pool":
                res = bt.run_pool(inputs, model, 2, 4, None, state)
            elif v.endswith("forked_driver"):
                res = _run_forked(bench, inputs, fast if v.startswith("fast_exit") else as_is)
                res.update(bt._ready(state, res["t0"]))
            else:
                res = common.run_job(bench, inputs, watch=0.1, deployment_name=as_is if v == "as_is" else fast)
                res.update(
                    bt._ready(state, res["t0"]), seconds=res["to_completed_s"], started_s=res["created_to_started_s"]
                )
            done = [json.loads(p.read_text()) for p in state.glob("done-*")]
            for p in state.glob("done-*"):
                p.unlink()
            if done and "t0" in res:
                res["end_phase_s"] = res["seconds"] - (max(d[0] for d in done) - res["t0"])
            if v == "pool":
                own = res["cpu_s_parent_and_children"]
            else:
                workers = max(sum(d[1] for d in done), res.get("workers_cpu_s", 0))
                own = bt._cpu() - own0 + res.get("driver_cpu_s", 0) + workers
            cores = os.cpu_count() or 1
            res["foreign_share"] = max(0.0, common.machine_busy_s() - busy0 - own) / (res["seconds"] * cores)
            results[v].append(res)
            print(
                f"round {r + 1} {v:24s} {res['seconds']:.2f} s; driver started {res.get('started_s', 0):.2f} s, "
                f"workers ready {res.get('all_ready_s', 0):.2f} s, end phase {res.get('end_phase_s', 0):.2f} s; "
                f"others used {100 * res['foreign_share']:.0f}% of the CPUs",
                flush=True,
            )
    bench.close()
    summary: dict[str, Any] = {}
    for label, keep in (("all runs", lambda x: True), ("quiet runs", lambda x: x["foreign_share"] < 0.10)):
        chosen = {v: [x["seconds"] for x in results[v] if keep(x)] for v in variants}
        if not chosen["pool"]:
            continue
        base = statistics.median(chosen["pool"])
        for v in variants:
            if chosen[v]:
                med = statistics.median(chosen[v])
                summary.setdefault(label, {})[v] = {
                    "runs": len(chosen[v]),
                    "seconds_median": med,
                    "ratio_vs_pool": base / med,
                }
                print(
                    f"{label:10s} {v:24s} median {med:.2f} s over {len(chosen[v])} run(s) -> {base / med:.2f}x the pool's rows/s"
                )
    common.save(
        "what-if", {"params": {"files": args.files, "rounds": args.rounds}, "summary": summary, "runs": results}
    )


if __name__ == "__main__":
    main()
