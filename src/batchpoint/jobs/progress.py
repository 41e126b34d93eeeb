"""A live progress display for ``job stream`` / ``invoke --stream``, then a summary.

Two lines, so that each stays readable in an 80-column terminal whatever the counts:

    Running ━━━━━━━━━━━━━━━━━╸━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 456/1234 mini-batches
      items: 1023 ok, 12 failed · 123.4 items/s · 0:00:05 elapsed, ~0:00:12 left

The bar takes the width the first line leaves (at most 60 columns); the second line wraps rather
than being cut.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from batchpoint.jobs.schemas import Job

if TYPE_CHECKING:
    from rich.console import ConsoleOptions, RenderResult

BAR_MAX_WIDTH = 60
BAR_MIN_WIDTH = 10


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


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    whole = int(max(seconds, 0))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def headline(job: Job) -> tuple[str, str]:
    """(state, mini-batch count) of the first line."""
    mb = job.progress.mini_batches
    total = str(mb.total) if mb.total else "?"
    return job.status.value, f"{mb.done + mb.failed}/{total} mini-batches"


def detail(job: Job, elapsed: float | None) -> str:
    """The second line: items, rate, time."""
    p = job.progress
    parts = [f"items: {p.items.succeeded} ok, {p.items.failed} failed"]
    if p.rate_items_per_second:
        parts.append(f"{p.rate_items_per_second:.1f} items/s")
    timing = f"{_clock(elapsed)} elapsed"
    if p.eta_seconds is not None:
        timing += f", ~{_clock(p.eta_seconds)} left"
    return "  " + " · ".join([*parts, timing])


class JobDisplay:
    """What the live display shows of the job as last polled (a rich renderable)."""

    def __init__(self, name: str) -> None:
        self.job: Job | None = None
        self.name = name
        self.started = time.monotonic()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        job = self.job
        if job is None:
            yield Text(f"Waiting for job {self.name}...")
            return
        state, count = headline(job)
        width = options.max_width
        bar_width = max(BAR_MIN_WIDTH, min(BAR_MAX_WIDTH, width - len(state) - len(count) - 4))
        mb = job.progress.mini_batches
        line = Table.grid(padding=(0, 1))
        line.add_column(no_wrap=True)
        line.add_column(no_wrap=True, width=bar_width)
        line.add_column(no_wrap=True)
        bar = ProgressBar(total=mb.total or None, completed=mb.done + mb.failed, width=bar_width)
        line.add_row(Text(state, style="bold"), bar, count)
        yield line
        elapsed = job.duration_seconds if job.duration_seconds is not None else time.monotonic() - self.started
        yield Text(detail(job, elapsed), overflow="fold")


def stream(waiter: _Waiter, name: str) -> Job:
    console = Console(file=sys.stderr)
    display = JobDisplay(name)
    if console.is_terminal:
        # Redrawn once per poll (``live.refresh`` below), not by rich's own thread several times a second.
        with Live(display, console=console, auto_refresh=False, transient=False) as live:

            def update(job: Job) -> None:
                display.job = job
                live.refresh()

            job = waiter.wait(name, on_update=update)
            display.job = job
    else:  # a file or a pipe: the final state once, not a redraw per poll
        display.job = job = waiter.wait(name)
        console.print(display)
    for line in summary_lines(job):
        sys.stderr.write(line + "\n")
    return job
