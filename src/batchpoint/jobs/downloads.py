"""What ``job download`` hands out for a job in each state: the same embedded, over REST and in the remote client.

A job's output exists once the job has completed (its driver publishes it as a whole). Before that,
or for a job that Failed or was Canceled, a download is refused with the state in plain words
(``Conflict``, exit 2), unless the caller asks for what there is:

* ``partial``: the results of the mini-batches committed so far, merged in mini-batch order, under
  ``partial-outputs/<output name>/`` beside a ``README.txt`` that says they are not the job's output;
* ``all``: the job's logs (``artifacts/logs/``), and for a completed job every named output.

``az ml job download`` refuses a job that has not ended ("This job is in state Running. Download is
allowed only in states ..."); batchpoint says the same and names the flags that download what exists.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from batchpoint.errors import Conflict, NotFound
from batchpoint.jobs.schemas import Job, JobState

PARTIAL_DIR = "partial-outputs"
README = "README.txt"

Kind = Literal["output", "partial", "logs"]


@dataclass(frozen=True)
class Plan:
    """What one download copies: the named outputs, as the output or as partial results, and the logs."""

    kind: Kind
    outputs: list[str]
    logs: bool


def plan(job: Job, *, output_name: str | None = "score", all: bool = False, partial: bool = False) -> Plan:
    """The download of ``job`` these flags ask for; ``NotFound`` for an unknown output, ``Conflict`` when refused."""
    wanted = list(job.outputs) if all or output_name is None else [output_name]
    for out_name in wanted:
        if out_name not in job.outputs:
            raise NotFound(
                f"job '{job.name}' has no output named '{out_name}' (outputs: {', '.join(job.outputs)})",
                field="output_name",
            )
    if job.status is JobState.completed:
        return Plan("output", wanted, all)
    if partial:
        return Plan("partial", wanted, all)
    if all:
        return Plan("logs", [], True)
    raise refusal(job)


def refusal(job: Job) -> Conflict:
    """Why a job that has not completed has no output to download, and what can be downloaded instead."""
    name, state = job.name, job.status
    if state is JobState.failed:
        message = f"job '{name}' has no output: it Failed"
        hint = f"its logs say why: 'batchpoint job logs -n {name}', or download them with --all"
    elif state is JobState.canceled:
        message = f"job '{name}' has no output: it was Canceled"
        hint = f"download its logs with --all ('batchpoint job logs -n {name}' prints the summary)"
    elif state is JobState.cancel_requested:
        message = f"job '{name}' is being canceled; it will have no output"
        hint = "download its logs with --all"
    else:
        message = f"job '{name}' is {state.value}; its output appears when it completes"
        hint = f"follow it with 'batchpoint job stream -n {name}', or download its logs so far with --all"
    hint += f"; --partial downloads the mini-batches it has finished, into {PARTIAL_DIR}/"
    return Conflict(message, hint=hint, details={"status": state.value})


def merge_parts(parts: Iterable[str], target: Path) -> None:
    """Merge committed part files, in the order given, into ``target`` (replacing an earlier partial download)."""
    from batchpoint.batch import merge

    target.parent.mkdir(parents=True, exist_ok=True)
    # ``stage_parts`` never writes over a file: stage under a fresh folder, then move into place.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".bp-partial-") as tmp:
        staged = merge.stage_parts(parts, Path(tmp) / target.name)
        os.replace(staged.tmp, target)


def write_readme(dest: Path, job: Job, outputs: list[str]) -> Path:
    """``DEST/partial-outputs/README.txt``: what the folder holds, so that it is never taken for the output."""
    folder = dest / PARTIAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    mb = job.progress.mini_batches
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
    lines = [
        f"PARTIAL RESULTS of job {job.name}: this is not the job's output.",
        "",
        f"Downloaded at {when}, when the job was {job.status.value}, with {mb.done} of {mb.total} mini-batches "
        "committed.",
        f"Each folder ({', '.join(outputs)}) holds the rows of the committed mini-batches, in mini-batch order;",
        "mini-batches that failed or had not run yet are missing. Files the scoring script wrote itself into",
        "its output folder are not included.",
    ]
    if job.status is JobState.failed:
        lines.append(f"The job Failed: it has no output unless it is resumed ('batchpoint job resume -n {job.name}').")
    elif job.status in (JobState.canceled, JobState.cancel_requested):
        lines.append("The job was canceled: it will never have an output.")
    else:
        lines.append(
            f"The job's output is published as a whole when it completes: 'batchpoint job download -n {job.name}'."
        )
    path = folder / README
    path.write_text("\n".join(lines) + "\n")
    return path
