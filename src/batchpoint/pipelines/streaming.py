"""``job stream`` of a pipeline job: a line each time a step changes state, then the pipeline's summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO

from batchpoint.jobs.schemas import Job, JobStep

POLL_SECONDS = 0.1


def step_line(step: JobStep) -> str:
    words = f"step {step.name}: {step.status}"
    if step.reused_from:
        words += f" (reused from {step.reused_from})"
    elif step.job:
        words += f" (job {step.job})"
    if step.failure_reason and step.status in ("Failed", "Canceled"):
        words += f": {step.failure_reason}"
    return words


def summary_lines(job: Job) -> list[str]:
    lines = [f"Job {job.name}: {job.status.value}"]
    if job.message and job.message != job.status.value:
        lines.append(f"  {job.message}")
    if job.duration_seconds is not None:
        lines.append(f"  duration: {job.duration_seconds:.2f} s")
    reused = sum(1 for s in job.steps if s.reused_from)
    lines.append(f"  steps: {len(job.steps)} ({reused} reused)")
    for name, output in job.outputs.items() if job.status.value == "Completed" else ():
        lines.append(f"  output {name}: {output.path}")
    if job.logs_path:
        lines.append(f"  logs: {job.logs_path}")
    return lines


def stream(get: Callable[[str], Job], name: str, *, out: IO[str] | None = None) -> Job:
    """Print step changes until the pipeline ends (or its driver is lost); returns the last view."""
    out = out or sys.stderr
    seen: dict[str, str] = {}
    while True:
        job = get(name)
        for step in job.steps:
            line = step_line(step)
            if seen.get(step.name) != line and step.status != "NotStarted":
                seen[step.name] = line
                out.write(line + "\n")
        out.flush()
        if job.status.terminal or job.driver.lost:
            break
        time.sleep(POLL_SECONDS)
    for line in summary_lines(job):
        out.write(line + "\n")
    return job
