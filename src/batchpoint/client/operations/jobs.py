"""``client.jobs``: show, list, stream, cancel, resume, logs, download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.jobs.schemas import Job
from batchpoint.runs.schemas import MetricPoint

if TYPE_CHECKING:
    from batchpoint.contracts import ServiceHub
    from batchpoint.jobs.quickview import Follower


class JobOperations:
    """Batch jobs."""

    def __init__(self, services: ServiceHub) -> None:
        self._services = services

    def create(
        self,
        source: str | Path | dict[str, Any],
        *,
        name: str | None = None,
        set: list[str] | list[tuple[str, Any]] | dict[str, Any] | None = None,
        base_dir: str | Path | None = None,
    ) -> Job:
        """Create a command (or pipeline) job from a YAML file or its mapping, as ``az ml job create -f``; it starts
        at once (through a server: when its queue has room). ``set``: ``["inputs.lr=0.1", ...]`` overrides."""
        from batchpoint.jobs.invoke import normalise_overrides

        return self._services.jobs.create(
            source, name=name, set_pairs=normalise_overrides(set), base_dir=Path(base_dir) if base_dir else None
        )

    def get(self, name: str) -> Job:
        return self._services.jobs.get(name)

    show = get

    def get_metrics(self, name: str) -> dict[str, list[MetricPoint]]:
        """The metric histories of the job's MLflow run: ``{key: [MetricPoint(step, timestamp, value), ...]}``,
        each in the order of step, then time (what ``mlflow.log_metric`` in the job and batchpoint logged)."""
        return self._services.experiments.job_metrics(name)

    def list(
        self, *, endpoint_name: str | None = None, deployment_name: str | None = None, status: str | None = None,
        limit: int = 100, experiment_name: str | None = None, parent_job_name: str | None = None,
        job_type: str | None = None,
    ) -> list[Job]:  # fmt: skip
        """Jobs, newest first, at most ``limit``; each filter given narrows the list.

        ``parent_job_name`` lists the child jobs of a (pipeline) job and ``experiment_name`` the jobs of
        an experiment, as ``az ml job list --parent-job-name/--experiment-name`` do; ``job_type`` one kind.
        """
        return self._services.jobs.list(
            endpoint_name=endpoint_name, deployment_name=deployment_name, status=status, limit=limit,
            experiment_name=experiment_name, parent_job_name=parent_job_name, job_type=job_type,
        )  # fmt: skip

    def wait(self, name: str, *, timeout: float | None = None, on_update: Callable[[Job], None] | None = None) -> Job:
        """Poll until the job ends (or its driver is lost, or ``timeout`` passes); returns the last view."""
        follow = self._follower()
        if follow is None:
            return self._services.jobs.wait(name, timeout=timeout, on_update=on_update)
        try:
            final = follow.wait(name, timeout=timeout, on_update=on_update)
        finally:
            follow.close()
        if final.status.terminal:  # the polls read the job's row only; the end view has its run's data too
            final.metrics, final.params = self._services.experiments.run_data(final.run_id)  # type: ignore[attr-defined]
        return final

    def _follower(self) -> Follower | None:
        """Embedded on SQLite: each poll one ``SELECT`` over one read-only ``sqlite3`` connection.

        The same view as ``jobs.get`` (``jobs/views.py: to_job``), without an ORM session per poll; None
        (poll through the services) when remote or on PostgreSQL.
        """
        from batchpoint.services import Services

        services = self._services
        if not isinstance(services, Services) or not services.db.is_sqlite:
            return None
        database = services.db.engine.url.database
        if not database or database == ":memory:":
            return None
        import sqlite3

        from batchpoint.jobs.quickview import Follower, JobReader

        try:
            reader = JobReader(Path(database))
        except sqlite3.Error:
            return None
        return Follower(reader, services.layout.jobs, services.settings.engine, missing=services.jobs.get)

    def stream(self, name: str) -> Job:
        """Show a live progress bar (a command job: its output) until the job ends; returns the final job."""
        job = self.get(name)
        if job.type == "command":
            from batchpoint.command_jobs import streaming

            local = Path(job.logs_path) if job.logs_path and Path(job.logs_path).is_dir() else None
            return streaming.stream(self.get, self.logs, name, local_logs=local)
        if job.type == "pipeline":
            from batchpoint.pipelines import streaming as steps

            return steps.stream(self.get, name)
        from batchpoint.jobs.progress import stream

        return stream(self, name)

    def cancel(self, name: str) -> Job:
        return self._services.jobs.cancel(name)

    def resume(self, name: str) -> Job:
        return self._services.jobs.resume(name)

    def logs(self, name: str, file: str | None = None) -> str:
        return self._services.jobs.read_log(name, file)

    def download(
        self,
        name: str,
        *,
        output_name: str | None = None,
        download_path: str | Path = ".",
        all: bool = False,
        partial: bool = False,
    ) -> Path:
        """Download a completed job's output to ``download_path/named-outputs/<output name>/`` (default: every
        named output; ``all``: and the logs, under ``artifacts/logs/``); returns ``download_path``.

        A job that has not completed has no output: ``Conflict`` (its state in words), unless ``partial``
        (the mini-batches committed so far, into ``partial-outputs/``, with a README) or ``all`` (its logs).
        """
        return self._services.jobs.download(
            name, output_name=output_name, download_path=download_path, all=all, partial=partial
        )
