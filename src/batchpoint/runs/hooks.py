"""The end of a job ends its MLflow run: the state machine's hook, installed on the metadata database.

``jobs/lifecycle.py: transition`` sees every final transition (a driver's end, a cancel, a step
created Completed) and, once its transaction has committed, hands the job's run to the hook this
module installs on the workspace's database (``Database.info``). Standard library only: the
services install it on every start.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchpoint.workspace import Workspace

log = logging.getLogger(__name__)

JOB_END = "batchpoint.job_end"
"""The ``Session.info`` key of the hook: called with ``[(run_id, job state), ...]`` after a commit
that ended jobs (or reopened a Failed one)."""
STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED"}
"""A final job state → the MLflow run status (any other: RUNNING, a Failed job resumed)."""


def install(workspace: Workspace) -> None:
    workspace.db.info.setdefault(JOB_END, functools.partial(_record_end, workspace))


def _record_end(workspace: Workspace, ended: list[tuple[str, str]]) -> None:
    from batchpoint.services import Services

    runs = [(run_id, STATUS.get(state, "RUNNING")) for run_id, state in ended]
    Services(workspace).runs.end_runs(runs)
