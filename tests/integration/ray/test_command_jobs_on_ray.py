"""Command jobs (and so pipeline steps) on a ``ray`` compute: the command runs as a Ray task on the cluster.

One two-node cluster is shared by the module (``conftest.py``, the ``ray_jobs`` fixture: a workspace
with a compute ``ray-cluster`` of type ray and address ``auto``). The cluster shares this machine's file system, as the command runner assumes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from batchpoint.command_jobs.ray_runner import task_options
from batchpoint.jobs.schemas import Job, JobState

from .conftest import ExecutorEnv, suite

PY = sys.executable
STD_LOG = "user_logs/std_log.txt"


def _create(env: ExecutorEnv, command: str, **fields: Any) -> Job:
    spec = {"type": "command", "command": command, "compute": "azureml:ray-cluster", **fields}
    return env.client.jobs.create(spec, base_dir=env.root)


def _std_log(env: ExecutorEnv, job: Job) -> str:
    path = env.job_dir(job) / "logs" / STD_LOG
    return path.read_text() if path.is_file() else ""


def _executor(env: ExecutorEnv, job: Job) -> dict[str, Any]:
    return dict(json.loads((env.job_dir(job) / "logs" / "executor.json").read_text()))


def _live(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.ray
def test_the_command_runs_as_a_ray_task_and_its_output_streams_to_std_log(ray_jobs: ExecutorEnv) -> None:
    go = ray_jobs.root / "go"
    code = (
        "import os, sys, time, pathlib; print('pids', os.getpid(), os.getppid(), flush=True);"
        f"t = time.time()\nwhile not os.path.exists(r'{go}') and time.time() - t < 60: time.sleep(0.05)\n"
        "pathlib.Path(sys.argv[1], 'out.txt').write_text(os.environ['GREETING'])"
    )
    job = _create(
        ray_jobs,
        f'{PY} -c "{code}" ${{{{outputs.out}}}}',
        outputs={"out": {"type": "uri_folder"}},
        environment_variables={"GREETING": "hi from ray"},
    )
    # Printed while the command still runs (it waits for ``go``): std_log is written as lines come.
    line = suite.wait_for(
        lambda: next((x for x in _std_log(ray_jobs, job).splitlines() if x.startswith("pids ")), None)
    )
    assert ray_jobs.client.jobs.get(job.name).status is JobState.running
    go.write_text("")
    final = ray_jobs.wait(job)
    assert final.status is JobState.completed, final.message
    assert (Path(final.outputs["out"].path) / "out.txt").read_text() == "hi from ray"
    _, pid, ppid = line.split()
    ran = _executor(ray_jobs, final)
    # The command's parent is the Ray worker that ran the task, not the job's driver.
    assert ran["executor"] == "ray" and ran["node_id"] and ran["task_id"]
    assert int(ppid) == ran["pid"] and int(ppid) != final.driver.pid and int(pid) != final.driver.pid
    assert final.environment is not None and "runtime_env" in (final.environment.get("note") or "")


@pytest.mark.ray
def test_a_failing_command_fails_the_job_with_its_exit_code_and_stderr(ray_jobs: ExecutorEnv) -> None:
    final = ray_jobs.wait(_create(ray_jobs, "echo to-stdout; echo first >&2; echo 'the real problem' >&2; exit 3"))
    assert final.status is JobState.failed
    reason = final.failure_reason or ""
    assert reason.startswith("command exited with code 3: ") and "the real problem" in reason
    assert "to-stdout" not in reason and "to-stdout" in _std_log(ray_jobs, final)
    assert _executor(ray_jobs, final)["executor"] == "ray"


@pytest.mark.ray
def test_cancel_stops_the_task_and_the_whole_process_tree(ray_jobs: ExecutorEnv) -> None:
    pid_file = ray_jobs.root / "child.pid"
    job = _create(ray_jobs, f"sleep 600 & echo $! > {pid_file}; wait")
    child = int(suite.wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip()))
    assert _live(child)
    started = time.monotonic()
    ray_jobs.client.jobs.cancel(job.name)
    final = ray_jobs.wait(job, timeout=30)
    assert final.status is JobState.canceled, final.message
    assert time.monotonic() - started < 15
    suite.wait_for(lambda: not _live(child), timeout=10)


@pytest.mark.ray
def test_a_killed_ray_worker_fails_the_job_and_leaves_no_process(ray_jobs: ExecutorEnv) -> None:
    """What ``ray.cancel(force=True)`` does to the task: its worker dies; the command's tree must die with it."""
    worker_file, pid_file = ray_jobs.root / "worker.pid", ray_jobs.root / "child.pid"
    job = _create(ray_jobs, f"echo $PPID > {worker_file}; sleep 600 & echo $! > {pid_file}; wait")
    child = int(suite.wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip()))
    os.kill(int(worker_file.read_text()), signal.SIGKILL)
    final = ray_jobs.wait(job, timeout=30)
    assert final.status is JobState.failed
    assert (final.failure_reason or "").startswith("the Ray task that ran the command failed: ")
    suite.wait_for(lambda: not _live(child), timeout=10)


@pytest.mark.ray
def test_a_lost_driver_is_resumed_and_runs_the_command_again(ray_jobs: ExecutorEnv) -> None:
    """Ray stops a dead driver's task; the watchdog beside the command then kills the command's tree."""
    pid_file, marker = ray_jobs.root / "cmd.pid", ray_jobs.root / "ran"
    command = f"echo run >> {marker}; echo started; if [ $(wc -l < {marker}) -lt 2 ]; then sleep 600 & echo $! > {pid_file}; wait; fi"
    job = _create(ray_jobs, command)
    child = int(suite.wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip()))
    driver = ray_jobs.client.jobs.get(job.name).driver.pid
    assert driver is not None
    os.kill(driver, signal.SIGKILL)
    suite.wait_for(lambda: not _live(child), timeout=30)
    suite.wait_for(lambda: ray_jobs.client.jobs.get(job.name).driver.lost, timeout=30)
    ray_jobs.client.jobs.resume(job.name)
    final = ray_jobs.wait(job)
    assert final.status is JobState.completed, final.message
    assert marker.read_text() == "run\nrun\n"
    assert "===== run again" in _std_log(ray_jobs, final)


@pytest.mark.ray
def test_a_pipeline_whose_default_compute_is_ray_runs_its_steps_there(ray_jobs: ExecutorEnv) -> None:
    write = "import sys, pathlib; pathlib.Path(sys.argv[-1], 'done').write_text('ok')"
    read = "import sys, pathlib; pathlib.Path(sys.argv[-1], 'done').write_text(pathlib.Path(sys.argv[-2], 'done').read_text() * 2)"
    first = {"type": "command", "command": f'{PY} -c "{write}" ${{{{outputs.out}}}}', "outputs": {"out": None}}
    second = {
        "type": "command",
        "command": f'{PY} -c "{read}" ${{{{inputs.src}}}} ${{{{outputs.out}}}}',
        "inputs": {"src": "${{parent.jobs.first.outputs.out}}"},
        "outputs": {"out": None},
    }
    (ray_jobs.root / "score").mkdir()
    (ray_jobs.root / "score" / "score.py").write_text(
        "import os\ndef init():\n    pass\n"
        "def run(mini_batch):\n    return [os.path.basename(p) + ' ' + open(p).read() for p in mini_batch]\n"
    )
    score = {  # a parallel step: the batch engine's Ray executor runs its mini-batches
        "type": "parallel",
        "inputs": {"data": "${{parent.jobs.second.outputs.out}}"},
        "outputs": {"rows": None},
        "input_data": "${{inputs.data}}",
        "task": {"code": "score", "entry_script": "score.py", "append_row_to": "${{outputs.rows}}"},
    }
    spec = {
        "type": "pipeline",
        "settings": {"force_rerun": True, "default_compute": "azureml:ray-cluster"},
        "jobs": {"first": first, "second": second, "score": score},
    }
    final = ray_jobs.wait(ray_jobs.client.jobs.create(spec, base_dir=ray_jobs.root), timeout=180)
    assert final.status is JobState.completed, final.message
    children = {c.name.rsplit("-", 1)[-1]: c for c in ray_jobs.client.jobs.list(parent_job_name=final.name)}
    assert sorted(children) == ["first", "score", "second"]
    for step in ("first", "second"):
        assert _executor(ray_jobs, children[step])["executor"] == "ray"
    assert (Path(children["second"].outputs["out"].path) / "done").read_text() == "okok"
    scored = ray_jobs.client.jobs.get(children["score"].name)
    assert scored.type == "batch" and scored.environment and "Ray" in str(scored.environment)
    assert (Path(scored.outputs["rows"].path) / "parallel_run_step.txt").read_text().split() == ["done", "okok"]


@pytest.mark.ray
def test_a_private_ray_compute_starts_its_own_ray_for_the_command(ray_jobs: ExecutorEnv) -> None:
    ray_jobs.client.computes.create("ray-private", type="ray", address="local")
    spec = {"type": "command", "command": "echo private; echo oops >&2; exit 4", "compute": "azureml:ray-private"}
    final = ray_jobs.wait(ray_jobs.client.jobs.create(spec, base_dir=ray_jobs.root))
    assert final.status is JobState.failed and (final.failure_reason or "") == "command exited with code 4: oops"
    ran = _executor(ray_jobs, final)
    assert ran["executor"] == "ray" and ran["cluster"] == "private" and ran["node_id"]
    assert "private" in _std_log(ray_jobs, final)


# -- without the cluster -------------------------------------------------------------------------------
def test_task_options_reuse_the_batch_executors_resources_and_runtime_env() -> None:
    options = task_options({"resources": {"GPU": 1}}, ["numpy==2.0", "# a comment", "numpy==2.0"], "j")
    assert options["num_gpus"] == 1 and options["num_cpus"] == 1.0 and options["max_retries"] == 0
    assert options["runtime_env"]["pip"]["packages"] == ["numpy==2.0"]
    assert "runtime_env" not in task_options({}, [], "j")  # no packages: Ray's ready worker processes do


def test_the_command_runner_does_not_import_ray() -> None:
    code = "import sys, batchpoint.command_jobs.kind, batchpoint.jobs.driver; print('ray' in sys.modules)"
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
