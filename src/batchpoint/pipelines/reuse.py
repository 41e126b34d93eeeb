"""Step reuse: a step identical to a completed one is not run again; its outputs are used instead.

A step's fingerprint is the sha256 of what decides its result: the component's content hash (its
command, code snapshot, environment and declarations), the step's environment variables, and each
input: a literal's value, a file or folder's content hash, or, for an upstream step's output, the
upstream step's own fingerprint (so changing one literal changes every fingerprint downstream of
it, and nothing else). An upstream step that cannot be reused (``is_deterministic: false``, or run
with ``force_rerun``) passes on its job's name instead, which no other run shares.

A completed command job with the same fingerprint whose output folders still exist is the match;
the step's child job is then recorded Completed at once, its outputs the matched job's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from batchpoint.jobs.schemas import JobState
from batchpoint.pipelines.plan import StepPlan
from batchpoint.store import Database
from batchpoint.store.tables import JobRow

_TUNING = frozenset({"instance_count", "max_concurrency_per_instance", "timeout"})


def fingerprint(step: StepPlan, inputs: dict[str, str | None], output_types: dict[str, str]) -> str:
    """``inputs``: each input's identity token (``literal:…``, ``content:…``, ``step:…``), None when unset."""
    record = {
        "component": step.component_hash,
        "environment_variables": dict(sorted(step.environment_variables.items())),
        "inputs": dict(sorted(inputs.items())),
        "outputs": dict(sorted(output_types.items())),
    }
    if step.parallel is not None:  # how many workers ran it does not change the result; the rest may
        record["parallel"] = {k: v for k, v in step.parallel.items() if k not in _TUNING}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def input_token(resolved: dict[str, Any]) -> str:
    """The identity of a resolved input: its content hash, else its value or path."""
    if resolved.get("content_hash"):
        return f"content:{resolved['content_hash']}"
    if resolved.get("value") is not None:
        return f"literal:{resolved['value']}"
    return f"path:{resolved.get('path')}"


def find(db: Database, digest: str) -> JobRow | None:
    """The newest completed step job with this fingerprint whose outputs are all still in place."""
    with db.read() as s:
        rows = list(
            s.scalars(
                select(JobRow)
                .where(JobRow.fingerprint == digest, JobRow.state == JobState.completed.value)
                .order_by(JobRow.ended_at.desc())
                .limit(5)
            )
        )
        for row in rows:
            outputs = (row.spec or {}).get("outputs") or {}
            if all(Path(o.get("path", "")).exists() for o in outputs.values()):
                s.expunge(row)
                return row
    return None
