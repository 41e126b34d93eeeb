"""Turn a stored job row into the ``Job`` users see, with its state explained in plain words."""

from __future__ import annotations

import json
import time
from typing import Any

from batchpoint.common.timefmt import to_datetime
from batchpoint.config import EngineSettings
from batchpoint.jobs.schemas import (
    Counts,
    DriverInfo,
    ItemCounts,
    Job,
    JobInput,
    JobOutput,
    JobState,
    Progress,
    RunSpec,
)
from batchpoint.store.tables import JobRow


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def driver_info(row: JobRow, engine: EngineSettings, now: float) -> DriverInfo:
    base = row.heartbeat_at or row.created_at
    age = max(0.0, now - base)
    terminal = JobState(row.state).terminal
    alive = not terminal and age <= engine.driver_stale_seconds
    return DriverInfo(
        pid=row.driver_pid,
        host=row.driver_host,
        epoch=row.driver_epoch,
        heartbeat_age_seconds=round(age, 3) if row.heartbeat_at else None,
        alive=alive,
        lost=not terminal and not alive,
    )


def _progress(row: JobRow, now: float) -> Progress:
    finished = row.mb_done + row.mb_failed
    items_done = row.items_ok + row.items_failed
    rate = eta = None
    if row.started_at and items_done:
        elapsed = (row.ended_at or now) - row.started_at
        rate = round(items_done / max(elapsed, 1e-6), 2)
        remaining = max(row.items_total - items_done, 0)
        eta = round(remaining / rate, 1) if rate and not JobState(row.state).terminal else None
    return Progress(
        mini_batches=Counts(
            total=row.mb_total, done=row.mb_done, failed=row.mb_failed, pending=row.mb_total - finished
        ),
        items=ItemCounts(total=row.items_total, succeeded=row.items_ok, failed=row.items_failed),
        retries=row.retries,
        rate_items_per_second=rate,
        eta_seconds=eta,
    )


def _message(row: JobRow, driver: DriverInfo) -> str:
    state = JobState(row.state)
    if state is JobState.failed:
        return f"Failed: {row.failure_reason or 'see logs'}"
    if state is JobState.canceled:
        return "Canceled" + (f": {row.failure_reason}" if row.failure_reason else "")
    if state is JobState.completed:
        return f"Completed: {row.items_ok} item(s) succeeded, {row.items_failed} failed"
    if driver.lost:
        age = driver.heartbeat_age_seconds
        since = f"no heartbeat for {age:.0f} s" if age is not None else "it never started"
        return f"driver lost ({since}); continue with 'batchpoint job resume -n {row.name}'"
    return state.value


def to_job(row: JobRow, engine: EngineSettings, logs_path: str | None = None) -> Job:
    now = time.time()
    spec = RunSpec.model_validate(row.spec)
    driver = driver_info(row, engine, now)
    inputs: dict[str, JobInput] = {"input_data": spec.input}
    outputs: dict[str, JobOutput] = {"score": spec.output}
    ended = row.ended_at
    duration = None if not row.started_at else round((ended or now) - row.started_at, 3)
    return Job(
        name=row.name,
        type=row.type,
        status=JobState(row.state),
        endpoint_name=row.endpoint_name,
        deployment_name=row.deployment_name,
        experiment_name=row.experiment_name,
        inputs=inputs,
        outputs=outputs,
        settings=spec.settings,
        progress=_progress(row, now),
        error=_loads(row.error),
        failure_reason=row.failure_reason,
        message=_message(row, driver),
        driver=driver,
        environment=_loads(row.environment),
        logs_path=logs_path,
        invoked_by=row.invoked_by,
        created_at=to_datetime(row.created_at),
        started_at=to_datetime(row.started_at),
        ended_at=to_datetime(ended),
        duration_seconds=duration,
    )
