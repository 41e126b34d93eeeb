"""The duty contract, and ``PeriodicDuty``: a duty that runs one pass on its own thread every few seconds.

A duty is what a supervisor runs for as long as it lives: the server's job queue today, online
replicas and schedules later. Its contract:

``name``
    unique within one supervisor (``job-queue``); it names the duty in health reports.
``start()``
    begin the work and return (work runs on the duty's own threads). Raising fails the
    supervisor's start: the duties already started are stopped again.
``stop(timeout)``
    end the work within about ``timeout`` seconds and release what it holds; safe to call twice,
    and on a duty whose ``start()`` was never called or failed.
``health() -> DutyHealth``
    cheap, thread-safe, never raises: state (running / stopped / failed), when the last pass
    ended, and a ``detail`` mapping of duty-specific numbers.
``notify()``
    optional: something changed (a job was queued); look now rather than at the next pass.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

from batchpoint.supervisor.schemas import DutyHealth, DutyState

log = logging.getLogger("batchpoint.supervisor")


class Duty(ABC):
    """One long-running duty of a supervisor (see the module docstring for the contract)."""

    name: str

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self, timeout: float = 5.0) -> None: ...

    @abstractmethod
    def health(self) -> DutyHealth: ...

    def notify(self) -> None:  # noqa: B027 - optional hook: a duty that polls may ignore it
        """Something changed: look now rather than at the next pass (default: nothing to do)."""


class PeriodicDuty(Duty):
    """Runs ``tick()`` every ``interval`` seconds on a thread of its own, and at once after ``notify()``.

    A pass that raises is logged and retried at the next interval (a duty must outlive a database
    hiccup); while the last pass failed, ``health()`` says ``failed`` with the error in ``detail``.
    Subclasses implement ``tick()`` and may override ``on_start()`` (runs in the caller's thread
    before the loop starts; may raise), ``on_stop()`` (after the loop ended) and ``detail()``.
    """

    def __init__(self, name: str, interval: float) -> None:
        self.name = name
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_tick_at: datetime | None = None
        self._last_error: str | None = None
        self._failures = 0
        self._stopped = False

    # -- to implement --------------------------------------------------------------------------------
    @abstractmethod
    def tick(self) -> None:
        """One pass of the duty's work."""

    def on_start(self) -> None:
        """Prepare before the first pass (default: nothing)."""

    def on_stop(self) -> None:
        """Release what the duty holds once its loop ended (default: nothing)."""

    def detail(self) -> dict[str, Any]:
        """Duty-specific numbers for ``health()`` (default: none)."""
        return {}

    # -- the contract --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self.on_start()
        self._thread = threading.Thread(target=self._run, name=f"batchpoint-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self.on_stop()

    def notify(self) -> None:
        self._wake.set()

    def health(self) -> DutyHealth:
        with self._lock:
            last, error, failures = self._last_tick_at, self._last_error, self._failures
        alive = self._thread is not None and self._thread.is_alive()
        if not alive:
            state = DutyState.failed if self._thread is not None and not self._stop.is_set() else DutyState.stopped
        else:
            state = DutyState.failed if error else DutyState.running
        detail: dict[str, Any] = {}
        try:
            detail.update(self.detail())
        except Exception as exc:  # health never raises
            detail["detail_error"] = str(exc)
        if error:
            detail.update(error=error, consecutive_failures=failures)
        return DutyHealth(name=self.name, state=state, last_tick_at=last, detail=detail)

    # -- the loop ------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.interval)
            self._wake.clear()

    def run_once(self) -> None:
        """One pass, with its outcome recorded for ``health()`` (the loop calls it; tests may too)."""
        try:
            self.tick()
        except Exception as exc:
            log.exception("%s: pass failed; retrying in %.1f s", self.name, self.interval)
            with self._lock:
                self._last_error = f"{type(exc).__name__}: {exc}"
                self._failures += 1
                self._last_tick_at = datetime.now(UTC)
        else:
            with self._lock:
                self._last_error = None
                self._failures = 0
                self._last_tick_at = datetime.now(UTC)
