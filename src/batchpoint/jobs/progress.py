"""A live progress bar for ``job stream`` / ``invoke --stream``, then a summary."""

from __future__ import annotations

import sys
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from batchpoint.jobs.schemas import Job


class _Waiter(Protocol):
    def wait(self, name: str, *, timeout: float | None = None, on_update: Any = None) -> Job: ...


def summary_lines(job: Job) -> list[str]:
    p = job.progress
    lines = [
        f"Job {job.name}: {job.status.value}",
        f"  mini-batches: {p.mini_batches.done} succeeded, {p.mini_batches.failed} failed of {p.mini_batches.total}",
        f"  items:        {p.items.succeeded} succeeded, {p.items.failed} failed of {p.items.total}",
        f"  retries:      {p.retries}",
    ]
    if job.duration_seconds is not None:
        lines.append(f"  duration:     {job.duration_seconds:.2f} s")
    if job.message and job.status.value not in ("Completed",):
        lines.append(f"  {job.message}")
    if job.error and job.status.value != "Completed" and str(job.error.get("message")) not in (job.message or ""):
        err = job.error
        where = f" in {err['file']}" if err.get("file") else ""
        lines.append(f"  first error{where}: {err.get('exception')}: {err.get('message')}")
    out = job.outputs.get("score")
    if out is not None and job.status.value == "Completed":
        lines.append(f"  output:       {out.file or out.path}")
    if job.logs_path:
        lines.append(f"  logs:         {job.logs_path}")
    return lines


def stream(waiter: _Waiter, name: str) -> Job:
    console = Console(file=sys.stderr)
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("mini-batches · {task.fields[items]} · {task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    # Redrawn once per poll (``bar.refresh`` below), not by rich's own thread 10 times a second.
    with Progress(*columns, console=console, transient=False, auto_refresh=False) as bar:
        task = bar.add_task(name, total=None, items="", rate="")

        def update(job: Job) -> None:
            p = job.progress
            rate = f"{p.rate_items_per_second:.1f} items/s" if p.rate_items_per_second else ""
            items = f"{p.items.succeeded} ok / {p.items.failed} failed items"
            bar.update(
                task,
                total=p.mini_batches.total or None,
                completed=p.mini_batches.done + p.mini_batches.failed,
                description=f"{job.status.value}",
                items=items,
                rate=rate,
            )
            bar.refresh()

        job = waiter.wait(name, on_update=update)
    for line in summary_lines(job):
        sys.stderr.write(line + "\n")
    return job
