"""The job state machine (``jobs/lifecycle.py``) through the real engine, on SQLite and PostgreSQL.

The driver runs on the inline executor, in this process (``JobRunner.run``) or in a child process
that kills itself with SIGKILL at an exact step of the job's end (``on_phase``): each phase is held
deterministically, nothing races the clock. A resume starts a real detached driver.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.jobs.conftest import Env, _jobs_env, attempts_csv, read_output, write_inputs

from batchpoint.batch.engine import JobRunner
from batchpoint.errors import Conflict
from batchpoint.jobs.schemas import Job, JobState

KILL_AT = """
import os, signal, sys
from batchpoint import Client
from batchpoint.batch.engine import JobRunner

root, name, phase = sys.argv[1:4]
client = Client(root)

def hook(step):
    if step == phase:
        os.kill(os.getpid(), signal.SIGKILL)

JobRunner(client.services, name, 1, on_phase=hook).run()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def machine(
    request: pytest.FixtureRequest, tmp_path: Path, engine_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    """The jobs environment with the inline executor (inherited by resumed drivers), on both databases."""
    monkeypatch.setenv("BATCHPOINT_ENGINE_EXECUTOR", "inline")
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")
    yield from _jobs_env(tmp_path)


def _job(env: Env, n_files: int = 6) -> tuple[Job, dict[str, int]]:
    expected = write_inputs(env.root / "data", n_files)
    env.deploy(mini_batch_size=2)
    return env.client.batch_endpoints.invoke("jobs-ep", input=str(env.root / "data"), start=False), expected


def _output(job: Job) -> Path:
    return Path(job.outputs["score"].path) / "predictions.csv"


def _actions(env: Env, job: Job) -> list[str]:
    return [e.action for e in env.client.jobs.get(job.name).history]


def _scored(env: Env) -> int:
    """How many input files the scoring script has been given so far."""
    log = env.state / "attempts.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_cancel_accepted_while_preparing_ends_canceled(machine: Env) -> None:
    job, _ = _job(machine)
    answers: list[Job] = []

    def cancel_at(step: str) -> None:
        if step == "preparing":
            answers.append(machine.client.jobs.cancel(job.name))

    state = JobRunner(machine.client.services, job.name, 1, on_phase=cancel_at).run()
    assert answers[0].status is JobState.cancel_requested
    assert state is JobState.canceled
    assert machine.client.jobs.get(job.name).status is JobState.canceled
    assert not _output(job).exists()
    assert _actions(machine, job) == ["create", "prepare", "request-cancel", "honour-cancel"]


def test_cancel_accepted_while_finalizing_publishes_nothing(machine: Env) -> None:
    job, _ = _job(machine)

    def cancel_at(step: str) -> None:
        if step == "finalizing":
            assert machine.client.jobs.cancel(job.name).status is JobState.cancel_requested

    assert JobRunner(machine.client.services, job.name, 1, on_phase=cancel_at).run() is JobState.canceled
    final = machine.client.jobs.get(job.name)
    assert final.status is JobState.canceled and final.progress.mini_batches.done == 3
    assert not _output(job).exists()
    assert not list(_output(job).parent.glob(".*merging*")), "the staged file is removed"
    assert _actions(machine, job)[-2:] == ["request-cancel", "honour-cancel"]


def test_cancel_after_the_point_of_no_return_is_refused_and_the_job_completes(machine: Env) -> None:
    job, expected = _job(machine)
    refusals: list[str] = []

    def cancel_at(step: str) -> None:
        if step == "published":
            with pytest.raises(Conflict, match="publishing its output: the job will complete") as refused:
                machine.client.jobs.cancel(job.name)
            refusals.append(str(refused.value))

    assert JobRunner(machine.client.services, job.name, 1, on_phase=cancel_at).run() is JobState.completed
    assert refusals
    assert dict(read_output(_output(job))) == expected
    assert "request-cancel" not in _actions(machine, job)


def _kill_driver_at(env: Env, job: Job, phase: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", KILL_AT, str(env.root), job.name, phase], env=os.environ, capture_output=True
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]


def test_killed_between_link_and_completed_resumes_to_completed_without_touching_the_file(machine: Env) -> None:
    job, expected = _job(machine)
    _kill_driver_at(machine, job, "linked")
    stranded = machine.client.jobs.get(job.name)
    assert stranded.status is JobState.finalizing and stranded.driver.lost
    assert "publishing its output" in (stranded.message or "")
    before = os.stat(_output(job))
    scored, attempts = _scored(machine), len(attempts_csv(machine.job_dir(job)))

    machine.client.jobs.resume(job.name)
    final = machine.wait(job)
    assert final.status is JobState.completed, final.message
    after = os.stat(_output(job))
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert dict(read_output(_output(job))) == expected
    assert _scored(machine) == scored, "nothing was scored again"
    assert len(attempts_csv(machine.job_dir(job))) == attempts
    assert _actions(machine, job)[-2:] == ["resume", "complete"]


def test_killed_between_the_record_and_the_link_resumes_and_publishes_once(machine: Env) -> None:
    job, expected = _job(machine)
    _kill_driver_at(machine, job, "published")
    assert not _output(job).exists()
    scored = _scored(machine)
    with pytest.raises(Conflict, match="publishing its output"):
        machine.client.jobs.cancel(job.name)
    machine.client.jobs.resume(job.name)
    final = machine.wait(job)
    assert final.status is JobState.completed, final.message
    assert dict(read_output(_output(job))) == expected
    assert _scored(machine) == scored
    assert not list(_output(job).parent.glob(".*merging*"))


def test_a_published_file_that_changed_is_a_conflict_naming_both_sizes(machine: Env) -> None:
    job, expected = _job(machine)
    _kill_driver_at(machine, job, "linked")
    size = _output(job).stat().st_size
    with open(_output(job), "a") as fh:
        fh.write("tampered,1\n")
    machine.client.jobs.resume(job.name)
    final = machine.wait(job)
    assert final.status is JobState.failed
    reason = final.failure_reason or ""
    assert f"it has {size + 11} bytes, the job published {size} bytes" in reason, reason
    # The user moves the stranger away and resumes the Failed job: it publishes its own output again.
    _output(job).rename(_output(job).with_name("tampered.csv"))
    machine.client.jobs.resume(job.name)
    final = machine.wait(job)
    assert final.status is JobState.completed, final.message
    assert dict(read_output(_output(job))) == expected


@pytest.mark.parametrize("end", ["completed", "canceled"])
def test_completed_and_canceled_jobs_are_never_resumed(machine: Env, end: str) -> None:
    job, _ = _job(machine)
    if end == "canceled":
        machine.client.jobs.cancel(job.name)  # no driver ever ran it: canceled at once or at its start
    JobRunner(machine.client.services, job.name, 1).run()
    ended = machine.client.jobs.get(job.name)
    assert ended.status.value.lower() == end
    with pytest.raises(Conflict, match=f"a {ended.status.value} job never changes again"):
        machine.client.jobs.resume(job.name)
    again = machine.client.jobs.get(job.name)
    assert again.status is ended.status and again.history == ended.history
    assert again.driver.epoch == ended.driver.epoch


def test_a_failed_job_is_resumed_as_a_recorded_transition(machine: Env) -> None:
    write_inputs(machine.root / "data", 2, directives={0: "POISON", 1: "POISON"})
    machine.deploy(mini_batch_size=1, retry_settings={"max_retries": 0})
    job = machine.client.batch_endpoints.invoke("jobs-ep", input=str(machine.root / "data"), start=False)
    assert JobRunner(machine.client.services, job.name, 1).run() is JobState.failed
    failed = machine.client.jobs.get(job.name)
    reopened = machine.client.jobs.resume(job.name)
    assert reopened.driver.epoch == failed.driver.epoch + 1
    event = reopened.history[-1]
    assert (event.action, event.actor, event.from_state, event.to_state) == (
        "resume-failed",
        "user",
        "Failed",
        "Queued",
    )
    assert "no mini-batch succeeded" in (event.detail or "")
    assert machine.wait(job).status is JobState.failed  # the inputs are still poisoned


def test_a_second_resume_does_not_name_the_dead_driver(machine: Env) -> None:
    job, _ = _job(machine)
    _kill_driver_at(machine, job, "finalizing")
    dead = machine.client.jobs.get(job.name)
    assert dead.driver.lost and "has ended" in (dead.message or "")
    machine.client.jobs.resume(job.name)
    try:
        machine.client.jobs.resume(job.name)
    except Conflict as refused:
        assert f"pid {dead.driver.pid}" not in str(refused)
        assert "nothing to resume" in str(refused) or "never changes again" in str(refused)
    else:
        raise AssertionError("a second resume of a running job was granted")
    assert machine.wait(job).status is JobState.completed
