"""RunService (``ctx.runs``, ``ctx.experiments``): experiments, each job's MLflow run, its metrics and params.

Every job is a run of MLflow's tracking store (``runs/tracking.py``): created with the job's row
(``JobService._add``), ended with the job (``runs/hooks.py``, from the state machine), read by
``job show``. batchpoint writes the rows with SQLAlchemy Core (``runs/records.py``): mlflow itself is
imported only the first time a workspace's store is created. Recording a run is never worth a job:
a failure to write one is logged and the job goes on without it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from batchpoint.errors import InvalidInput, MissingExtra, NotFound
from batchpoint.runs import records
from batchpoint.runs.schemas import Experiment, MetricPoint
from batchpoint.runs.tracking import artifact_root, holds_secret, open_tracking_db, tracking_url
from batchpoint.store.db import Database

if TYPE_CHECKING:
    from batchpoint.services import Services

log = logging.getLogger(__name__)
T = TypeVar("T")
_OPEN = threading.Lock()


@dataclass(frozen=True)
class Tracking:
    """One workspace's open tracking store and its reflected tables (kept on the ``Workspace``)."""

    db: Database
    tables: records.Tables


@dataclass(frozen=True)
class JobRun:
    """What a job's run is made of (``runs/jobruns.py`` derives it from the job's row)."""

    name: str
    experiment: str
    user: str | None
    tags: dict[str, str]
    params: dict[str, str]


class RunService:
    """Experiments and runs of one workspace."""

    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx

    # -- the store ---------------------------------------------------------------------------------
    def tracking(self) -> Tracking:
        """The store, its schema created the first time (MLflow's own store: seconds, once per workspace).

        One per workspace and process: the server's per-request services share it.
        """
        workspace = self.ctx.workspace
        found: Tracking | None = getattr(workspace, "tracking", None)
        if found is not None:
            return found
        with _OPEN:
            found = getattr(workspace, "tracking", None)
            if found is None:
                why: str | None = getattr(workspace, "tracking_unavailable", None)
                if why:  # asked once per process: not again for each job
                    raise MissingExtra(why)
                try:
                    db = open_tracking_db(self.ctx)
                except ImportError as exc:  # the store is created by MLflow's own code: the mlflow extra
                    why = workspace.tracking_unavailable = f"jobs are not recorded as MLflow runs: {exc}"
                    raise MissingExtra(why, hint="pip install 'batchpoint[mlflow]'") from None
                with db.engine.connect() as conn:
                    found = Tracking(db, records.Tables.reflect(conn))
                workspace.tracking = found
        return found

    def existing(self) -> Tracking | None:
        """The store if it exists (no schema is created, mlflow never imported): for reads."""
        found: Tracking | None = getattr(self.ctx.workspace, "tracking", None)
        if found is not None:
            return found
        if self.ctx.db.is_sqlite and not (self.ctx.layout.root / "tracking.db").is_file():
            return None
        db = Database(tracking_url(self.ctx), auto_migrate=False)
        try:
            with db.engine.connect() as conn:
                tables = records.Tables.reflect(conn)
        except SQLAlchemyError:  # not created yet (or being created)
            db.dispose()
            return None
        with _OPEN:
            if getattr(self.ctx.workspace, "tracking", None) is None:
                self.ctx.workspace.tracking = Tracking(db, tables)
            else:  # another thread opened it meanwhile
                db.dispose()
        return self.ctx.workspace.tracking

    def _write(self, work: Callable[[Connection, records.Tables], T]) -> T:
        tracking = self.tracking()
        # A write session: BEGIN IMMEDIATE on SQLite, so that writers (jobs' MLflow clients, drivers)
        # queue on the busy timeout rather than fail upgrading a read lock.
        with tracking.db.session() as session:
            return work(session.connection(), tracking.tables)

    def _read(self, work: Callable[[Connection, records.Tables], T]) -> T | None:
        """What ``work`` reads; None when there is no store yet."""
        tracking = self.existing()
        if tracking is None:
            return None
        with tracking.db.engine.connect() as conn:
            return work(conn, tracking.tables)

    # -- a job's run -------------------------------------------------------------------------------
    def start_job_run(self, run: JobRun) -> str | None:
        """Create the job's run (and its experiment); its id, or None when it could not be written."""
        root = artifact_root(self.ctx).as_uri()

        def create(conn: Connection, t: records.Tables) -> str:
            experiment = records.ensure_experiment(conn, t, run.experiment, root)
            return records.create_run(
                conn, t, experiment_id=experiment, name=run.name, user=run.user, tags=run.tags, params=run.params
            )

        try:
            return self._write(create)
        except MissingExtra as exc:
            log.info("%s", exc)
        except Exception as exc:  # a warning, not a traceback: the CLI user's job is created all the same
            log.warning("the MLflow run of job %s was not recorded: %s", run.name, exc, exc_info=_debug())
        return None

    def end_runs(self, ended: Iterable[tuple[str, str]]) -> None:
        """Give each run (``run_id``, MLflow status) its final status and end time; never raises."""
        todo = list(ended)
        try:
            self._write(lambda conn, t: [records.end_run(conn, t, run_id, status) for run_id, status in todo])
        except Exception as exc:
            log.warning("the end of MLflow runs %s was not recorded: %s", [r for r, _ in todo], exc, exc_info=_debug())

    def log_figures(self, run_id: str | None, values: Mapping[str, float]) -> None:
        """Log batchpoint's own figures of a job (a batch job's counts) as metrics; never raises."""
        if not run_id:
            return
        try:
            self._write(lambda conn, t: records.log_metrics(conn, t, run_id, values))
        except Exception as exc:
            log.warning("the metrics of run %s were not recorded: %s", run_id, exc, exc_info=_debug())

    def parent_tags(self, run_id: str, prefixes: tuple[str, ...]) -> dict[str, str]:
        """A run's tags under ``prefixes`` (a pipeline step inherits its pipeline's git tags); never raises."""
        try:
            found = self._read(lambda conn, t: records.tags(conn, t, run_id)) or {}
        except Exception as exc:
            log.warning("the tags of run %s could not be read: %s", run_id, exc, exc_info=_debug())
            return {}
        return {k: v for k, v in found.items() if k.startswith(prefixes)}

    def job_environment(self, job_name: str, *, own_user: bool = True) -> dict[str, str]:
        """The variables a job's code gets so that the stock MLflow client logs into the job's run.

        ``MLFLOW_TRACKING_URI``, ``MLFLOW_RUN_ID`` (``mlflow.start_run()`` resumes that run),
        ``MLFLOW_EXPERIMENT_ID`` and ``_NAME``; none for a job without a run. Never raises.
        ``own_user`` False: the code runs as another OS user (batchpoint as root drops its workers'
        privileges), who must not write the workspace's SQLite files: nothing is set then (MLflow
        in that code logs to its own default store), see docs/runs.md.
        """
        if not own_user and self.ctx.db.is_sqlite:
            log.info("job %s runs as another user: its code gets no MLFLOW_TRACKING_URI", job_name)
            return {}
        url = tracking_url(self.ctx)
        if holds_secret(url):
            # The database's password would reach the job's code, and with it batchpoint's own tables.
            log.info(
                "job %s: the tracking store's URL holds a password; its code gets no MLFLOW_TRACKING_URI", job_name
            )
            return {}
        try:
            run_id = self.ctx.jobs.run_id(job_name)
        except NotFound:
            return {}
        if not run_id:
            return {}
        try:
            found = self._read(lambda conn, t: _run_and_experiment(conn, t, run_id))
        except Exception as exc:
            log.warning("the MLflow run %s of job %s could not be read: %s", run_id, job_name, exc, exc_info=_debug())
            return {}
        if found is None:
            return {}
        experiment_id, experiment_name = found
        return {
            "MLFLOW_TRACKING_URI": url,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_ID": experiment_id,
            "MLFLOW_EXPERIMENT_NAME": experiment_name,
        }

    # -- reading -----------------------------------------------------------------------------------
    def run_data(self, run_id: str | None) -> tuple[dict[str, float], dict[str, str]]:
        """The run's latest metric values and its params (empty before the store exists)."""
        if not run_id:
            return {}, {}

        def read(conn: Connection, t: records.Tables) -> tuple[dict[str, float], dict[str, str]]:
            return records.latest_metrics(conn, t, run_id), records.params(conn, t, run_id)

        try:
            return self._read(read) or ({}, {})
        except Exception as exc:  # job show shows the job whatever the state of its run
            log.warning("the MLflow run %s could not be read: %s", run_id, exc, exc_info=_debug())
            return {}, {}

    def metric_history(self, run_id: str | None) -> dict[str, list[MetricPoint]]:
        if not run_id:
            return {}
        history = self._read(lambda conn, t: records.metric_history(conn, t, run_id)) or {}
        return {key: [MetricPoint.model_validate(p) for p in points] for key, points in history.items()}

    def job_metrics(self, job_name: str) -> dict[str, list[MetricPoint]]:
        """The metric histories of a job's run (``client.jobs.get_metrics``): every value per key, by step."""
        return self.metric_history(self.ctx.jobs.run_id(job_name))

    def artifact_dir(self, run_id: str) -> Path | None:
        """The run's local artifact folder (where ``mlflow.log_artifact`` writes), if it is one."""
        try:
            uri = self._read(lambda conn, t: records.run(conn, t, run_id).artifact_uri)
        except NotFound:
            return None
        if not uri or not uri.startswith("file://"):
            return None
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(uri).path))

    # -- experiments -------------------------------------------------------------------------------
    def list_experiments(self) -> list[Experiment]:
        rows = self._read(lambda conn, t: records.experiments(conn, t)) or []
        return [_experiment(r) for r in rows]

    def get_experiment(self, name: str) -> Experiment:
        if not name or len(name) > 256:
            raise InvalidInput("an experiment name has 1 to 256 characters", field="name")
        rows = self._read(lambda conn, t: records.experiments(conn, t, name)) or []
        if not rows:
            raise NotFound(f"experiment '{name}' does not exist", field="name")
        return _experiment(rows[0])


def _debug() -> bool:
    """Tracebacks only when debugging: these are warnings about a side record, on the CLI user's terminal."""
    return log.isEnabledFor(logging.DEBUG)


def _run_and_experiment(conn: Connection, t: records.Tables, run_id: str) -> tuple[str, str] | None:
    try:
        found = records.run(conn, t, run_id)
    except NotFound:
        return None
    name = records.experiment_name(conn, t, found.experiment_id)
    return None if name is None else (found.experiment_id, name)


def _experiment(row: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(row["experiment_id"]),
        name=row["name"],
        artifact_location=row.get("artifact_location"),
        lifecycle_stage=row.get("lifecycle_stage") or "active",
        creation_time=row.get("creation_time"),
        last_update_time=row.get("last_update_time"),
        run_count=int(row.get("run_count") or 0),
    )
