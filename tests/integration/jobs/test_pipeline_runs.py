"""Pipeline jobs through the SDK: dependency order, failures, continue_on_step_failure, resume, cancel.

Steps are inline ``python -c`` commands (real child jobs with their own drivers and processes),
so each scenario is a few seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.integration.jobs.conftest import Env, wait_for

from batchpoint.jobs.schemas import Job, JobState

PY = sys.executable


def _step(code: str, *, needs: str | None = None, out: bool = True) -> dict[str, Any]:
    """An inline command step running ``code``; ``needs``: the step whose output it reads (as ``--src``)."""
    command = f'{PY} -c "{code}"'
    step: dict[str, Any] = {"type": "command", "command": command}
    if needs:
        step["inputs"] = {"src": f"${{{{parent.jobs.{needs}.outputs.out}}}}"}
        step["command"] += " ${{inputs.src}}"
    if out:
        step["outputs"] = {"out": None}
        step["command"] += " ${{outputs.out}}"
    return step


def _pipeline(root: Path, jobs: dict[str, dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return {"type": "pipeline", "settings": {"force_rerun": True, **settings}, "jobs": jobs}


OK = "import sys, pathlib; pathlib.Path(sys.argv[-1], 'done').write_text('ok')"
FAIL_UNLESS = (
    "import sys, os; sys.stderr.write('boom: no marker\\n'); sys.exit(0 if os.path.exists(r'{marker}') else 3)"
)


def _steps(job: Job) -> dict[str, Any]:
    return {s.name: s for s in job.steps}


def test_failed_step_fails_the_pipeline_and_names_it(any_db_jobs: Env) -> None:
    marker = any_db_jobs.root / "marker"
    spec = _pipeline(
        any_db_jobs.root,
        {"a": _step(OK), "b": _step(FAIL_UNLESS.format(marker=marker), needs="a"), "c": _step(OK, needs="b")},
    )
    job = any_db_jobs.client.jobs.create(spec, base_dir=any_db_jobs.root)
    final = any_db_jobs.wait(job)
    assert final.status is JobState.failed
    assert "step 'b' failed" in (final.failure_reason or "") and "boom: no marker" in (final.failure_reason or "")
    assert _steps(final)["c"].job is None  # downstream of the failure: never started
    # Fixed and resumed: the failed step runs again (a second attempt), then c; a is not repeated.
    marker.write_text("")
    before = {c.name for c in any_db_jobs.client.jobs.list(parent_job_name=job.name)}
    any_db_jobs.client.jobs.resume(job.name)
    final = any_db_jobs.wait(job)
    assert final.status is JobState.completed, final.message
    after = {c.name for c in any_db_jobs.client.jobs.list(parent_job_name=job.name)}
    assert after - before == {f"{job.name}-b-2", f"{job.name}-c"}
    steps = _steps(final)
    assert steps["b"].job == f"{job.name}-b-2" and all(s.status == "Completed" for s in steps.values())


def test_continue_on_step_failure_runs_the_other_branches(jobs: Env) -> None:
    marker = jobs.root / "never"
    spec = _pipeline(
        jobs.root,
        {
            "a": _step(OK),
            "c": _step(OK, needs="a"),
            "b": _step(FAIL_UNLESS.format(marker=marker)),
            "d": _step(OK, needs="b"),
        },
        continue_on_step_failure=True,
    )
    final = jobs.wait(jobs.client.jobs.create(spec, base_dir=jobs.root))
    assert final.status is JobState.failed
    assert "not run because of it: d" in (final.failure_reason or "")
    steps = _steps(final)
    assert steps["a"].status == steps["c"].status == "Completed"
    assert steps["b"].status == "Failed" and steps["d"].status == "NotStarted" and steps["d"].job is None
    # c read a's output: the binding handed it a's folder.
    a_out = Path(jobs.client.jobs.get(steps["a"].job or "").outputs["out"].path)
    assert (a_out / "done").read_text() == "ok"


def test_cancel_stops_running_steps(jobs: Env) -> None:
    spec = _pipeline(jobs.root, {"slow": _step("import time; time.sleep(60)", out=False)})
    job = jobs.client.jobs.create(spec, base_dir=jobs.root)
    wait_for(lambda: (s := _steps(jobs.client.jobs.get(job.name))["slow"]).status == "Running" and s, timeout=60)
    jobs.client.jobs.cancel(job.name)
    final = jobs.wait(job, timeout=60)
    assert final.status is JobState.canceled
    child = jobs.client.jobs.get(_steps(final)["slow"].job or "")
    assert child.status is JobState.canceled


def test_independent_steps_run_concurrently(jobs: Env) -> None:
    """Two steps that each wait for the other's marker can only both finish if they run at the same time."""
    here = jobs.root
    wait_code = (
        "import sys, time, pathlib; pathlib.Path(r'{mine}').write_text('');"
        "t = time.time()\nwhile not pathlib.Path(r'{theirs}').exists() and time.time() - t < 30: time.sleep(0.05)\n"
        "sys.exit(0 if pathlib.Path(r'{theirs}').exists() else 4)"
    )
    left = {"type": "command", "command": f'{PY} -c "{wait_code.format(mine=here / "L", theirs=here / "R")}"'}
    right = {"type": "command", "command": f'{PY} -c "{wait_code.format(mine=here / "R", theirs=here / "L")}"'}
    final = jobs.wait(jobs.client.jobs.create(_pipeline(here, {"left": left, "right": right}), base_dir=here))
    assert final.status is JobState.completed, final.message


def test_a_literal_input_cannot_add_shell_syntax_to_the_command(jobs: Env) -> None:
    """An invoker sets a pipeline deployment's literals; each one reaches the command as one word."""
    marker = jobs.root / "pwned"
    write = "import sys, pathlib; pathlib.Path(sys.argv[-1], 'mode').write_text(sys.argv[-2])"
    step = {
        "type": "command",
        "command": f'{PY} -c "{write}" ${{{{inputs.mode}}}} ${{{{outputs.out}}}}',
        "inputs": {"mode": "${{parent.inputs.mode}}"},
        "outputs": {"out": None},
    }
    spec = _pipeline(jobs.root, {"echo": step})
    spec["inputs"] = {"mode": f"append; touch {marker}"}
    final = jobs.wait(jobs.client.jobs.create(spec, base_dir=jobs.root))
    assert final.status is JobState.completed, final.message
    out = Path(jobs.client.jobs.get(_steps(final)["echo"].job or "").outputs["out"].path)
    assert (out / "mode").read_text() == f"append; touch {marker}"
    assert not marker.exists()
