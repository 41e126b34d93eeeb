"""``client.jobs``: show, list, stream, cancel, resume, logs, download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from batchpoint.jobs.schemas import Job

if TYPE_CHECKING:
    from batchpoint.services import Services


#: How many of the newest jobs an ``experiment_name`` filter looks through (the server's largest page).
EXPERIMENT_WINDOW = 1000


class JobOperations:
    """Batch jobs."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def get(self, name: str) -> Job:
        return self._services.jobs.get(name)

    show = get

    def list(
        self, *, endpoint_name: str | None = None, deployment_name: str | None = None, status: str | None = None,
        limit: int = 100, experiment_name: str | None = None, parent_job_name: str | None = None,
    ) -> list[Job]:  # fmt: skip
        """Jobs, newest first, at most ``limit``.

        ``experiment_name`` is filtered here, not by the service (which has no such filter): among the
        newest ``max(limit, 1000)`` jobs that match the other filters, so an experiment whose jobs are all
        older than that shows none. ``parent_job_name`` lists the child jobs of a (pipeline) job, as
        ``az ml job list --parent-job-name`` does; batch jobs have no children, so it is always empty.
        """
        if parent_job_name is not None:
            return []
        window = limit if experiment_name is None else max(limit, EXPERIMENT_WINDOW)
        jobs = self._services.jobs.list(
            endpoint_name=endpoint_name, deployment_name=deployment_name, status=status, limit=window
        )
        if experiment_name is not None:
            jobs = [job for job in jobs if job.experiment_name == experiment_name]
        return jobs[:limit]

    def wait(self, name: str, *, timeout: float | None = None, on_update: Callable[[Job], None] | None = None) -> Job:
        return self._services.jobs.wait(name, timeout=timeout, on_update=on_update)

    def stream(self, name: str) -> Job:
        """Show a live progress bar until the job ends; returns the final job."""
        from batchpoint.jobs.progress import stream

        return stream(self, name)

    def cancel(self, name: str) -> Job:
        return self._services.jobs.cancel(name)

    def resume(self, name: str) -> Job:
        return self._services.jobs.resume(name)

    def logs(self, name: str, file: str | None = None) -> str:
        return self._services.jobs.read_log(name, file)

    def download(
        self, name: str, *, output_name: str | None = "score", download_path: str | Path = ".", all: bool = False
    ) -> Path:
        return self._services.jobs.download(name, output_name=output_name, download_path=download_path, all=all)
