"""Reading and writing MLflow's tracking tables with SQLAlchemy Core, without importing mlflow.

MLflow takes seconds to import; a job's run is created, ended and read on batchpoint's hot paths
(creating a job, a driver's end, ``job show``), so those write the rows MLflow's own store would
write. The schema is MLflow's (created by ``runs/tracking.py: open_tracking_db``); its columns are
reflected once per tracking database, because they differ between MLflow versions (3.x adds
``experiments.workspace``, whose default lives in Python). Every NOT NULL value MLflow's store
supplies itself is supplied here too. ``tests/integration/runs`` reads these rows back with the
stock ``MlflowClient``, so a mismatch with MLflow's schema fails there.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, MetaData, Table, func, select
from sqlalchemy.exc import IntegrityError

from batchpoint.errors import NotFound

TABLES = ("experiments", "runs", "tags", "params", "metrics", "latest_metrics")
#: MLflow's limits on a tag's or param's key and value (longer values are cut, not refused).
KEY_MAX, PARAM_MAX, TAG_MAX = 250, 6000, 8000
DEFAULT_EXPERIMENT = "Default"
#: Run statuses as MLflow names them (``mlflow.entities.RunStatus``).
RUNNING, FINISHED, FAILED, KILLED = "RUNNING", "FINISHED", "FAILED", "KILLED"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Tables:
    """MLflow's tables of one tracking database, as reflected (columns differ between versions)."""

    experiments: Table
    runs: Table
    tags: Table
    params: Table
    metrics: Table
    latest_metrics: Table

    @classmethod
    def reflect(cls, conn: Connection) -> Tables:
        meta = MetaData()
        meta.reflect(conn, only=TABLES)
        return cls(*(meta.tables[name] for name in TABLES))


@dataclass(frozen=True)
class RunRow:
    run_id: str
    experiment_id: str
    artifact_uri: str
    status: str


# -- experiments -------------------------------------------------------------------------------------
def experiment_id(conn: Connection, t: Tables, name: str) -> str | None:
    ex = t.experiments
    query = select(ex.c.experiment_id).where(ex.c.name == name)
    if "workspace" in ex.c:
        query = query.where(ex.c.workspace == "default")
    found = conn.execute(query).scalar()
    return None if found is None else str(found)


def experiment_name(conn: Connection, t: Tables, experiment_id: str) -> str | None:
    ex = t.experiments
    found = conn.execute(select(ex.c.name).where(ex.c.experiment_id == int(experiment_id))).scalar()
    return None if found is None else str(found)


def ensure_experiment(conn: Connection, t: Tables, name: str, artifact_root_uri: str) -> str:
    """The experiment's id, created (as MLflow's store creates one) when it does not exist."""
    found = experiment_id(conn, t, name)
    if found is not None:
        return found
    ex, now = t.experiments, now_ms()
    values: dict[str, Any] = {"name": name, "lifecycle_stage": "active", "creation_time": now, "last_update_time": now}
    if "workspace" in ex.c:
        values["workspace"] = "default"
    try:
        with conn.begin_nested():
            new_id = conn.execute(ex.insert().values(values)).inserted_primary_key[0]  # type: ignore[index]
    except IntegrityError:  # another process created it in the meantime
        again = experiment_id(conn, t, name)
        if again is None:
            raise
        return again
    # MLflow sets the location once the id is known: <root>/<experiment id>.
    location = f"{artifact_root_uri.rstrip('/')}/{new_id}"
    conn.execute(ex.update().where(ex.c.experiment_id == new_id).values(artifact_location=location))
    return str(new_id)


def experiments(conn: Connection, t: Tables, name: str | None = None) -> list[dict[str, Any]]:
    """Active experiments (one when ``name`` is given), with their run counts, oldest first."""
    ex, runs = t.experiments, t.runs
    counts = (
        select(runs.c.experiment_id, func.count().label("runs"))
        .where(runs.c.lifecycle_stage == "active")
        .group_by(runs.c.experiment_id)
        .subquery()
    )
    query = (
        select(ex, func.coalesce(counts.c.runs, 0).label("run_count"))
        .outerjoin(counts, counts.c.experiment_id == ex.c.experiment_id)
        .where(ex.c.lifecycle_stage == "active")
        .order_by(ex.c.experiment_id)
    )
    if "workspace" in ex.c:
        query = query.where(ex.c.workspace == "default")
    if name is not None:
        query = query.where(ex.c.name == name)
    return [dict(r._mapping) for r in conn.execute(query)]


# -- runs --------------------------------------------------------------------------------------------
def create_run(
    conn: Connection,
    t: Tables,
    *,
    experiment_id: str,
    name: str,
    user: str | None,
    source_type: str = "JOB",
    tags: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    status: str = RUNNING,
) -> str:
    """A new run (its id): the row, its tags and params, as ``SqlAlchemyStore.create_run`` writes them."""
    location = conn.execute(
        select(t.experiments.c.artifact_location).where(t.experiments.c.experiment_id == int(experiment_id))
    ).scalar()
    run_id = uuid.uuid4().hex
    conn.execute(
        t.runs.insert().values(
            run_uuid=run_id, name=name[:250], source_type=source_type, source_name="", entry_point_name="",
            user_id=user or "", status=status, start_time=now_ms(), end_time=None, source_version="",
            lifecycle_stage="active", artifact_uri=f"{location}/{run_id}/artifacts", experiment_id=int(experiment_id),
        )
    )  # fmt: skip
    set_tags(conn, t, run_id, tags or {})
    if params:
        rows = [{"key": k[:KEY_MAX], "value": str(v)[:PARAM_MAX], "run_uuid": run_id} for k, v in params.items()]
        conn.execute(t.params.insert(), rows)
    return run_id


def set_tags(conn: Connection, t: Tables, run_id: str, tags: Mapping[str, str]) -> None:
    if not tags:
        return
    keys = [k[:KEY_MAX] for k in tags]
    conn.execute(t.tags.delete().where(t.tags.c.run_uuid == run_id, t.tags.c.key.in_(keys)))
    rows = [{"key": k[:KEY_MAX], "value": str(v)[:TAG_MAX], "run_uuid": run_id} for k, v in tags.items()]
    conn.execute(t.tags.insert(), rows)


def tags(conn: Connection, t: Tables, run_id: str, prefix: str = "") -> dict[str, str]:
    query = select(t.tags.c.key, t.tags.c.value).where(t.tags.c.run_uuid == run_id)
    if prefix:
        query = query.where(t.tags.c.key.startswith(prefix))
    return dict(conn.execute(query).all())


def run(conn: Connection, t: Tables, run_id: str) -> RunRow:
    r = t.runs
    found = conn.execute(
        select(r.c.run_uuid, r.c.experiment_id, r.c.artifact_uri, r.c.status).where(r.c.run_uuid == run_id)
    ).first()
    if found is None:
        raise NotFound(f"run '{run_id}' does not exist", field="run_id")
    return RunRow(found.run_uuid, str(found.experiment_id), found.artifact_uri, found.status)


def end_run(conn: Connection, t: Tables, run_id: str, status: str, end_ms: int | None = None) -> bool:
    """Set the run's final status and end time (RUNNING: no end time); False when there is no such run."""
    end = None if status == RUNNING else end_ms or now_ms()
    result = conn.execute(t.runs.update().where(t.runs.c.run_uuid == run_id).values(status=status, end_time=end))
    return bool(result.rowcount)


# -- metrics and params ------------------------------------------------------------------------------
def finite(values: Mapping[str, float]) -> dict[str, float]:
    """The values that are finite numbers: batchpoint's own figures never log NaN or infinity."""
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and math.isfinite(v)}


def log_metrics(
    conn: Connection, t: Tables, run_id: str, values: Mapping[str, float], *, step: int = 0, at_ms: int | None = None
) -> None:
    """One value per key at ``step``, and the latest value per key (as MLflow's ``log_batch``)."""
    clean = finite(values)
    if not clean:
        return
    at = at_ms or now_ms()
    rows = [
        {"key": k[:KEY_MAX], "value": v, "timestamp": at, "step": step, "is_nan": False, "run_uuid": run_id}
        for k, v in clean.items()
    ]
    conn.execute(t.metrics.insert(), rows)
    lm = t.latest_metrics
    current = {
        r.key: (r.step, r.timestamp, r.value)
        for r in conn.execute(
            select(lm.c.key, lm.c.step, lm.c.timestamp, lm.c.value).where(
                lm.c.run_uuid == run_id, lm.c.key.in_(list(clean))
            )
        )
    }
    for row in rows:
        old = current.get(row["key"])
        if old is None:
            conn.execute(lm.insert().values(row))
        elif (step, at, row["value"]) >= old:  # MLflow's rule: the greatest (step, timestamp, value) is latest
            conn.execute(lm.update().where(lm.c.run_uuid == run_id, lm.c.key == row["key"]).values(row))


def latest_metrics(conn: Connection, t: Tables, run_id: str) -> dict[str, float]:
    lm = t.latest_metrics
    query = select(lm.c.key, lm.c.value, lm.c.is_nan).where(lm.c.run_uuid == run_id).order_by(lm.c.key)
    return {k: (math.nan if nan else float(v)) for k, v, nan in conn.execute(query)}


def params(conn: Connection, t: Tables, run_id: str) -> dict[str, str]:
    p = t.params
    return dict(conn.execute(select(p.c.key, p.c.value).where(p.c.run_uuid == run_id).order_by(p.c.key)).all())


def metric_history(conn: Connection, t: Tables, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every logged value per key, in the order of step, then timestamp."""
    m = t.metrics
    query = (
        select(m.c.key, m.c.step, m.c.timestamp, m.c.value, m.c.is_nan)
        .where(m.c.run_uuid == run_id)
        .order_by(m.c.key, m.c.step, m.c.timestamp)
    )
    history: dict[str, list[dict[str, Any]]] = {}
    for key, step, at, value, nan in conn.execute(query):
        history.setdefault(key, []).append(
            {"step": int(step), "timestamp": int(at), "value": math.nan if nan else float(value)}
        )
    return history
