"""Typed messages between the driver and its workers.

Workers speak JSON lines with the standard library only (see ``batchpoint.runtime``); the driver
validates what arrives into these models, so a malformed message is a clear error, not a KeyError.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter


class ErrorInfo(BaseModel):
    exception: str
    message: str
    traceback: str = ""
    file: str | None = None


class TaskMessage(BaseModel):
    """Driver → worker: score one mini-batch under a lease token."""

    t: Literal["task"] = "task"
    mb: int
    token: str
    attempt: int
    files: list[str]
    part: str


class Ready(BaseModel):
    t: Literal["ready"]
    pid: int


class InitFailed(BaseModel):
    t: Literal["init_failed"]
    pid: int
    error: ErrorInfo
    phase: Literal["load", "init"] = "init"
    """``load``: the script could not be loaded at all (it does not compile, an import failed, it has no
    ``run``), which no new worker can change; ``init``: ``init()`` (or the script's top-level code) raised."""


class Heartbeat(BaseModel):
    t: Literal["hb"]


class TaskResult(BaseModel):
    """Worker → driver: the outcome of one attempt."""

    t: Literal["result"]
    mb: int
    token: str
    ok: bool
    returned: int = 0
    part_size: int | None = None
    elapsed: float = 0.0
    error: ErrorInfo | None = None
    item_errors: list[dict[str, Any]] = Field(default_factory=list)
    fault: Literal["no_space"] | None = None
    """Set when the attempt failed because of the machine (a full disk), not because of the input."""


WorkerMessage = Annotated[Ready | InitFailed | Heartbeat | TaskResult, Field(discriminator="t")]
WORKER_MESSAGE: TypeAdapter[Ready | InitFailed | Heartbeat | TaskResult] = TypeAdapter(WorkerMessage)


class Exited(BaseModel):
    """Not a message: the executor's notice that a worker process is gone."""

    t: Literal["exited"] = "exited"
    returncode: int | None


class WorkerEvent(BaseModel):
    worker: str
    message: Ready | InitFailed | Heartbeat | TaskResult | Exited
