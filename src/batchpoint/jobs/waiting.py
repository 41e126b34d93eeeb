"""Waiting for a job to end, the same way embedded and over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

from batchpoint.jobs.schemas import TERMINAL, Job


def wait_for_job(
    get: Callable[[str], Job],
    name: str,
    *,
    timeout: float | None = None,
    poll: float = 0.25,
    on_update: Callable[[Job], None] | None = None,
) -> Job:
    """Poll ``get(name)`` until the job ends (or its driver is lost, or ``timeout`` passes)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = get(name)
        if on_update is not None:
            on_update(job)
        if job.status in TERMINAL or job.driver.lost:
            return job
        if deadline is not None and time.monotonic() > deadline:
            return job
        time.sleep(poll)
