"""Turn a stored job row into the ``Job`` users see, with its state explained in plain words.

A row is the ORM's ``JobRow`` (the services) or a plain mapping of the ``jobs`` table's column names
to their values as the ORM would load them (JSON columns decoded), e.g. a ``sqlite3`` row as a dict
(``jobs/quickview.py``, the light read path of ``batchpoint job show``). Both go through the same
functions, so both show the same job. This module imports neither SQLAlchemy nor the settings.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from batchpoint.common.processes import pid_alive
from batchpoint.common.timefmt import to_datetime
from batchpoint.jobs.schemas import (
    Counts,
    DriverInfo,
    ItemCounts,
    Job,
    JobEvent,
    JobInput,
    JobOutput,
    JobState,
    JobStep,
    Progress,
    RunSpec,
)

if TYPE_CHECKING:
    from batchpoint.command_jobs.runspec import ResolvedOutput
    from batchpoint.endpoints.settings import BatchDeploymentSettings
    from batchpoint.store.tables import JobRow


class StaleAfter(Protocol):
    """What the view needs of the engine settings (``config.EngineSettings`` is one)."""

    @property
    def driver_stale_seconds(self) -> float: ...


class _Attributes(Mapping[str, Any]):
    """An ORM row read as a mapping of its column values."""

    def __init__(self, row: object) -> None:
        self._row = row

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self._row, key)
        except AttributeError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(k for k in vars(self._row) if not k.startswith("_"))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def fields(row: JobRow | Mapping[str, Any]) -> Mapping[str, Any]:
    """The row's columns by name, whichever form it comes in."""
    return row if isinstance(row, Mapping) else _Attributes(row)


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def process_gone(pid: int | None, host: str | None) -> bool:
    """A driver of this host whose process no longer runs (or is a zombie)."""
    return bool(pid) and host == socket.gethostname() and not pid_alive(int(pid or 0))


def driver_info(row: JobRow | Mapping[str, Any], engine: StaleAfter, now: float) -> DriverInfo:
    """The job's driver: lost when its heartbeat is older than ``driver_stale_seconds`` or its process is gone."""
    r = fields(row)
    base = r["heartbeat_at"] or r["created_at"]
    age = max(0.0, now - base)
    terminal = JobState(r["state"]).terminal
    alive = not terminal and age <= engine.driver_stale_seconds
    alive = alive and not process_gone(r["driver_pid"], r["driver_host"])
    return DriverInfo(
        pid=r["driver_pid"],
        host=r["driver_host"],
        epoch=r["driver_epoch"],
        heartbeat_age_seconds=round(age, 3) if r["heartbeat_at"] else None,
        alive=alive,
        lost=not terminal and not alive,
    )


def _progress(r: Mapping[str, Any], now: float) -> Progress:
    finished = r["mb_done"] + r["mb_failed"]
    items_done = r["items_ok"] + r["items_failed"]
    rate = eta = None
    if r["started_at"] and items_done:
        elapsed = (r["ended_at"] or now) - r["started_at"]
        rate = round(items_done / max(elapsed, 1e-6), 2)
        remaining = max(r["items_total"] - items_done, 0)
        eta = round(remaining / rate, 1) if rate and not JobState(r["state"]).terminal else None
    return Progress(
        mini_batches=Counts(
            total=r["mb_total"], done=r["mb_done"], failed=r["mb_failed"], pending=r["mb_total"] - finished
        ),
        items=ItemCounts(total=r["items_total"], succeeded=r["items_ok"], failed=r["items_failed"]),
        retries=r["retries"],
        rate_items_per_second=rate,
        eta_seconds=eta,
    )


def _message(r: Mapping[str, Any], driver: DriverInfo) -> str:
    state = JobState(r["state"])
    if state is JobState.failed:
        return f"Failed: {r['failure_reason'] or 'see logs'}"
    if state is JobState.canceled:
        return "Canceled" + (f": {r['failure_reason']}" if r["failure_reason"] else "")
    if state is JobState.completed and (r["type"] or "batch") != "batch":
        return "Completed"
    if state is JobState.completed:
        return f"Completed: {r['items_ok']} item(s) succeeded, {r['items_failed']} failed"
    if driver.lost:
        age = driver.heartbeat_age_seconds
        since = f"no heartbeat for {age:.0f} s" if age is not None else "it never started"
        if process_gone(r["driver_pid"], r["driver_host"]):
            since = f"its process {r['driver_pid']} has ended"
        if state is JobState.cancel_requested:
            return f"cancel requested; its driver is lost ({since}): 'batchpoint job cancel -n {r['name']}' ends it now"
        doing = "while publishing its output" if r.get("publication") is not None else f"while {state.value}"
        return f"driver lost {doing} ({since}); continue with 'batchpoint job resume -n {r['name']}'"
    return state.value


def _batch_io(
    r: Mapping[str, Any],
) -> tuple[dict[str, JobInput], dict[str, JobOutput], BatchDeploymentSettings | None]:
    """A batch job's input, output and settings, from its spec; a command job's inputs and outputs; other
    kinds show theirs in their own way."""
    kind = r["type"] or "batch"
    if kind == "command":
        return (*_command_io(r["spec"]), None)
    if kind == "pipeline":
        return (*_pipeline_io(r), None)
    if kind != "batch":
        return {}, {}, None
    spec = RunSpec.model_validate(r["spec"])
    if spec.outputs:  # a pipeline's parallel step: its outputs by the names the pipeline binds
        from batchpoint.command_jobs.runspec import ResolvedOutput

        return (
            {"input_data": spec.input},
            _named({k: ResolvedOutput.model_validate(o) for k, o in spec.outputs.items()}),
            spec.settings,
        )
    return {"input_data": spec.input}, {"score": spec.output}, spec.settings


def _steps(r: Mapping[str, Any], children: Sequence[Mapping[str, Any]] | None) -> list[JobStep]:
    if r["type"] != "pipeline" or children is None:
        return []
    from batchpoint.pipelines.views import steps

    return steps(_loads(r["spec"]) or {}, [{**c, "spec": _loads(c.get("spec"))} for c in children])


def _pipeline_io(r: Mapping[str, Any]) -> tuple[dict[str, JobInput], dict[str, JobOutput]]:
    from batchpoint.pipelines.views import io

    raw_inputs, raw_outputs = io(_loads(r["spec"]) or {}, _loads(r.get("publication")))
    inputs = {
        name: JobInput(type=i["type"], path=i.get("uri") or i.get("path") or "", resolved=i.get("path") or "",
                       value=i.get("value"))
        for name, i in raw_inputs.items()
    }  # fmt: skip
    outputs = {name: JobOutput(type=o["type"], path=o["path"] or "") for name, o in raw_outputs.items()}
    return inputs, outputs


def _command_io(raw: Any) -> tuple[dict[str, JobInput], dict[str, JobOutput]]:
    from batchpoint.command_jobs.runspec import CommandRunSpec

    spec = CommandRunSpec.model_validate(_loads(raw) or {"command": ""})
    inputs = {
        name: JobInput(type=i.type, path=i.uri or i.path or "", resolved=i.path or "", value=i.value)
        for name, i in spec.inputs.items()
    }
    return inputs, _named(spec.outputs)


def _named(resolved: Mapping[str, ResolvedOutput]) -> dict[str, JobOutput]:
    """Named outputs as ``job show`` gives them: a ``uri_file`` output's folder, and the file in it."""
    outputs = {}
    for name, o in resolved.items():
        if o.type == "uri_file":
            outputs[name] = JobOutput(type=o.type, path=str(Path(o.path).parent), file=o.path)
        else:
            outputs[name] = JobOutput(type=o.type, path=o.path)
    return outputs


def to_job(
    row: JobRow | Mapping[str, Any],
    engine: StaleAfter,
    logs_path: str | None = None,
    *,
    now: float | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    children: Sequence[Mapping[str, Any]] | None = None,
) -> Job:
    """The job as users see it at ``now`` (default: the current time), with ``history`` (``job_events`` rows)
    and, for a pipeline, its steps from ``children`` (its child job rows: name, state, spec, failure_reason)."""
    r = fields(row)
    now = time.time() if now is None else now
    inputs, outputs, settings = _batch_io(r)
    driver = driver_info(r, engine, now)
    ended = r["ended_at"]
    duration = None if not r["started_at"] else round((ended or now) - r["started_at"], 3)
    return Job(
        name=r["name"],
        type=r["type"],
        status=JobState(r["state"]),
        endpoint_name=r["endpoint_name"],
        deployment_name=r["deployment_name"],
        experiment_name=r["experiment_name"],
        inputs=inputs,
        outputs=outputs,
        settings=settings,
        parent_job_name=r.get("parent_job_name"),
        progress=_progress(r, now),
        error=_loads(r["error"]),
        failure_reason=r["failure_reason"],
        message=_message(r, driver),
        driver=driver,
        environment=_loads(r["environment"]),
        logs_path=logs_path,
        invoked_by=r["invoked_by"],
        created_at=to_datetime(r["created_at"]),
        started_at=to_datetime(r["started_at"]),
        ended_at=to_datetime(ended),
        duration_seconds=duration,
        history=[JobEvent.model_validate({**e, "at": to_datetime(e["at"])}) for e in history or ()],
        steps=_steps(r, children),
        run_id=r.get("run_id"),
    )
