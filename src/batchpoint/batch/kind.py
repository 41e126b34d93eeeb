"""The ``batch`` job kind: a batch endpoint's job, run by the mini-batch engine (``batch/engine.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchpoint.executors.launch import Launched
    from batchpoint.jobs.kinds import DriverJob
    from batchpoint.jobs.schemas import JobState
    from batchpoint.services import Services


class BatchJob:
    type = "batch"

    def run(self, ctx: Services, job: DriverJob, epoch: int, prestarted: list[Launched]) -> JobState:
        from batchpoint.batch.engine import JobRunner

        return JobRunner(ctx, job.name, epoch, prestarted=prestarted).run()
