"""CLI start-up: the wall time of whole ``batchpoint`` processes, next to the interpreter's own.

    python bench/bench_cli.py              # 15 runs of each command, a 20-call polling loop
    python bench/bench_cli.py --quick      # 5 runs of each, a 10-call polling loop
    python bench/bench_cli.py --runs 30 --importtime   # also print the slowest imports of each command

Every command is a fresh process started by ``subprocess.run`` (output to /dev/null), as a shell
script would run it; rounds alternate between the commands so a busy moment of the machine spreads
over all of them. Reported per command: min and median (ms), and the ratio of the median to the
interpreter floor (``python -c pass``). The commands:

* ``python -c pass``: the interpreter floor (the venv's python, with its site-packages);
* ``python -c "import batchpoint"``: the package's own import;
* ``batchpoint --version`` and ``batchpoint --help``;
* ``batchpoint job show -n JOB`` on a completed job of a throw-away workspace (``bench/.work/cli``;
  one tiny job is run first), and ``job show --query status -o tsv`` as a polling loop of an Azure
  script runs it: ``while [ "$(az ml job show ... --query status -o tsv)" != Completed ]``. The loop
  is timed as a whole (N calls back to back, a few rounds); the per-call mean of each round is one value.
* ``job show (full path)``: the same command with ``BATCHPOINT_DATABASE_URL`` naming the same SQLite
  file, which the light read path (``jobs/quickview.py``) leaves to the services: what every call cost
  before that path.

``--running`` (on by default; ``--no-running`` skips it) then runs a CPU-bound job (every worker busy,
one per core) a few times, alternately alone and observed the way users observe jobs: ``job show``
every second (an eager polling loop) and ``job stream`` following it. Reported: the job's duration
alone and observed, ``job show``'s wall and CPU time while the job runs, and the follower's CPU per
second of following (its CPU from ``wait4`` less what ``job stream`` costs on a finished job).

The targets (``docs/benchmarks.md``, "CLI start-up"): ``--version`` and ``--help`` under 150 ms,
``job show`` under 300 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
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

# Every mini-batch (one file) keeps its worker busy for BUSY_S of CPU time.
BUSY_SCORER = """
import time

BUSY_S = 0.25


def init():
    pass


def run(mini_batch):
    for _ in mini_batch:
        end = time.process_time() + BUSY_S
        while time.process_time() < end:
            pass
    return [1] * len(mini_batch)
"""

TARGETS_MS = {"batchpoint --version": 150.0, "batchpoint --help": 150.0, "batchpoint job show": 300.0}


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _env(workspace: Path) -> dict[str, str]:
    """The user's environment without a saved login or server: the commands must stay embedded."""
    env = {**os.environ, "BATCHPOINT_WORKSPACE": str(workspace), "NO_COLOR": "1", "COLUMNS": "120"}
    env["BATCHPOINT_CONFIG"] = str(workspace / ".bench-no-login.json")
    for key in ("BATCHPOINT_SERVER", "BATCHPOINT_TOKEN"):
        env.pop(key, None)
    return env


def make_workspace() -> tuple[Path, str]:
    """A throw-away workspace with one endpoint and one completed tiny job; returns (root, job name).

    A second deployment, ``dep2`` (not the default), runs ``BUSY_SCORER`` with a worker per core.
    """
    bench = common.Bench("cli")
    inputs = bench.root / "inputs"
    inputs.mkdir()
    for i in range(2):
        (inputs / f"f{i}.txt").write_text("x\n")
    bench.deploy(SCORER, {"instance_count": 1, "max_concurrency_per_instance": 1, "mini_batch_size": 1})
    job = common.run_job(bench, inputs)["job"]
    cores = len(os.sched_getaffinity(0))
    bench.deploy(BUSY_SCORER, {"instance_count": 1, "max_concurrency_per_instance": cores, "mini_batch_size": 1})
    bench.client.batch_deployments.update("dep1", "bench-ep", set_default=True)
    bench.close()
    return bench.root, job


def commands(job: str) -> dict[str, list[str]]:
    python, batchpoint = _bin("python"), _bin("batchpoint")
    return {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import batchpoint'": [python, "-c", "import batchpoint"],
        "batchpoint --version": [batchpoint, "--version"],
        "batchpoint --help": [batchpoint, "--help"],
        "batchpoint job show": [batchpoint, "job", "show", "-n", job],
        "batchpoint job show (full path)": [batchpoint, "job", "show", "-n", job],
    }


def full_path_env(env: dict[str, str], workspace: Path) -> dict[str, str]:
    """``env`` with the workspace's own SQLite file as an explicit URL: ``job show`` takes the full path."""
    return {**env, "BATCHPOINT_DATABASE_URL": f"sqlite:///{workspace / '.batchpoint' / 'metadata.db'}"}


def measured(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole process (``wait4``: user + system, its children included)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return wall, usage.ru_utime + usage.ru_stime


def _busy_job(workspace: Path, inputs: Path) -> str:
    from batchpoint import Client

    with Client(workspace) as client:
        return client.batch_endpoints.invoke("bench-ep", input=str(inputs), deployment_name="dep2").name


def while_running(workspace: Path, env: dict[str, str], files: int, rounds: int) -> dict[str, Any]:
    """A CPU-bound job, alternately alone and observed (``job show`` every second, ``job stream``)."""
    from batchpoint.jobs import quickview

    inputs = workspace / "busy-inputs"
    inputs.mkdir(exist_ok=True)
    for i in range(files):
        (inputs / f"f{i:04d}.txt").write_text("x\n")
    batchpoint = _bin("batchpoint")
    durations: dict[str, list[float]] = {"alone": [], "observed": []}
    show_wall: list[float] = []
    show_cpu: list[float] = []
    follow_cpu_per_s: list[float] = []
    stream_floor: list[float] = []
    for _ in range(rounds):
        for observed in (False, True):
            job = _busy_job(workspace, inputs)
            stream = None
            if observed:
                stream = subprocess.Popen([batchpoint, "job", "stream", "-n", job], env=env, cwd=workspace,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            follow = quickview.follower(workspace)
            assert follow is not None
            try:
                while True:
                    view = follow.get(job)
                    if view.status.terminal:
                        break
                    if observed:
                        wall, cpu = measured([batchpoint, "job", "show", "-n", job], env, workspace)
                        show_wall.append(wall)
                        show_cpu.append(cpu)
                        time.sleep(max(0.0, 1.0 - wall))
                    else:
                        time.sleep(0.2)
            finally:
                follow.close()
            assert view.status.value == "Completed", view.message
            durations["observed" if observed else "alone"].append(view.duration_seconds or 0.0)
            if stream is not None:
                _pid, _status, usage = os.wait4(stream.pid, 0)
                stream.returncode = os.waitstatus_to_exitcode(_status)
                floor = measured([batchpoint, "job", "stream", "-n", job], env, workspace)[1]  # start-up only
                stream_floor.append(floor)
                follow_cpu_per_s.append(
                    max(0.0, usage.ru_utime + usage.ru_stime - floor) / (view.duration_seconds or 1)
                )
    return {
        "files": files,
        "job_duration_s": {k: common.median(v) for k, v in durations.items()},
        "job_durations_s": durations,
        "slowdown_observed": common.median(durations["observed"]) / common.median(durations["alone"]) - 1,
        "show_while_running_ms": {
            "median": 1000 * common.median(show_wall),
            "cpu_median": 1000 * common.median(show_cpu),
        },
        "stream_startup_cpu_ms": 1000 * common.median(stream_floor),
        "follow_cpu_ms_per_s": 1000 * common.median(follow_cpu_per_s),
    }


def time_once(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    return time.perf_counter() - started


def polling_loop(job: str, calls: int, env: dict[str, str], cwd: Path) -> float:
    """Seconds per call of ``job show --query status -o tsv`` run ``calls`` times back to back."""
    argv = [_bin("batchpoint"), "job", "show", "-n", job, "--query", "status", "-o", "tsv"]
    started = time.perf_counter()
    for _ in range(calls):
        out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env, cwd=cwd).stdout
        assert out.strip() == "Completed", out  # the loop's exit test, as the script has it
    return (time.perf_counter() - started) / calls


def slowest_imports(argv: list[str], env: dict[str, str], cwd: Path, top: int = 8) -> list[tuple[int, str]]:
    """The ``top`` packages (other than batchpoint) that took longest to import in one run, in us.

    Per top-level package, the cumulative time of its own first import (``python -X importtime``),
    which includes what it imports in turn, so ``pydantic_settings`` includes ``pydantic``.
    """
    if Path(argv[0]).name == "batchpoint":  # the console script: run its entry point under -X importtime
        code = "import sys; from batchpoint.cli.main import run; sys.argv = ['batchpoint', *sys.argv[1:]]; run()"
        argv = [_bin("python"), "-X", "importtime", "-c", code, *argv[1:]]
    else:
        argv = [argv[0], "-X", "importtime", *argv[1:]]
    stderr = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd).stderr
    packages: dict[str, int] = {}
    for line in stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _self, cumulative, name = line.removeprefix("import time:").split("|")
            name = name.strip()
            if "." not in name and not name.startswith("_") and name != "batchpoint":
                packages[name] = max(packages.get(name, 0), int(cumulative))
    stdlib = sys.stdlib_module_names
    return sorted(((us, name) for name, us in packages.items() if name not in stdlib), reverse=True)[:top]


def _row(values: list[float], floor: float) -> dict[str, float]:
    """Min and median in ms, and the median as a multiple of the interpreter floor."""
    return {
        "min_ms": 1000 * min(values),
        "median_ms": 1000 * common.median(values),
        "ratio_to_floor": common.median(values) / floor,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, help="runs of each command (default 15, 5 with --quick)")
    parser.add_argument("--loop", type=int, help="calls in the polling loop (default 20, 10 with --quick)")
    parser.add_argument("--loop-rounds", type=int, default=3, help="times the polling loop is run (default 3)")
    parser.add_argument("--importtime", action="store_true", help="print the slowest imports of each command")
    parser.add_argument("--no-running", dest="running", action="store_false",
                        help="skip the measurements while a job runs")  # fmt: skip
    parser.add_argument("--running-files", type=int, help="files of the CPU-bound job (default 48, 24 with --quick)")
    parser.add_argument("--running-rounds", type=int, default=2, help="alone/observed pairs of that job (default 2)")
    parser.add_argument("--no-wait-quiet", dest="wait_quiet", action="store_false",
                        help="do not wait (up to 90 s) for the machine to be idle first")  # fmt: skip
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 15)
    loop_calls = args.loop or (10 if args.quick else 20)
    common.ensure_compiled()

    workspace, job = make_workspace()
    env = _env(workspace)
    cmds = commands(job)
    envs = {name: full_path_env(env, workspace) if name.endswith("(full path)") else env for name in cmds}
    for name, cmd in cmds.items():  # a first run of each warms the page cache; not counted
        time_once(cmd, envs[name], workspace)
    waited = common.wait_quiet() if args.wait_quiet else 0.0
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            times[name].append(time_once(cmd, envs[name], workspace))
    loop_s = [polling_loop(job, loop_calls, env, workspace) for _ in range(args.loop_rounds)]

    floor = common.median(times["python -c pass"])
    rows = {name: _row(values, floor) for name, values in times.items()}
    rows["job show polling loop (per call)"] = _row(loop_s, floor)
    print(f"{'command':<36} {'min ms':>8} {'median ms':>10} {'x floor':>8} {'target ms':>10}")
    for name, row in rows.items():
        target = TARGETS_MS.get(name)
        print(
            f"{name:<36} {row['min_ms']:>8.0f} {row['median_ms']:>10.0f} {row['ratio_to_floor']:>8.1f} "
            f"{(f'< {target:.0f}' if target else ''):>10}"
        )
    if args.importtime:
        for name, cmd in cmds.items():
            top = ", ".join(f"{mod} {us / 1000:.0f}" for us, mod in slowest_imports(cmd, envs[name], workspace))
            print(f"slowest imports (cumulative ms), {name}: {top}")
    summary: dict[str, Any] = {"rows": rows, "targets_ms": TARGETS_MS, "job": job}
    if args.running:
        files = args.running_files or (24 if args.quick else 48)
        running = while_running(workspace, env, files, args.running_rounds)
        summary["while_running"] = running
        d = running["job_duration_s"]
        print(
            f"while a CPU-bound job runs ({files} files, a worker per core): job {d['alone']:.2f} s alone, "
            f"{d['observed']:.2f} s observed ({100 * running['slowdown_observed']:+.1f}%); job show "
            f"{running['show_while_running_ms']['median']:.0f} ms ({running['show_while_running_ms']['cpu_median']:.0f} ms CPU); "
            f"job stream {running['follow_cpu_ms_per_s']:.1f} ms CPU per second followed "
            f"(+ {running['stream_startup_cpu_ms']:.0f} ms to start)"
        )
    common.save(
        "cli" + ("-quick" if args.quick else ""),
        {"params": {"runs": runs, "loop_calls": loop_calls, "loop_rounds": args.loop_rounds,
                    "waited_for_quiet_s": waited},
         "summary": summary, "times_s": times, "polling_loop_s_per_call": loop_s},
    )  # fmt: skip
    return summary


if __name__ == "__main__":
    main()
