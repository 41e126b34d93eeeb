"""The duty contract with a tiny fake duty: the supervisor's start/stop order, health, notify, and the registry."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from batchpoint.supervisor.duty import Duty, PeriodicDuty
from batchpoint.supervisor.schemas import DutyHealth, DutyState
from batchpoint.supervisor.service import DUTIES, DutyEntry, Supervisor


def wait_for(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


class Counter(PeriodicDuty):
    """Counts its passes; fails them while ``failing`` is set."""

    def __init__(self, name: str = "counter", interval: float = 60.0) -> None:
        super().__init__(name, interval)
        self.passes = 0
        self.failing = False
        self.started = self.stopped = 0
        self.ticked = threading.Event()

    def on_start(self) -> None:
        self.started += 1

    def on_stop(self) -> None:
        self.stopped += 1

    def tick(self) -> None:
        self.passes += 1
        self.ticked.set()
        if self.failing:
            raise RuntimeError("database went away")

    def detail(self) -> dict[str, Any]:
        return {"passes": self.passes}


class Recorder(Duty):
    """A plain duty that records its calls in a shared list."""

    def __init__(self, name: str, calls: list[str], fail_start: bool = False) -> None:
        self.name = name
        self.calls = calls
        self.fail_start = fail_start
        self.running = False

    def start(self) -> None:
        self.calls.append(f"start {self.name}")
        if self.fail_start:
            raise RuntimeError("cannot start")
        self.running = True

    def stop(self, timeout: float = 5.0) -> None:
        self.calls.append(f"stop {self.name}")
        self.running = False

    def health(self) -> DutyHealth:
        return DutyHealth(name=self.name, state=DutyState.running if self.running else DutyState.stopped)


def test_periodic_duty_runs_at_once_on_notify_and_reports_health() -> None:
    duty = Counter()
    assert duty.health().state is DutyState.stopped
    assert duty.health().last_tick_at is None
    duty.start()
    try:
        wait_for(lambda: duty.passes >= 1)  # the first pass runs at once
        wait_for(lambda: duty.health().last_tick_at is not None)
        health = duty.health()
        assert health.name == "counter" and health.state is DutyState.running
        assert health.detail == {"passes": 1}
        duty.notify()  # the interval is 60 s: only notify makes a second pass this soon
        wait_for(lambda: duty.passes >= 2)
    finally:
        duty.stop(timeout=5)
    assert duty.health().state is DutyState.stopped
    assert (duty.started, duty.stopped) == (1, 1)


def test_a_failing_pass_is_reported_and_the_duty_recovers() -> None:
    duty = Counter()
    duty.failing = True
    duty.run_once()
    duty.run_once()
    duty.start()  # its thread makes the health "running or failed", not "stopped"
    try:
        wait_for(lambda: duty.passes >= 3 and duty.health().detail.get("consecutive_failures") == 3)
        health = duty.health()
        assert health.state is DutyState.failed
        assert health.detail["error"] == "RuntimeError: database went away"
        duty.failing = False
        duty.notify()
        wait_for(lambda: duty.health().state is DutyState.running)
        assert "error" not in duty.health().detail
    finally:
        duty.stop()


def test_stop_is_safe_twice_and_without_start() -> None:
    never_started = Counter()
    never_started.stop(0.1)
    never_started.stop(0.1)
    assert never_started.stopped == 1
    duty = Counter()
    duty.start()
    duty.stop(5)
    duty.stop(5)
    assert duty.stopped == 1


def test_supervisor_starts_in_order_and_stops_in_reverse() -> None:
    calls: list[str] = []
    supervisor = Supervisor([Recorder("a", calls), Recorder("b", calls)])
    supervisor.start()
    assert [h.state for h in supervisor.health()] == [DutyState.running, DutyState.running]
    supervisor.stop()
    supervisor.stop()  # idempotent
    assert calls == ["start a", "start b", "stop b", "stop a"]
    assert [h.name for h in supervisor.health()] == ["a", "b"]


def test_a_duty_that_fails_to_start_stops_the_others_and_raises() -> None:
    calls: list[str] = []
    supervisor = Supervisor([Recorder("a", calls), Recorder("b", calls, fail_start=True), Recorder("c", calls)])
    with pytest.raises(RuntimeError, match="cannot start"):
        supervisor.start()
    assert calls == ["start a", "start b", "stop b", "stop a"]


def test_notify_reaches_one_duty_or_all() -> None:
    a, b = Counter("a"), Counter("b")
    supervisor = Supervisor([a, b])
    supervisor.start()
    try:
        wait_for(lambda: a.passes == 1 and b.passes == 1)
        supervisor.notify("a")
        wait_for(lambda: a.passes == 2)
        assert b.passes == 1
        supervisor.notify()
        wait_for(lambda: a.passes == 3 and b.passes == 2)
        assert supervisor.find("a", Counter) is a
        assert supervisor.find("a", Recorder) is None
        assert supervisor.find("zzz", Counter) is None
    finally:
        supervisor.stop()


def test_health_of_a_duty_that_raises_is_failed() -> None:
    class Broken(Recorder):
        def health(self) -> DutyHealth:
            raise RuntimeError("no idea")

    supervisor = Supervisor([Broken("broken", [])])
    [health] = supervisor.health()
    assert health.state is DutyState.failed and health.detail == {"error": "no idea"}


def test_duty_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([Counter("x"), Counter("x")])


def test_build_takes_the_entries_of_its_mode_only() -> None:
    made: list[str] = []

    def factory(name: str) -> Any:
        def make(context: Any) -> Duty:
            made.append(name)
            return Counter(name)

        return make

    entries = [
        DutyEntry("both", frozenset({"server", "embedded"}), factory("both")),
        DutyEntry("server-only", frozenset({"server"}), factory("server-only")),
    ]
    supervisor = Supervisor.build("embedded", context=None, entries=entries)  # type: ignore[arg-type]
    assert [d.name for d in supervisor.duties] == ["both"]
    assert made == ["both"]
    assert supervisor.report().mode == "embedded"


def test_the_registry_never_runs_the_job_queue_in_embedded_mode() -> None:
    names = [entry.name for entry in DUTIES]
    assert len(names) == len(set(names))
    modes = {entry.name: entry.modes for entry in DUTIES}
    assert modes["job-queue"] == {"server"}  # embedded jobs start detached at invoke, as before
    assert "job-watch" in names and "embedded" in modes["job-watch"]
