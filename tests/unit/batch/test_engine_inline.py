"""The job engine on the inline executor: a real workspace, deployment and job, run in this process.

``BATCHPOINT_ENGINE_EXECUTOR=inline`` (here: ``EngineSettings(executor="inline")``) scores mini-batches
inside the driver with the real worker runtime, in a fixed order, so every count is exact. The job is
created with ``start=False`` (no detached driver, as the server does) and driven by ``JobRunner.run()``.

Input files are CSV ``key,x`` rows; the scorer returns ``(key, x * 3 + 1)`` per row. A file whose first
line is ``POISON`` makes ``run()`` raise every time; ``SLOW`` outlasts the timeout once.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from batchpoint import Client
from batchpoint.batch.engine import JobRunner
from batchpoint.common import yamlio
from batchpoint.config import EngineSettings, Settings
from batchpoint.jobs.schemas import Job, JobState

SCORER = """
import os, time

def init():
    if os.environ.get("FAIL_INIT"):
        raise RuntimeError("cannot load the model: " + os.environ["FAIL_INIT"])
    global factor
    with open(os.path.join(os.path.dirname(__file__), "pids.txt"), "a") as fh:
        fh.write(str(os.getpid()) + "\\n")
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "factor.txt")) as fh:
        factor = int(fh.read())

def run(mini_batch):
    rows = []
    for path in mini_batch:
        with open(path) as fh:
            lines = fh.read().splitlines()
        if lines[0] == "POISON":
            raise ValueError("poisoned input " + os.path.basename(path))
        marker = path + ".slow"
        if lines[0] == "SLOW" and not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(1.2)
        for line in lines[1:]:
            key, x = line.split(",")
            rows.append((key, int(x) * factor + 1))
    return rows
"""


class World:
    """A workspace with the endpoint ``inline-ep``; ``deploy`` makes a deployment of ``SCORER`` its default."""

    def __init__(self, root: Path) -> None:
        self.root = root
        settings = Settings(engine=EngineSettings(executor="inline", heartbeat_seconds=0.05))
        self.client = Client(root, settings=settings)
        self.client.batch_endpoints.create_from_file(None, name="inline-ep")
        self.data = root / "data"

    def deploy(self, **settings: Any) -> None:
        folder = self.root / "dep"
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "factor.txt").write_text("3")
        (folder / "code").mkdir()
        (folder / "code" / "score.py").write_text(SCORER)
        spec = {
            "name": "dep1",
            "endpoint_name": "inline-ep",
            "type": "model",
            "model": {"name": "m", "path": "model"},
            "code_configuration": {"code": "code", "scoring_script": "score.py"},
            "settings": settings,
        }
        (folder / "deployment.yml").write_text(yamlio.dumps(spec))
        self.client.batch_deployments.create_from_file(folder / "deployment.yml", set_default=True)

    def inputs(self, n_files: int, directives: dict[int, str] | None = None) -> list[tuple[str, int]]:
        """Two rows per file; returns the rows a complete output holds, in file order."""
        self.data.mkdir(exist_ok=True)
        expected = []
        for i in range(n_files):
            head = (directives or {}).get(i, "key,x")
            rows = [(f"f{i}-r{r}", i * 10 + r) for r in range(2)]
            (self.data / f"f{i:03d}.csv").write_text("\n".join([head, *(f"{k},{x}" for k, x in rows)]) + "\n")
            if head != "POISON":
                expected += [(k, x * 3 + 1) for k, x in rows]
        return expected

    def run(self, *, cancel_first: bool = False) -> tuple[JobState, Job]:
        """Create the job (no driver), run its driver here, return its final state and view."""
        job = self.client.batch_endpoints.invoke("inline-ep", input=str(self.data), start=False)
        ctx = self.client.services
        if cancel_first:
            with ctx.db.session() as s:
                s.execute(
                    text("UPDATE jobs SET state=:s WHERE name=:n"),
                    {"s": JobState.cancel_requested.value, "n": job.name},
                )
        state = JobRunner(ctx, job.name, epoch=1).run()
        return state, self.client.jobs.get(job.name)

    def attempts(self, job: Job) -> list[dict[str, str]]:
        path = self.client.workspace_path / "jobs" / job.name / "logs" / "processed_mini-batches.csv"
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))


@pytest.fixture
def world(workspace: Path) -> Iterator[World]:
    w = World(workspace)
    yield w
    w.client.close()


def _output(job: Job) -> list[tuple[str, int]]:
    with open(job.outputs["score"].file or "", newline="") as fh:
        return [(row[0], int(row[1])) for row in csv.reader(fh)]


def test_every_item_is_scored_and_merged_in_input_order(world: World) -> None:
    world.deploy(mini_batch_size=2, max_concurrency_per_instance=2)
    expected = world.inputs(7)
    state, job = world.run()
    assert state == JobState.completed and job.status == JobState.completed, job.message
    assert _output(job) == expected
    assert job.progress.mini_batches.model_dump() == {"total": 4, "done": 4, "failed": 0, "pending": 0}
    assert (job.progress.items.succeeded, job.progress.items.failed, job.progress.retries) == (7, 0, 0)
    assert sorted(r["result"] for r in world.attempts(job)) == ["ok"] * 4
    pids = [p.read_text() for p in (world.client.workspace_path / "jobs" / job.name / "code").glob("pids.txt")]
    assert pids == [f"{os.getpid()}\n" * 2], "two workers, both in this process"


def test_a_failing_mini_batch_is_retried_then_failed_and_the_rest_published(world: World) -> None:
    world.deploy(mini_batch_size=2, retry_settings={"max_retries": 2})
    expected = world.inputs(6, {3: "POISON"})
    state, job = world.run()
    assert state == JobState.completed, job.message
    assert _output(job) == [row for row in expected if not row[0].startswith("f2-")]  # f2 shared f3's mini-batch
    assert (job.progress.mini_batches.done, job.progress.mini_batches.failed) == (2, 1)
    assert (job.progress.items.succeeded, job.progress.items.failed, job.progress.retries) == (4, 2, 2)
    failed = [r for r in world.attempts(job) if r["result"] == "failed"]
    assert [(r["mini_batch"], r["attempt"]) for r in failed] == [("1", "1"), ("1", "2"), ("1", "3")]
    assert job.error is not None and job.error["message"] == "poisoned input f003.csv"


def test_the_error_threshold_fails_the_job(world: World) -> None:
    world.deploy(mini_batch_size=1, error_threshold=1, retry_settings={"max_retries": 0})
    world.inputs(5, {1: "POISON", 3: "POISON"})
    state, job = world.run()
    assert state == JobState.failed
    assert job.failure_reason is not None
    assert job.failure_reason.startswith("error threshold exceeded: 2 failed item(s) > error_threshold 1")
    assert "ValueError: poisoned input f001.csv" in job.failure_reason
    assert (job.progress.items.failed, job.progress.mini_batches.failed) == (2, 2)


def test_a_failing_init_fails_the_job_with_its_message(world: World) -> None:
    world.deploy(environment_variables={"FAIL_INIT": "no weights"})
    world.inputs(2)
    state, job = world.run()
    assert state == JobState.failed
    assert job.failure_reason == (
        "init() of the scoring script failed 3 times in a row: RuntimeError: cannot load the model: no weights"
    )
    assert job.progress.items.succeeded == 0


def test_a_run_past_the_timeout_is_killed_and_retried(world: World) -> None:
    world.deploy(mini_batch_size=1, retry_settings={"max_retries": 1, "timeout": 1})
    expected = world.inputs(3, {1: "SLOW"})
    state, job = world.run()
    assert state == JobState.completed, job.message
    assert _output(job) == expected
    results = [(r["mini_batch"], r["attempt"], r["result"]) for r in world.attempts(job)]
    assert ("1", "1", "timeout") in results and ("1", "2", "ok") in results
    assert job.progress.retries == 1


def test_a_cancel_before_the_driver_starts_cancels_the_job(world: World) -> None:
    world.deploy()
    world.inputs(2)
    state, job = world.run(cancel_first=True)
    assert state == JobState.canceled and job.status == JobState.canceled
    assert job.failure_reason == "canceled by request before the job started"


def test_publishing_keeps_the_order_fsync_record_link_folder_fsync_completed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output is on disk before it is recorded, recorded before it is linked, linked before Completed."""
    import stat as stat_module

    from batchpoint.jobs.record import JobRecord

    world.deploy(mini_batch_size=2)
    world.inputs(4)
    steps: list[str] = []
    real_fsync, real_link, real_advance = os.fsync, os.link, JobRecord.advance

    def fsync(fd: int) -> None:
        kind = "folder" if stat_module.S_ISDIR(os.fstat(fd).st_mode) else "file"
        real_fsync(fd)
        steps.append(f"fsync {kind}")

    def link(src: Any, dst: Any, **kwargs: Any) -> None:
        real_link(src, dst, **kwargs)
        steps.append("link")

    def advance(self: JobRecord, action: str, *args: Any, **kwargs: Any) -> Any:
        change = real_advance(self, action, *args, **kwargs)
        steps.append(action)
        return change

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(JobRecord, "advance", advance)
    state, _ = world.run()
    assert state == JobState.completed
    end = steps[steps.index("finalize") :]
    assert [s for s in end if s in ("fsync file", "publish", "link", "fsync folder", "complete")] == [
        "fsync file", "publish", "link", "fsync folder", "complete",
    ]  # fmt: skip
