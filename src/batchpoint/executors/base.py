"""The executor contract: start workers, send them tasks, hear back, kill them.

The job engine owns everything else (leases, retries, timeouts, commits); an executor is only
transport and process management, so the same engine drives local processes and Ray actors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from batchpoint.executors.messages import TaskMessage, WorkerEvent

if TYPE_CHECKING:
    from batchpoint.executors.launch import Launched


class Executor(ABC):
    """A pool of worker slots. Worker ids are unique for the executor's lifetime (replacements get new ids)."""

    @abstractmethod
    def start_worker(self) -> str:
        """Start one worker (it will send ``Ready`` or ``InitFailed``); returns its id."""

    @abstractmethod
    def send(self, worker: str, task: TaskMessage) -> None:
        """Queue a task on a worker (workers run their tasks in order)."""

    @abstractmethod
    def poll(self, timeout: float) -> list[WorkerEvent]:
        """Wait up to ``timeout`` seconds and return what workers said, and which exited."""

    @abstractmethod
    def kill(self, worker: str) -> None:
        """Stop a worker at once (timeouts, cancel); an ``Exited`` event follows."""

    @abstractmethod
    def close(self, grace: float = 5.0) -> None:
        """Ask every worker to finish, then kill what is left after ``grace`` seconds."""

    def adopt(self, launched: Launched) -> bool:
        """Take over a worker process the driver started before this executor existed (``launch.prestart``).

        False (the default): this executor cannot use it, and the caller stops it. Only an executor
        of local processes can; it answers ``Ready`` or ``InitFailed`` for it as for its own.
        """
        return False

    def describe(self) -> dict[str, Any]:
        """What the job's logs should say about where it ran."""
        return {}

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
