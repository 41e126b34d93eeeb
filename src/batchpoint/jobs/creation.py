"""``job create -f job.yml``: a job made from a YAML file, by the creator its ``type`` names (``jobs/kinds.py: CREATORS``).

A file without ``type`` is a command job when it has a ``command`` (as Azure reads it). ``--set``
pairs are applied to the mapping first, and ``--name`` wins over the file's ``name``.
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.common import overrides
from batchpoint.errors import InvalidInput
from batchpoint.jobs.kinds import CREATORS

if TYPE_CHECKING:
    from batchpoint.jobs.schemas import Job
    from batchpoint.services import Services


def job_type(data: dict[str, Any], file: str | None = None) -> str:
    kind = data.get("type")
    if kind is None:
        if "command" in data:
            return "command"
        if "jobs" in data:
            return "pipeline"
        raise InvalidInput("the job names no 'type' (command or pipeline)", field="type", file=file)
    if not isinstance(kind, str) or kind not in CREATORS:
        known = ", ".join(sorted(CREATORS))
        raise InvalidInput(f"unknown job type '{kind}' (job create makes: {known})", field="type", file=file)
    return kind


def creator(kind: str, file: str | None = None) -> Callable[..., Job]:
    module_name, _, function = CREATORS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
        found: Callable[..., Job] = getattr(module, function)
    except (ImportError, AttributeError):
        raise InvalidInput(f"{kind} jobs: not yet supported by this batchpoint", field="type", file=file) from None
    return found


def create_job(
    ctx: Services,
    data: dict[str, Any],
    *,
    base_dir: Path | None,
    file: str | None,
    name: str | None = None,
    set_pairs: list[tuple[str, Any]] | None = None,
    start: bool = True,
) -> Job:
    """Create (and with ``start`` launch) the job ``data`` describes; paths in it are relative to ``base_dir``."""
    if not isinstance(data, dict):
        raise InvalidInput("a job file holds a mapping", file=file)
    data = overrides.apply(copy.deepcopy(data), list(set_pairs or []))
    kind = job_type(data, file)
    make = creator(kind, file)
    options: dict[str, Any] = {"base_dir": base_dir, "file": file, "name": name}
    # A creator that does not take ``start`` always starts its job (the server then never queues it).
    if "start" in inspect.signature(make).parameters:
        options["start"] = start
    return make(ctx, data, **options)
