"""batchpoint on Ray vs Ray Data vs batchpoint's local executor, on the engine benchmark's workload.

    python bench/bench_ray.py                 # 200 files x 5,000 rows x 20 features; 100,000-file memory run
    python bench/bench_ray.py --quick         # 40 files; 20,000-file memory run

Workload (``bench/workload.py``): CSV files of float rows and a RandomForestClassifier (50 trees, depth
8) saved with joblib; every file is read with pandas and scored with ``predict``; the output is one
``file,prediction`` row per input row. Three ways, one after the other, each starting from nothing:

* ``local``: a batchpoint job on the built-in local compute (2 worker processes: ``instance_count 1``,
  ``max_concurrency_per_instance 2``, ``mini_batch_size 4``).
* ``batchpoint_ray``: the same deployment on a compute ``--type ray --address local``: the job's driver
  starts a private single-node Ray (loopback, token auth, dashboard) and runs 2 actors of 1 CPU.
* ``ray_data``: Ray Data in a fresh process doing the same job: the same private Ray start
  (``ray.init`` with the same settings), ``read_csv(files, include_paths=True)``,
  ``map_batches(Predictor, concurrency=2, num_cpus=1, batch_size=4 files' rows)`` where ``Predictor``
  loads the model once per actor, then ``write_csv``.

Reported per way: end-to-end seconds from just before the start (``invoke()``, or the process start for
Ray Data) to the output written and the job Completed; rows/s end to end; and the steady-state rows/s
once the workers are up: all rows over the span from the first scoring call's start to the last one's
end, from per-call stamps the scoring code writes (the same stamps for all three).

Memory: a job of ``--memory-files`` tiny files (``mini_batch_size 100``) on the Ray executor, with the
driver's RSS sampled every 0.2 s, next to a job of a tenth as many files: flat means the peak does not
grow with the number of files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import workload

WORKERS = 2
MINI_BATCH = 4

SCORER = """
import json
import os
import time

import joblib
import pandas as pd

STAMPS = os.path.join(os.environ["BENCH_STATE"], f"stamps-{os.getpid()}.jsonl")


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.joblib"))


def run(mini_batch):
    started = time.time()
    frames = []
    for path in mini_batch:
        data = pd.read_csv(path)
        frames.append(pd.DataFrame({"file": os.path.basename(path), "prediction": model.predict(data.values)}))
    result = pd.concat(frames, ignore_index=True)
    with open(STAMPS, "a") as fh:
        fh.write(json.dumps([started, time.time(), len(result)]) + "\\n")
    return result
"""

TINY_SCORER = """
import os


def run(mini_batch):
    return [os.path.basename(p) for p in mini_batch]
"""


def steady_state(state: Path) -> dict[str, Any]:
    """Rows over the span from the first call's start to the last call's end, from the stamp files."""
    calls = []
    for path in state.glob("stamps-*.jsonl"):
        calls += [json.loads(line) for line in path.read_text().splitlines() if line]
        path.unlink()
    if not calls:
        return {}
    first = min(c[0] for c in calls)
    last = max(c[1] for c in calls)
    rows = sum(c[2] for c in calls)
    return {
        "first_call_t": first,
        "steady_rows": rows,
        "steady_s": last - first,
        "steady_rows_per_s": rows / (last - first),
    }


# -- batchpoint, local executor or Ray -----------------------------------------------------------------
def run_batchpoint(root: Path, rows: int, files: int, compute: str | None, label: str) -> dict[str, Any]:
    bench = common.Bench(f"ray-{label}")
    state = common.shared_dir(bench.root / "state")  # the worker user writes its stamps there
    try:
        if compute == "ray":
            bench.client.computes.create("ray-local", type="ray", address="local")
        settings = {
            "mini_batch_size": MINI_BATCH,
            "max_concurrency_per_instance": WORKERS,
            "instance_count": 1,
            "environment_variables": {"BENCH_STATE": str(state)},
            "retry_settings": {"max_retries": 1, "timeout": 300},
        }
        dep = bench.deploy(SCORER, settings, model_files={"model.joblib": root / "model" / "model.joblib"})
        if compute == "ray":
            _set_compute(bench, dep, "azureml:ray-local")
        result = common.run_job(bench, root / "inputs", watch=0.2)
        result.update(steady_state(state))
        return _rates(result, files * rows, label)
    finally:
        bench.close()


def _set_compute(bench: common.Bench, deployment: str, compute: str) -> None:
    from batchpoint.common import yamlio

    path = bench.root / "src" / deployment / "deployment.yml"
    spec = yamlio.load_file(path)
    spec["compute"] = compute
    path.write_text(yamlio.dumps(spec))
    bench.client.batch_deployments.update(deployment, "bench-ep", path=path)


def _rates(result: dict[str, Any], rows: int, label: str) -> dict[str, Any]:
    total = result["to_completed_s"]
    result["rows"] = rows
    result["end_to_end_s"] = round(total, 3)
    result["end_to_end_rows_per_s"] = round(rows / total, 1)
    if "first_call_t" in result:
        result["to_first_call_s"] = round(result.pop("first_call_t") - result["t0"], 3)
    if "steady_rows_per_s" in result:
        result["steady_rows_per_s"] = round(result["steady_rows_per_s"], 1)
    print(
        f"{label:>15}: end to end {total:6.2f} s = {rows / total:9.0f} rows/s; "
        f"steady {result.get('steady_rows_per_s', float('nan')):9.0f} rows/s; "
        f"first call at {result.get('to_first_call_s', float('nan')):.2f} s"
    )
    return result


# -- Ray Data --------------------------------------------------------------------------------------------
RAY_DATA_CHILD = "--ray-data-child"


def ray_data_child(args: list[str]) -> None:
    """The Ray Data job, in its own process (the parent times it from before the process starts).

    ``files``: ``from_items(paths)`` and the actors read the CSVs themselves, as batchpoint's workers do
    (a mini-batch of 4 files per call). ``read_csv``: Ray Data reads the CSVs in its own read tasks and
    the actors get row batches; those read tasks need CPUs of their own, so Ray gets one more logical
    CPU than there are actors (with exactly as many, the read tasks never get scheduled and the job hangs).
    """
    mode, inputs, model_path, out_dir, state = args[0], Path(args[1]), args[2], Path(args[3]), args[4]
    rows = int(args[5])
    from batchpoint.executors.ray_cluster import RayConnection

    cpus = WORKERS if mode == "files" else WORKERS + 1
    connection = RayConnection("local", namespace="ray-data-bench", num_cpus=cpus)
    ray = connection.connect()
    import pandas as pd

    class FilePredictor:
        """Each actor loads the model once; a batch is a list of file paths (like a mini-batch)."""

        def __init__(self, model_path: str, state: str) -> None:
            import joblib

            self.model = joblib.load(model_path)
            self.stamps = os.path.join(state, f"stamps-{os.getpid()}.jsonl")

        def __call__(self, batch: dict[str, Any]) -> Any:
            started = time.time()
            frames = []
            for path in batch["item"]:
                data = pd.read_csv(path)
                frames.append(
                    pd.DataFrame({"file": os.path.basename(path), "prediction": self.model.predict(data.values)})
                )
            out = pd.concat(frames, ignore_index=True)
            with open(self.stamps, "a") as fh:
                fh.write(json.dumps([started, time.time(), len(out)]) + "\n")
            return out

    class RowPredictor(FilePredictor):
        """A batch is rows Ray Data read (with a ``path`` column)."""

        def __call__(self, batch: Any) -> Any:
            started = time.time()
            features = batch.drop(columns=["path"])
            predictions = self.model.predict(features.values)
            out = pd.DataFrame({"file": batch["path"].map(os.path.basename), "prediction": predictions})
            with open(self.stamps, "a") as fh:
                fh.write(json.dumps([started, time.time(), len(out)]) + "\n")
            return out

    files = sorted(str(p) for p in inputs.glob("*.csv"))
    ray.data.DataContext.get_current().enable_progress_bars = False
    common_args: dict[str, Any] = {
        "fn_constructor_args": (model_path, state),
        "concurrency": WORKERS,
        "num_cpus": 1,
    }
    if mode == "files":
        ds = ray.data.from_items(files)
        ds = ds.map_batches(FilePredictor, batch_size=MINI_BATCH, batch_format="numpy", **common_args)
    else:
        ds = ray.data.read_csv(files, include_paths=True)
        ds = ds.map_batches(RowPredictor, batch_size=MINI_BATCH * rows, batch_format="pandas", **common_args)
    ds.write_csv(str(out_dir))
    connection.close()


def run_ray_data(root: Path, rows: int, files: int, mode: str) -> dict[str, Any]:
    work = common.WORK / "ray-data"
    shutil.rmtree(work, ignore_errors=True)
    state = work / "state"
    state.mkdir(parents=True)
    out_dir = work / "out"
    cmd = [sys.executable, __file__, RAY_DATA_CHILD, mode, str(root / "inputs"), str(root / "model" / "model.joblib")]
    cmd += [str(out_dir), str(state), str(rows)]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    t_end = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"Ray Data run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    written = sum(max(0, len(p.read_text().splitlines()) - 1) for p in out_dir.glob("*.csv"))
    result: dict[str, Any] = {"t0": t0, "to_completed_s": t_end - t0, "output_rows": written}
    result.update(steady_state(state))
    return _rates(result, files * rows, f"ray_data_{mode}")


# -- driver memory ---------------------------------------------------------------------------------------
def run_memory(files: int) -> dict[str, Any]:
    inputs = workload.tiny_files(files, per_folder=1000)
    bench = common.Bench(f"ray-memory-{files}")
    try:
        bench.client.computes.create("ray-local", type="ray", address="local")
        dep = bench.deploy(TINY_SCORER, {"mini_batch_size": 100, "max_concurrency_per_instance": WORKERS})
        _set_compute(bench, dep, "azureml:ray-local")
        result = common.run_job(bench, inputs, watch=0.2, timeout=3600)
    finally:
        bench.close()
    print(
        f"memory {files:>7} files: driver peak RSS {result['driver_peak_rss_mib_vmhwm']:.0f} MiB, "
        f"{result['to_completed_s']:.1f} s end to end"
    )
    return {"files": files, **{k: v for k, v in result.items() if k != "output"}}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == RAY_DATA_CHILD:
        ray_data_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--memory-files", type=int, default=None)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    files = args.files or (40 if args.quick else 200)
    memory_files = args.memory_files or (20_000 if args.quick else 100_000)
    common.ensure_compiled()
    root = workload.workload(files, args.rows, 20)
    results: dict[str, Any] = {"files": files, "rows_per_file": args.rows, "workers": WORKERS}
    results["local"] = run_batchpoint(root, args.rows, files, None, "local")
    results["batchpoint_ray"] = run_batchpoint(root, args.rows, files, "ray", "batchpoint_ray")
    results["ray_data_files"] = run_ray_data(root, args.rows, files, "files")
    results["ray_data_read_csv"] = run_ray_data(root, args.rows, files, "read_csv")
    bp, local = results["batchpoint_ray"], results["local"]
    # Compared with the faster of the two Ray Data runs.
    rd = max(results["ray_data_files"], results["ray_data_read_csv"], key=lambda r: r["end_to_end_rows_per_s"])
    results["ratios"] = {
        "batchpoint_ray_vs_ray_data_end_to_end": round(bp["end_to_end_rows_per_s"] / rd["end_to_end_rows_per_s"], 2),
        "batchpoint_ray_vs_local_steady": round(bp["steady_rows_per_s"] / local["steady_rows_per_s"], 2),
        "batchpoint_ray_vs_ray_data_steady": round(bp["steady_rows_per_s"] / rd["steady_rows_per_s"], 2),
    }
    print(json.dumps(results["ratios"], indent=2))
    if not args.skip_memory:
        results["memory"] = [run_memory(memory_files // 10), run_memory(memory_files)]
    common.save("ray-quick" if args.quick else "ray", results)


if __name__ == "__main__":
    main()
