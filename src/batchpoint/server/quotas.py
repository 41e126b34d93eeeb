"""Per-token limits of the team server: jobs queued or running at once, and upload bytes per window.

A token past a limit gets 429 with ``Retry-After``: for jobs, the queue's poll interval (a slot
frees when one of its jobs ends); for uploads, the time until enough of the window's bytes age
out. Both are counted from the metadata database, so they hold across server restarts and for
several server processes sharing one database.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from batchpoint.errors import TooManyRequests
from batchpoint.jobs.schemas import TERMINAL
from batchpoint.store.tables import JobRow, UploadRow

if TYPE_CHECKING:
    from batchpoint.config import ServerSettings
    from batchpoint.services import Services
    from batchpoint.tokens.auth import Principal

_ENDED = [state.value for state in TERMINAL]


def check_active_jobs(svc: Services, principal: Principal, serving: ServerSettings) -> None:
    """429 when the token already has ``max_active_jobs_per_token`` jobs that have not ended."""
    limit = serving.max_active_jobs_per_token
    query = select(func.count()).where(JobRow.invoked_by == principal.actor, JobRow.state.not_in(_ENDED))
    with svc.db.read() as s:
        active = int(s.scalar(query) or 0)
    if active >= limit:
        wait = max(1, math.ceil(serving.queue_poll_seconds * 4))
        raise TooManyRequests(
            f"this token has {active} jobs queued or running, the most it may have at once ({limit}); "
            "invoke again when one has ended",
            field="job",
            hint="an operator can raise BATCHPOINT_SERVER_MAX_ACTIVE_JOBS_PER_TOKEN",
            details={"retry_after_seconds": wait, "limit": limit, "active": active},
        )


def check_upload_bytes(
    svc: Services, principal: Principal, serving: ServerSettings, incoming: int, now: float | None = None
) -> None:
    """429 when ``incoming`` more bytes would take the token over its upload budget for the window."""
    now = time.time() if now is None else now
    limit = serving.max_upload_bytes_per_token
    since = now - serving.upload_window_seconds
    query = (
        select(UploadRow.created_at, UploadRow.size_bytes)
        .where(UploadRow.owner == principal.actor, UploadRow.created_at > since)
        .order_by(UploadRow.created_at)
    )
    with svc.db.read() as s:
        recent = [(float(at), int(size)) for at, size in s.execute(query)]
    used = sum(size for _, size in recent)
    if used + incoming <= limit:
        return
    raise TooManyRequests(
        f"this upload ({incoming} bytes) would take this token over its upload budget: {used} of {limit} bytes "
        f"used in the last {serving.upload_window_seconds:.0f} s",
        field="body",
        hint="an operator can raise BATCHPOINT_SERVER_MAX_UPLOAD_BYTES_PER_TOKEN",
        details={"retry_after_seconds": _window_wait(recent, used + incoming - limit, since, now), "limit": limit},
    )


def _window_wait(recent: list[tuple[float, int]], excess: int, since: float, now: float) -> int:
    """Seconds until the oldest uploads of the window have aged out enough to make room for ``excess``."""
    freed = 0
    for created_at, size in recent:
        freed += size
        if freed >= excess:
            return max(1, math.ceil(created_at - since))
    return max(1, math.ceil(now - since))  # larger than the whole budget: a full window
