"""``job stream`` of a command job: the command's output (``user_logs/std_log.txt``) as it is written, then the state.

Embedded, the log file is read from where the last read stopped; through a server, the log is
fetched with ``job logs`` and what is new printed (each poll fetches the whole file: fine for the
logs of one command, not for gigabytes).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from batchpoint.errors import NotFound
from batchpoint.jobs.schemas import Job

LOG_FILE = "user_logs/std_log.txt"
POLL_SECONDS = 0.25


def summary_lines(job: Job) -> list[str]:
    lines = [f"Job {job.name}: {job.status.value}"]
    if job.message and job.message != job.status.value:
        lines.append(f"  {job.message}")
    if job.duration_seconds is not None:
        lines.append(f"  duration: {job.duration_seconds:.2f} s")
    for name, output in job.outputs.items() if job.status.value == "Completed" else ():
        lines.append(f"  output {name}: {output.file or output.path}")
    if job.logs_path:
        lines.append(f"  logs: {job.logs_path}")
    return lines


def stream(
    get: Callable[[str], Job],
    read_log: Callable[[str, str], str],
    name: str,
    *,
    local_logs: Path | None = None,
    out: IO[str] | None = None,
) -> Job:
    """Print the command's output until the job ends (or its driver is lost); returns the last view."""
    out = out or sys.stdout
    offset = 0
    while True:
        job = get(name)
        ended = job.status.terminal or job.driver.lost
        if local_logs is not None:
            offset = _print_local(local_logs / LOG_FILE, offset, out)
        else:
            try:
                text = read_log(name, LOG_FILE)
            except NotFound:
                text = ""
            out.write(text[offset:])
            offset = max(offset, len(text))
        out.flush()
        if ended:
            break
        time.sleep(POLL_SECONDS)
    for line in summary_lines(job):
        sys.stderr.write(line + "\n")
    return job


def _print_local(path: Path, offset: int, out: IO[str]) -> int:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return offset
    out.write(data.decode(errors="replace"))
    return offset + len(data)
