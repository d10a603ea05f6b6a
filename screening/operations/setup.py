"""The operations package's set-up: settings' defaults, logging, request hooks, blueprint, commands."""

import logging
import time

from flask import Flask, Response, g, request

from screening.core.config import UnsafeConfiguration, is_production
from screening.core.security import REQUEST_ID_HEADER, request_id_for
from screening.operations import logs, metrics, views

DEFAULTS = {
    "LOG_FORMAT": None,  # None: json in production, text otherwise
    "LOG_LEVEL": "INFO",
    "METRICS_TOKEN": None,  # /metrics is off until a token or an address list is configured
    "METRICS_ALLOWED_NETWORKS": [],
    "HEALTH_CACHE_SECONDS": 5,
    "HEALTH_WORKER_TIMEOUT_SECONDS": 1.0,
    "HEALTH_OUTBOX_MAX_AGE_SECONDS": 900,
    "HEALTH_MIN_FREE_DISK_BYTES": 256 * 1024 * 1024,
    "BACKUP_PG_DUMP": "pg_dump",
    "BACKUP_PG_RESTORE": "pg_restore",
}
MIN_PRODUCTION_TOKEN_LENGTH = 32
QUIET_ROUTES = frozenset({"operations.live", "operations.ready"})  # probes: logged at DEBUG only

access_log = logging.getLogger("screening.request")


def install(app: Flask) -> None:
    """Everything ``screening.operations.init_app`` promises (see the package docstring)."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    token = app.config.get("METRICS_TOKEN")
    if token and is_production(app) and len(str(token)) < MIN_PRODUCTION_TOKEN_LENGTH:
        raise UnsafeConfiguration(
            f"refusing to start in production: SCREENING_METRICS_TOKEN is shorter than {MIN_PRODUCTION_TOKEN_LENGTH}"
            " characters")
    app.extensions[views.NETWORKS_KEY] = views.parse_networks(app.config.get("METRICS_ALLOWED_NETWORKS"))
    app.extensions[views.READINESS_KEY] = views.readiness_cache(app)
    app.extensions["screener_class"] = metrics.MeteredScreener  # see screening.core.engine.screener_class
    logs.log_format(app)  # refuses an unknown SCREENING_LOG_FORMAT, under test too
    if not app.testing:  # under test the runner captures records itself (and CLI output stays clean)
        logs.configure_logging(app)
    logs.connect_celery_logging(app)
    metrics.init_app(app)
    app.before_request_funcs.setdefault(None, []).insert(0, _begin_request)  # before every other hook
    app.after_request(_finish_request)
    app.extensions["record_answer"] = record_answer  # for answers made outside the request cycle
    app.register_blueprint(views.bp)

    from screening.operations.commands import backup_cli

    app.cli.add_command(backup_cli)


def _begin_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER, ""))


def _finish_request(response: Response) -> Response:
    duration = time.perf_counter() - g.get("request_started", time.perf_counter())
    metrics.observe_request(response.status_code, duration)
    log_answer(metrics.route_label(), metrics.request_method(), response.status_code, duration)
    return response


def record_answer(endpoint: str, method: str, status: int, duration: float, **context) -> None:
    """The request metrics and the access-log line of an answer made without Flask's request cycle
    (:mod:`screening.api.lean_screen`); ``context``: the logging context fields."""
    metrics.count_answer(endpoint, method, status, duration)
    log_answer(endpoint, method, status, duration, **context)


def log_answer(endpoint: str, method: str, status: int, duration: float, **context) -> None:
    """The access log's line for one answer. ``context``: the logging context fields (request_id,
    route, user_id, ...) where no request context supplies them."""
    level = logging.DEBUG if endpoint in QUIET_ROUTES else logging.INFO
    # An answer is written by the request's thread after its view, and so after any task the view
    # ran in-process (eager mode) has finished: no task context to look up.
    logs.log_line(access_log, level, "request", {**context, "method": method, "status": status,
                                                 "duration_ms": round(duration * 1000, 1)}, task_context=False)
