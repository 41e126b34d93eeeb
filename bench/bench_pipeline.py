"""Pipeline overhead per step: a 20-step chain and a 20-wide fan-out of no-op command steps.

    python bench/bench_pipeline.py               # 3 rounds of each shape
    python bench/bench_pipeline.py --rounds 5 --steps 20

Measured as a user runs it, whole processes from the shell: ``batchpoint job create -f chain.yml
--stream`` (job create → every step Completed → the CLI exits) against the script a user would
otherwise write for the same work, run in the same round:

* chain: ``for i in $(seq N); do python -c pass; done`` (the steps one after the other);
* fan-out: ``seq N | xargs -P CPUS python -c pass`` (as many at once as the ``local`` compute runs).

Overhead per step = (pipeline wall − script wall) / N: what batchpoint adds to each step beyond the
interpreter start (child job row, its driver, the code snapshot, the environment summary, logs,
outputs, the pipeline driver's polling). ``settings.force_rerun`` is on, so no step is reused.
Target (issue #13): < 150 ms per step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: noop
version: 1
type: command
inputs:
  prev:
    type: uri_folder
    optional: true
outputs:
  out:
    type: uri_folder
command: python -c pass $[[${{inputs.prev}}]] ${{outputs.out}}
"""


def pipeline(steps: int, *, chain: bool) -> str:
    lines = ["type: pipeline", "settings:", "  force_rerun: true", "jobs:"]
    for i in range(steps):
        lines += [f"  s{i}:", "    type: command", "    component: azureml:noop@latest"]
        if chain and i:
            lines += ["    inputs:", f"      prev: ${{{{parent.jobs.s{i - 1}.outputs.out}}}}"]
    return "\n".join(lines) + "\n"


def timed(command: list[str] | str, cwd: Path, env: dict[str, str], *, shell: bool = False) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, shell=shell, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    common.ensure_compiled()
    work = common.WORK / "pipeline"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    for key in ("BATCHPOINT_WORKSPACE", "BATCHPOINT_SERVER", "BATCHPOINT_TOKEN"):
        env.pop(key, None)
    bp = str(bin_dir / "batchpoint")
    subprocess.run([bp, "init"], cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
    (work / "noop.yml").write_text(COMPONENT)
    subprocess.run([bp, "component", "create", "-f", "noop.yml", "-o", "none"], cwd=work, env=env, check=True)
    (work / "chain.yml").write_text(pipeline(args.steps, chain=True))
    (work / "fanout.yml").write_text(pipeline(args.steps, chain=False))
    cpus = os.cpu_count() or 1
    py = sys.executable
    scripts = {
        "chain": f"for i in $(seq {args.steps}); do {py} -c pass; done",
        "fanout": f"seq {args.steps} | xargs -P {cpus} -I{{}} {py} -c pass",
    }
    results: dict[str, dict[str, list[float]]] = {s: {"pipeline": [], "script": []} for s in scripts}
    timed([bp, "job", "create", "-f", "fanout.yml", "--stream", "-o", "none"], work, env)  # warm the caches
    for _ in range(args.rounds):
        for shape, script in scripts.items():
            results[shape]["script"].append(timed(script, work, env, shell=True))
            command = [bp, "job", "create", "-f", f"{shape}.yml", "--stream", "-o", "none"]
            results[shape]["pipeline"].append(timed(command, work, env))
    report: dict[str, object] = {"machine": common.machine(), "steps": args.steps, "rounds": args.rounds}
    print(f"{'shape':8} {'pipeline s':>11} {'script s':>9} {'overhead/step ms':>17}  (medians of {args.rounds})")
    for shape, times in results.items():
        pipe, script = common.median(times["pipeline"]), common.median(times["script"])
        per_step = (pipe - script) / args.steps * 1000
        report[shape] = {**times, "overhead_per_step_ms": per_step}
        print(f"{shape:8} {pipe:11.2f} {script:9.2f} {per_step:17.0f}")
    common.save("pipeline", report)


if __name__ == "__main__":
    main()
