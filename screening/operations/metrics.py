"""Prometheus metrics: what is counted, how it is collected, and the ``/metrics`` exposition.

Counters and histograms live in the process that observes them. Under gunicorn (or with Celery
workers on the same host) every process writes them to files in ``PROMETHEUS_MULTIPROC_DIR`` and
a scrape adds them up (prometheus-client's multiprocess mode); without that variable they stay in
memory. Gauges that describe the installation rather than one process (outbox depth, import
jobs) are read from the database at scrape time, so every worker reports the same numbers.

Labels never carry raw paths, ids or user input: routes are Flask endpoint names.
"""

import functools
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from celery import signals as celery_signals
from flask import Flask, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from rules import Screener

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "unmatched"  # requests no route answered (404, 405 before routing)
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LETTER_TASKS = {
    "documents.render_decision_letter": "decision_letter",
    "documents.render_fast_track_letter": "fast_track_letter",
}

HTTP_REQUESTS = Counter(
    "screening_http_requests_total", "HTTP requests answered, by route (endpoint name), method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "screening_http_request_duration_seconds", "Time to answer an HTTP request, by route and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SCREENINGS = Counter(
    "screening_screenings_total", "Proposals screened by the rules engine (intake, API, import, re-screen), by tier.",
    ["tier"],
)
MATCHING_DURATION = Histogram(
    "screening_matching_duration_seconds",
    "Time the rules engine took to screen one proposal (partner matching and rules).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
LETTERS_RENDERED = Counter(
    "screening_letters_rendered_total", "Decision and fast-track letters produced (rendered, signed, stored).",
    ["kind"],
)
LETTER_DURATION = Histogram(
    "screening_letter_render_duration_seconds", "Time to produce one letter (context, PDF, signature, storage).",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
OUTBOX_RUNS = Counter(
    "screening_outbox_handler_runs_total", "Outbox handler runs by task and outcome (done, error).",
    ["task", "outcome"],
)
OUTBOX_DURATION = Histogram(
    "screening_outbox_handler_duration_seconds", "Time an outbox handler ran, by task.", ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0),
)
CELERY_TASKS = Counter(
    "screening_celery_tasks_total",
    "Celery task outcomes (success, failure, retry, revoked, rejected, internal_error), by task name.",
    ["task", "outcome"],
)
LOGIN_FAILURES = Counter(
    "screening_login_failures_total",
    "Refused logins: invalid_credentials, throttled, invalid_form (web form) and api_token (API 401).",
    ["reason"],
)

_LOGIN_FAILURE_BY_STATUS = {200: "invalid_credentials", 429: "throttled", 400: "invalid_form"}


class MeteredScreener(Screener):
    """The rules engine's screener, counting screenings by tier and timing each one."""

    def screen(self, proposal: Any, language: str = "en", now: Any = None) -> dict[str, Any]:
        started = time.perf_counter()
        result = super().screen(proposal, language=language, now=now)
        MATCHING_DURATION.observe(time.perf_counter() - started)
        _screenings(result["tier"]).inc()
        return result


@functools.lru_cache(maxsize=16)
def _screenings(tier: str) -> Any:
    return SCREENINGS.labels(tier=tier)


# ---------------------------------------------------------------- web requests


def route_label() -> str:
    return request.endpoint or UNMATCHED_ROUTE


def request_method() -> str:
    """The HTTP method, or ``other`` for anything outside the standard set (labels stay bounded)."""
    return request.method if request.method in STANDARD_METHODS else "other"


@functools.lru_cache(maxsize=4096)
def _request_series(route: str, method: str, status: int) -> tuple[Any, Any]:
    """The counter and histogram children of one (route, method, status): looked up once, not per
    request (``labels()`` validates and locks each time). Routes are endpoint names and methods a
    fixed set, so the combinations are few."""
    return (HTTP_REQUESTS.labels(route=route, method=method, status=str(status)),
            HTTP_DURATION.labels(route=route, method=method))


def observe_request(status: int, duration: float) -> None:
    """Count one answered request (called once per request by the operations blueprint's hooks)."""
    route = route_label()
    count_answer(route, request_method(), status, duration)
    if route == "auth.login" and request.method == "POST" and status in _LOGIN_FAILURE_BY_STATUS:
        LOGIN_FAILURES.labels(reason=_LOGIN_FAILURE_BY_STATUS[status]).inc()
    elif status == 401 and request.path.startswith("/api/"):
        LOGIN_FAILURES.labels(reason="api_token").inc()


def count_answer(route: str, method: str, status: int, duration: float) -> None:
    """The request counter and duration histogram of one answer (outside a request context too)."""
    requests, durations = _request_series(route, method, status)
    requests.inc()
    durations.observe(duration)


# ---------------------------------------------------------------- outbox handlers and Celery tasks


def metered_handler(task: str, handler: Callable) -> Callable:
    """Wrap an outbox handler so that its runs are counted and timed (letters also by kind)."""
    if getattr(handler, "metered", False):
        return handler
    letter_kind = LETTER_TASKS.get(task)

    @functools.wraps(handler)
    def run(session: Session, payload: dict[str, Any], message: Any) -> None:
        started = time.perf_counter()
        try:
            handler(session, payload, message)
        except BaseException:
            OUTBOX_RUNS.labels(task=task, outcome="error").inc()
            raise
        elapsed = time.perf_counter() - started
        OUTBOX_RUNS.labels(task=task, outcome="done").inc()
        OUTBOX_DURATION.labels(task=task).observe(elapsed)
        if letter_kind is not None:
            LETTERS_RENDERED.labels(kind=letter_kind).inc()
            LETTER_DURATION.labels(kind=letter_kind).observe(elapsed)

    run.metered = True
    return run


def meter_outbox_handlers() -> None:
    """Wrap every registered outbox handler once (idempotent: apps are built more than once in tests)."""
    from screening.core import outbox

    for task, handler in list(outbox.HANDLERS.items()):
        outbox.HANDLERS[task] = metered_handler(task, handler)


def _counting(outcome: str) -> Callable[..., None]:
    def receiver(sender: Any = None, **_details: Any) -> None:
        CELERY_TASKS.labels(task=str(getattr(sender, "name", None) or "unknown"), outcome=outcome).inc()

    receiver.__name__ = f"count_celery_{outcome}"
    return receiver


_CELERY_RECEIVERS = {
    outcome: _counting(outcome)
    for outcome in ("success", "failure", "retry", "revoked", "rejected", "internal_error")
}


def connect_celery_signals() -> None:
    """Count Celery task outcomes in whichever process runs them (worker, or the web process when eager)."""
    for outcome, receiver in _CELERY_RECEIVERS.items():
        getattr(celery_signals, f"task_{outcome}").connect(receiver, weak=False, dispatch_uid=f"ops-{outcome}")


# ---------------------------------------------------------------- installation-wide gauges


class _Snapshot:
    """A collector over metric families computed just before the scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


def database_gauges(session: Session) -> list[Metric]:
    """Outbox depth by status, age of the oldest pending message, import jobs by status.

    Nothing when the database cannot be read (the readiness check says why); the transaction is
    ended either way (on SQLite, BEGIN IMMEDIATE would otherwise hold the write lock until teardown).
    """
    try:
        return _read_database_gauges(session)
    except SQLAlchemyError:
        log.warning("metrics: database gauges left out (database unreadable)", exc_info=True)
        return []
    finally:
        session.rollback()


def _read_database_gauges(session: Session) -> list[Metric]:
    from screening.core.database import utcnow
    from screening.core.models import OutboxMessage
    from screening.portfolio.models import ImportJob

    outbox_by_status = GaugeMetricFamily(
        "screening_outbox_messages", "Outbox messages by status (pending = waiting for a worker).", labels=["status"]
    )
    counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    for status in ("pending", "failed", "done"):
        outbox_by_status.add_metric([status], counts.get(status, 0))
    oldest = session.scalar(select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending"))
    age = GaugeMetricFamily(
        "screening_outbox_oldest_pending_age_seconds", "Age of the oldest pending outbox message (0 when none)."
    )
    age.add_metric([], max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0)
    imports = GaugeMetricFamily("screening_import_jobs", "Bulk import jobs by status.", labels=["status"])
    job_counts = dict(session.execute(select(ImportJob.status, func.count()).group_by(ImportJob.status)).all())
    for status in ("pending", "running", "done", "failed"):
        imports.add_metric([status], job_counts.get(status, 0))
    return [outbox_by_status, age, imports]


def queue_length_gauge(redis_url: str | None, queue: str = "celery") -> list[Metric]:
    """Messages waiting in the Celery queue in Redis; nothing when no broker is configured or reachable."""
    if not redis_url:
        return []
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            length = client.llen(queue)
        finally:
            client.close()
    except redis.RedisError:
        return []
    gauge = GaugeMetricFamily("screening_celery_queue_length", "Tasks waiting in the broker's queue.",
                              labels=["queue"])
    gauge.add_metric([queue], length)
    return [gauge]


def exposition(extra: list[Metric]) -> tuple[bytes, str]:
    """The scrape's body and content type: this process's (or all processes') metrics plus ``extra``."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
        registry.register(_Snapshot(extra))
        return generate_latest(registry), CONTENT_TYPE_LATEST
    registry.register(_Snapshot(extra))
    return generate_latest(REGISTRY) + generate_latest(registry), CONTENT_TYPE_LATEST


def init_app(app: Flask) -> None:
    """Count outbox handler runs and Celery outcomes (request hooks live in the blueprint module)."""
    meter_outbox_handlers()
    connect_celery_signals()
