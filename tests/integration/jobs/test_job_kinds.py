"""A job's ``type`` picks the runner its driver hands it to; the lifecycle around it is shared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from batchpoint import Client
from batchpoint.config import Settings
from batchpoint.executors.launch import Launched
from batchpoint.jobs import driver, kinds
from batchpoint.jobs.kinds import DriverJob
from batchpoint.jobs.record import JobRecord
from batchpoint.jobs.schemas import JobState
from batchpoint.services import Services
from batchpoint.store.tables import JobRow
from batchpoint.workspace import Workspace


def _add_job(ctx: Services, name: str, job_type: str, parent: str | None = None) -> None:
    with ctx.db.session() as s:
        s.add(JobRow(name=name, type=job_type, state=JobState.queued.value, parent_job_name=parent, driver_epoch=1))
    ctx.layout.job_dir(name).mkdir(parents=True, exist_ok=True)


class EchoJob:
    """A job kind of this test: it records what the driver handed it and completes."""

    type = "echo"
    seen: list[DriverJob] = []

    def run(self, ctx: Services, job: DriverJob, epoch: int, prestarted: list[Launched]) -> JobState:
        EchoJob.seen.append(job)
        return JobRecord(ctx.db, job.id, epoch).complete()


def test_an_unknown_kind_fails_the_job_with_a_sentence(workspace: Path) -> None:
    ctx = Services(Workspace.open(workspace, Settings()))
    _add_job(ctx, "mystery-1", "quantum")
    root = ctx.workspace.root
    proc = subprocess.run(
        [sys.executable, "-m", "batchpoint.jobs.driver", "--workspace", str(root), "--job", "mystery-1", "--epoch", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    job = ctx.jobs.get("mystery-1")
    assert job.status is JobState.failed
    assert job.failure_reason is not None
    assert "unknown job type 'quantum'" in job.failure_reason and "batch" in job.failure_reason
    ctx.close()


def test_a_registered_kind_gets_the_job_and_its_parent(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(kinds.KINDS, "echo", f"{__name__}:EchoJob")
    ctx = Services(Workspace.open(workspace, Settings()))
    _add_job(ctx, "pipeline-1", "echo")
    _add_job(ctx, "step-1", "echo", parent="pipeline-1")
    EchoJob.seen.clear()
    assert driver._run_kind(ctx, "step-1", 1, []) is JobState.completed
    assert [(j.name, j.type, j.parent_job_name) for j in EchoJob.seen] == [("step-1", "echo", "pipeline-1")]
    step = ctx.jobs.get("step-1")
    assert step.status is JobState.completed and step.parent_job_name == "pipeline-1" and step.type == "echo"
    assert step.inputs == {} and step.settings is None  # a batch job's spec is not assumed of other kinds
    ctx.close()
    with Client(workspace) as client:
        assert [j.name for j in client.jobs.list(parent_job_name="pipeline-1")] == ["step-1"]
        assert {j.name for j in client.jobs.list(job_type="echo")} == {"pipeline-1", "step-1"}
        assert client.jobs.list(job_type="batch") == []


def test_a_superseded_driver_does_not_fail_the_job(workspace: Path) -> None:
    ctx = Services(Workspace.open(workspace, Settings()))
    _add_job(ctx, "mystery-2", "quantum")
    # epoch 0 is not the job's epoch (1): the write is fenced off and the job stays as it was.
    assert driver._run_kind(ctx, "mystery-2", 0, []) is JobState.running
    assert ctx.jobs.get("mystery-2").status is JobState.queued
    ctx.close()


def test_every_registered_kind_imports_and_names_its_type() -> None:
    for job_type in kinds.KINDS:
        assert kinds.kind_of(job_type).type == job_type
