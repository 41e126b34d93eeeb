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


# -- whole processes, timed from the outside --------------------------------------------------------------
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper(on: bool = True) -> bool:
    """Adopt this process's orphaned descendants (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``).

    A batchpoint driver detaches itself (forked twice, reparented to init), and ``ray.init()`` leaves
    its raylet and GCS behind when its process exits; as a subreaper, this process gets them instead of
    init, reaps them (``ProcessTree``), and so gets their CPU time from ``wait4``. True when it worked;
    ``on=False`` gives the role back (then init adopts orphans again).
    """
    try:
        import ctypes

        return bool(ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _ru_cpu(ru: Any) -> float:
    return float(ru.ru_utime + ru.ru_stime)


def reap_strays() -> float:
    """Reap any exited child left from earlier runs (non-blocking); returns their CPU seconds."""
    cpu = 0.0
    while True:
        try:
            pid, _status, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return cpu
        if pid == 0:
            return cpu
        cpu += _ru_cpu(ru)


class ProcessTree:
    """Whole processes started by this one and timed from the outside, with all they leave behind.

    ``start()`` spawns a command (``subprocess.Popen``, stdout read line by line, stderr to a file);
    ``poll(timeout)`` waits up to ``timeout`` s for output or an exit and reaps every child that has
    exited (its own and, with ``become_subreaper()``, adopted descendants), recording each one's exit
    time and CPU (``wait4``: user + system of the process and of the children it reaped itself).
    ``cpu_s`` is the CPU of everything reaped since the tree was made. Only one tree at a time: it reaps
    any child of this process.
    """

    def __init__(self, sample_every: float | None = None) -> None:
        """``sample_every``: also read every descendant's own CPU from /proc that often (see ``sampled_cpu_s``)."""
        self.sample_every = sample_every
        self.sampled: dict[int, float] = {}  # pid -> its own CPU s, last seen
        self._sampled_at = 0.0
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.lines: dict[int, list[tuple[float, str]]] = {}
        self.exited: dict[int, tuple[float, int, float]] = {}  # pid -> (time, exit code, CPU s)
        self.adopted_cpu_s = 0.0  # descendants reaped that this tree did not start
        self._buf: dict[int, bytes] = {}

    def start(self, cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
              stderr: Path | None = None) -> tuple[int, float]:  # fmt: skip
        """Spawn ``cmd``; returns (pid, t0) with t0 = ``time.time()`` just before the spawn."""
        err = open(stderr, "ab") if stderr else subprocess.DEVNULL  # noqa: SIM115 - closed below
        t0 = time.time()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        if stderr:
            err.close()  # type: ignore[union-attr]
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        self.procs[proc.pid] = proc
        self.lines[proc.pid] = []
        self._buf[proc.pid] = b""
        return proc.pid, t0

    def running(self, pid: int) -> bool:
        return pid not in self.exited

    def poll(self, timeout: float = 0.005) -> None:
        import select

        fds = {p.stdout.fileno(): pid for pid, p in self.procs.items() if p.stdout and not p.stdout.closed}
        if fds:
            ready, _, _ = select.select(list(fds), [], [], timeout)
            for fd in ready:
                self._read(fds[fd])
        else:
            time.sleep(timeout)
        if self.sample_every and time.monotonic() - self._sampled_at >= self.sample_every:
            self._sampled_at = time.monotonic()
            self._sample()
        while True:
            try:
                pid, status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            now = time.time()
            if pid in self.procs:
                proc = self.procs[pid]
                proc.returncode = os.waitstatus_to_exitcode(status)
                self._read(pid)
                if proc.stdout:
                    proc.stdout.close()
                self.exited[pid] = (now, proc.returncode, _ru_cpu(ru))
            else:
                self.exited[pid] = (now, os.waitstatus_to_exitcode(status), _ru_cpu(ru))
                self.adopted_cpu_s += _ru_cpu(ru)

    def _read(self, pid: int) -> None:
        proc = self.procs[pid]
        if proc.stdout is None or proc.stdout.closed:
            return
        try:
            data = proc.stdout.read() or b""
        except BlockingIOError:
            data = b""
        if not data:
            return
        now = time.time()
        buf = self._buf[pid] + data
        *complete, self._buf[pid] = buf.split(b"\n")
        self.lines[pid] += [(now, line.decode(errors="replace")) for line in complete]

    def has_children(self) -> bool:
        """Whether this process still has a child (started or adopted) that has not been reaped."""
        me = os.getpid()
        try:
            return any(
                Path(f"/proc/{me}/task/{t}/children").read_text().strip() for t in os.listdir(f"/proc/{me}/task")
            )
        except OSError:
            return False

    def wait(self, pid: int, timeout: float, *, tree: bool = False, every: Any = None) -> None:
        """Poll until ``pid`` exited (and, with ``tree``, every other descendant too), or ``timeout`` s.

        ``every`` is called after each poll (a follower loop that starts more commands, say).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if every is not None:
                every()
            if not self.running(pid) and not (tree and self.has_children()):
                return
        raise TimeoutError(f"pid {pid} (or what it left behind) still running after {timeout} s")

    def _sample(self) -> None:
        stack = [os.getpid()]
        while stack:
            for kid in _children(stack.pop()):
                stack.append(kid)
                cpu = _proc_cpu(kid)
                if cpu is not None:
                    self.sampled[kid] = cpu

    @property
    def cpu_s(self) -> float:
        """CPU of every process reaped here (each with the children it reaped itself)."""
        return sum(cpu for _t, _code, cpu in self.exited.values())

    @property
    def sampled_cpu_s(self) -> float:
        """The sum of every descendant's own CPU as last sampled: a lower bound, but one that also counts
        processes reaped elsewhere. Ray's worker processes are: a tree with Ray in it reaps only part of
        its CPU here (``cpu_s``)."""
        return sum(self.sampled.values())


def own_cpu_s() -> float:
    """CPU seconds of this process itself (not its children)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def shared_dir(path: Path) -> Path:
    """A folder the scoring script's stamps go to; writable by batchpoint's worker user when it runs as root."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o1777)
    return path
