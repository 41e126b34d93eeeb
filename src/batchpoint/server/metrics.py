"""Prometheus metrics of one server (a registry per app, so two apps in one process never mix).

HTTP metrics are counted as requests pass. Job metrics are read from the metadata database when
``/metrics`` is scraped, so they are right even for jobs that drivers of an earlier server run, or
that embedded users started on the same workspace:

    batchpoint_http_requests_total{method,route,status}
    batchpoint_http_request_duration_seconds{method,route}
    batchpoint_auth_failures_total
    batchpoint_jobs{state}                      jobs by state, now
    batchpoint_jobs_queued_waiting              jobs the server holds back for a free slot
    batchpoint_minibatches_scored_total         mini-batches committed, all jobs
    batchpoint_minibatches_failed_total         mini-batches that failed after their retries
    batchpoint_items_scored_total / batchpoint_items_failed_total
    batchpoint_job_retries_total
    batchpoint_jobs_failed_total                jobs that ended Failed
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from batchpoint.jobs.schemas import JobState
from batchpoint.store import Database
from batchpoint.store.tables import JobRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _JobCollector(Collector):
    def __init__(self, db: Database, waiting: Callable[[], int]) -> None:
        self.db = db
        self.waiting = waiting

    def collect(self) -> Iterator[Metric]:
        with self.db.read() as s:
            by_state = dict(s.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all())
            sums = s.execute(
                select(
                    func.coalesce(func.sum(JobRow.mb_done), 0),
                    func.coalesce(func.sum(JobRow.mb_failed), 0),
                    func.coalesce(func.sum(JobRow.items_ok), 0),
                    func.coalesce(func.sum(JobRow.items_failed), 0),
                    func.coalesce(func.sum(JobRow.retries), 0),
                )
            ).one()
        jobs = GaugeMetricFamily("batchpoint_jobs", "Jobs by state.", labels=["state"])
        for state in JobState:
            jobs.add_metric([state.value], float(by_state.get(state.value, 0)))
        yield jobs
        yield GaugeMetricFamily(
            "batchpoint_jobs_queued_waiting",
            "Jobs waiting in the server's queue for a free slot.",
            value=self.waiting(),
        )
        names = [
            ("batchpoint_minibatches_scored", "Mini-batches committed, all jobs."),
            ("batchpoint_minibatches_failed", "Mini-batches failed after their retries, all jobs."),
            ("batchpoint_items_scored", "Items (files or rows) scored, all jobs."),
            ("batchpoint_items_failed", "Items that failed, all jobs."),
            ("batchpoint_job_retries", "Mini-batch retries, all jobs."),
        ]
        for (name, doc), value in zip(names, sums, strict=True):
            yield CounterMetricFamily(name, doc, value=float(value))
        yield CounterMetricFamily(
            "batchpoint_jobs_failed", "Jobs that ended Failed.", value=float(by_state.get(JobState.failed.value, 0))
        )


class Metrics:
    """The registry and the instruments the middleware and the queue update."""

    def __init__(self, db: Database, waiting: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "batchpoint_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "batchpoint_http_request_duration_seconds",
            "HTTP request duration by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "batchpoint_auth_failures", "Requests refused for a missing or invalid token.", registry=self.registry
        )
        self.registry.register(_JobCollector(db, waiting))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def auth_failed(self) -> None:
        self.auth_failures.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
