"""Helpers shared by the benchmarks: a throw-away workspace, a deployment, timing a job, the machine.

Kept free of heavy imports at module level: ``bench_throughput.py`` starts a ``multiprocessing`` pool
with the *spawn* method, whose children import the main script (and so this module) again.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK = BENCH_DIR / ".work"
RESULTS = BENCH_DIR / "results"


# -- environment -------------------------------------------------------------------------------------
def ensure_compiled() -> None:
    """Byte-compile ``src`` (PYTHONDONTWRITEBYTECODE would make every process recompile it)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(REPO / "src")], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import batchpoint

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    WORK.mkdir(parents=True, exist_ok=True)
    fs = subprocess.run(["df", "-T", str(WORK)], capture_output=True, text=True).stdout.splitlines()
    fs_type = fs[-1].split()[1] if len(fs) > 1 else "?"
    return {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": mem_gib,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "batchpoint": getattr(batchpoint, "__version__", "?"),
        "workspace_fs": fs_type,
        "loadavg_at_start": os.getloadavg(),
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
    }


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **data}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"results written to {path.relative_to(REPO)}")
    return path


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# -- a workspace with one endpoint ---------------------------------------------------------------------
class Bench:
    """A fresh workspace under ``bench/.work/<name>`` with one endpoint ``bench-ep``."""

    def __init__(self, name: str) -> None:
        from batchpoint import Client
        from batchpoint.workspace import init_workspace

        self.root = WORK / name
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        init_workspace(self.root)
        self.client = Client(self.root)
        self.client.batch_endpoints.create_from_file(None, name="bench-ep")
        self.deployments = 0

    def deploy(self, scorer: str, settings: dict[str, Any], model_files: dict[str, Path | str] | None = None) -> str:
        """Create a deployment (the endpoint's default) from scoring-script text; returns its name.

        ``model_files`` maps file names in the model folder to a source path (copied) or text.
        """
        from batchpoint.common import yamlio

        self.deployments += 1
        name = f"dep{self.deployments}"
        folder = self.root / "src" / name
        (folder / "model").mkdir(parents=True)
        for fname, content in (model_files or {"placeholder.txt": "no model\n"}).items():
            if isinstance(content, Path):
                shutil.copyfile(content, folder / "model" / fname)
            else:
                (folder / "model" / fname).write_text(content)
        (folder / "code").mkdir()
        (folder / "code" / "score.py").write_text(scorer)
        spec = {
            "name": name,
            "endpoint_name": "bench-ep",
            "type": "model",
            "model": {"name": f"m-{name}", "path": "model"},
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "settings": settings,
        }
        (folder / "deployment.yml").write_text(yamlio.dumps(spec))
        self.client.batch_deployments.create_from_file(folder / "deployment.yml", set_default=True)
        return name

    def job_dir(self, name: str) -> Path:
        return self.client.workspace_path / "jobs" / name

    def close(self) -> None:
        self.client.close()


def run_job(
    bench: Bench, input_path: Path | str, *, timeout: float = 1800, watch: float = 0, **invoke: Any
) -> dict[str, Any]:
    """Invoke, then wait for the merged output and the Completed state; times in seconds from t0.

    t0 is taken just before ``invoke()``. The output file is looked for every 5 ms (a cheap stat);
    the job row is read every 0.5 s until the output exists, then every 5 ms until the job is final,
    so the bench process itself takes little CPU from the job. ``watch`` > 0 samples the driver's
    memory and CPU every ``watch`` seconds (``DriverWatch``).
    """
    client = bench.client
    t0 = time.time()
    job = client.batch_endpoints.invoke("bench-ep", input=str(input_path), **invoke)
    t_invoked = time.time()
    watcher = DriverWatch(bench, job.name, watch) if watch else None
    output = Path(job.outputs["score"].path) / (job.settings.output_file_name if job.settings else "predictions.csv")
    t_output = None
    last_get = 0.0
    deadline = time.monotonic() + timeout
    while True:
        now = time.time()
        if t_output is None and output.exists():
            t_output = now
        if t_output is not None or now - last_get >= 0.5:
            last_get = now
            job = client.jobs.get(job.name)
            if job.status.terminal or job.driver.lost:
                t_final = time.time()
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job.name} did not end in {timeout} s (status {job.status})")
        time.sleep(0.005)
    watched = watcher.stop() if watcher else {}
    if job.status.value != "Completed":
        raise RuntimeError(f"job {job.name} ended {job.status.value}: {job.message}")
    return {
        **watched,
        "job": job.name,
        "invoke_s": t_invoked - t0,
        "to_output_s": (t_output - t0) if t_output else None,
        "to_completed_s": t_final - t0,
        "job_duration_s": job.duration_seconds,
        "created_to_started_s": (job.started_at.timestamp() - t0) if job.started_at else None,
        "mini_batches": job.progress.mini_batches.done,
        "items": job.progress.items.succeeded,
        "output": str(output),
        "t0": t0,
    }


def attempts(bench: Bench, job: str) -> list[dict[str, str]]:
    import csv

    with open(bench.job_dir(job) / "logs" / "processed_mini-batches.csv", newline="") as fh:
        return list(csv.DictReader(fh))


# -- watching the driver process -----------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of one process (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            kids += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return kids


def _status_kib(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _private_kib(pid: int) -> int | None:
    """Memory only this process holds (``Private_Clean + Private_Dirty`` of smaps_rollup), in KiB.

    A driver forked from the invoking process starts with that process's pages in its RSS, shared
    copy-on-write; its private memory is what the driver itself added (or copied by writing).
    """
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return None
    return sum(int(line.split()[1]) for line in lines if line.startswith(("Private_Clean:", "Private_Dirty:")))


class DriverWatch:
    """Samples a job driver (found by ``client.jobs.get(name).driver.pid``) in a background thread.

    Every ``interval`` s: its VmRSS, VmHWM (peak RSS, kept by the kernel) and private memory, its CPU seconds and those
    of its worker processes (its children). Start it right after ``invoke()``; it waits for the pid.
    """

    def __init__(self, bench: Bench, job: str, interval: float = 0.2) -> None:
        import threading

        self.bench, self.job, self.interval = bench, job, interval
        self.pid: int | None = None
        self.samples: list[tuple[float, int]] = []  # (time, VmRSS KiB)
        self.peak_rss_kib = 0
        self.hwm_kib = 0
        self.private_kib = 0
        self.driver_cpu = 0.0
        self.worker_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _find_pid(self) -> int | None:
        # A separate client: SQLAlchemy sessions are not shared across threads.
        from batchpoint import Client

        with Client(self.bench.root) as client:
            while not self._stop.is_set():
                pid = client.jobs.get(self.job).driver.pid
                if pid:
                    return pid
                time.sleep(0.02)
        return None

    def _run(self) -> None:
        self.pid = self._find_pid()
        if self.pid is None:
            return
        while True:
            rss = _status_kib(self.pid, "VmRSS")
            if rss is None:
                break
            self.samples.append((time.time(), rss))
            self.peak_rss_kib = max(self.peak_rss_kib, rss)
            self.hwm_kib = max(self.hwm_kib, _status_kib(self.pid, "VmHWM") or 0)
            self.private_kib = max(self.private_kib, _private_kib(self.pid) or 0)
            self.driver_cpu = _proc_cpu(self.pid) or self.driver_cpu
            for kid in _children(self.pid):
                cpu = _proc_cpu(kid)
                if cpu is not None:
                    self.worker_cpu[kid] = cpu
            if self._stop.wait(self.interval):
                break

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=5)
        return {
            "driver_pid": self.pid,
            "driver_peak_rss_mib_sampled": round(self.peak_rss_kib / 1024, 1),
            "driver_peak_rss_mib_vmhwm": round(self.hwm_kib / 1024, 1),
            "driver_peak_private_mib_sampled": round(self.private_kib / 1024, 1),
            "driver_cpu_s": round(self.driver_cpu, 2),
            "workers_cpu_s": round(sum(self.worker_cpu.values()), 2),
            "rss_samples": len(self.samples),
        }


# -- other work on the machine ------------------------------------------------------------------------
def machine_busy_s() -> float:
    """CPU seconds all CPUs have spent busy since boot (``/proc/stat``), to measure others' load."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def wait_quiet(threshold: float = 0.15, settle: float = 2.0, max_wait: float = 90.0) -> float:
    """Wait until the machine has been nearly idle (busy < ``threshold`` of all CPUs) for ``settle`` s.

    The machine may be shared: a run that starts while something else is busy measures both. Gives
    up after ``max_wait`` s; returns the seconds waited.
    """
    cores = os.cpu_count() or 1
    started = time.monotonic()
    quiet_since = None
    while time.monotonic() - started < max_wait:
        before = machine_busy_s()
        time.sleep(0.5)
        busy = (machine_busy_s() - before) / (0.5 * cores)
        if busy < threshold:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                break
        else:
            quiet_since = None
    return time.monotonic() - started
