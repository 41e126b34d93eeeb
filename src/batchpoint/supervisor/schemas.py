"""What the supervisor reports: the health of each duty, and the status file of the background process."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class DutyState(StrEnum):
    running = "running"
    stopped = "stopped"
    failed = "failed"


class DutyHealth(BaseModel):
    """One duty as ``health()`` reports it."""

    name: str
    state: DutyState
    last_tick_at: datetime | None = None
    """When the duty last finished a pass (successful or not); None before its first."""
    detail: dict[str, Any] = Field(default_factory=dict)
    """Duty-specific numbers and the last error, e.g. ``{"waiting": 2}`` for the job queue."""


class SupervisorHealth(BaseModel):
    """The duties of a running supervisor (the server's ``GET /health`` shows it to owner tokens)."""

    mode: str
    duties: list[DutyHealth] = Field(default_factory=list)


class SupervisorStatus(BaseModel):
    """The background process's status file (``state/supervisor/status.json``), rewritten every heartbeat."""

    pid: int
    workspace: str
    mode: str
    version: str
    state: str
    """``running``, or ``stopping`` once a stop was asked for."""
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_seconds: float
    """How often the file is rewritten; a reader takes a heartbeat older than a few of these as unresponsive."""
    duties: list[DutyHealth] = Field(default_factory=list)
