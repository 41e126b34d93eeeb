"""In-memory bookkeeping of the driver: worker slots, in-flight attempts, the pending queue.

The database is the source of truth for what is committed; this module only tracks what is in
flight right now, and decides what to hand to whom next.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from batchpoint.batch.ledger import Pending


@dataclass
class Attempt:
    """One mini-batch handed to one worker under one lease token."""

    idx: int
    token: str
    attempt: int
    attempts_before: int
    """Failed attempts this mini-batch had before this one."""
    count: int
    files: list[str]
    part: str
    offset: int
    """Where the mini-batch starts in the plan file, kept so a retry needs no database read."""


@dataclass
class Slot:
    """A worker process as the driver sees it."""

    worker: str
    started: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    ready: bool = False
    lost: bool = False
    queue: deque[Attempt] = field(default_factory=deque)
    head_started: float = 0.0
    kill_reason: str | None = None
    timed_out: bool = False
    init_failed: bool = False
    """Set when the driver kills the worker (timeout, cancel): explains its exit."""

    def head(self) -> Attempt | None:
        return self.queue[0] if self.queue else None

    def pop(self, token: str) -> Attempt | None:
        """Remove the attempt with ``token``; the next one starts now."""
        for i, attempt in enumerate(self.queue):
            if attempt.token == token:
                del self.queue[i]
                if i == 0:
                    self.head_started = time.monotonic()
                return attempt
        return None


class PendingQueue:
    """Mini-batches waiting for a worker: retries first, then fresh ones streamed from the database."""

    def __init__(self, fetch: Callable[[int], list[Pending]]) -> None:
        self._fetch = fetch
        self._retry: deque[Pending] = deque()
        self._fresh: deque[Pending] = deque()
        self._cursor = -1
        self._exhausted = False

    def push_retry(self, item: Pending) -> None:
        self._retry.append(item)

    def pop(self) -> Pending | None:
        if self._retry:
            return self._retry.popleft()
        if not self._fresh and not self._exhausted:
            batch = self._fetch(self._cursor)
            if batch:
                self._cursor = batch[-1].idx
                self._fresh.extend(batch)
            else:
                self._exhausted = True
        return self._fresh.popleft() if self._fresh else None

    def empty(self) -> bool:
        if self._retry or self._fresh:
            return False
        if self._exhausted:
            return True
        batch = self._fetch(self._cursor)
        if batch:
            self._cursor = batch[-1].idx
            self._fresh.extend(batch)
            return False
        self._exhausted = True
        return True

    def rescan(self) -> None:
        """Look at the database again from the start (after mini-batches were reset to pending)."""
        self._cursor = -1
        self._exhausted = False
        self._fresh.clear()
