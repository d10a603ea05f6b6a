"""Logging: JSON lines in production, readable text in development, one request id throughout.

Every record gets the request's id, route (endpoint name), user id and institution id when it is
logged inside a request, and the Celery task name and id inside a task. One ``request`` line per
answered request adds method, status and duration. Nothing user-typed reaches these fields:
no raw paths or query strings (they can hold one-time tokens), no headers, no form values.
Bearer and API tokens that slip into a message anyway are masked.
"""

import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from celery import current_task
from flask import Flask, g, has_request_context, request

from screening.api.tokens import PREFIX as API_TOKEN_PREFIX

LOG_FORMATS = ("json", "text")
_SECRETS = (
    (re.compile(r"(?i)\bbearer\s+\S+"), "Bearer [redacted]"),
    (re.compile(re.escape(API_TOKEN_PREFIX) + r"[A-Za-z0-9_-]+"), API_TOKEN_PREFIX + "[redacted]"),
    # SQLAlchemy puts a failed statement's bound values into its error text: proposal text, hashes, tokens.
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: hidden]"),
)
_REQUEST_FIELDS = ("request_id", "route", "user_id", "institution_id")
_TASK_FIELDS = ("task", "task_id")
CONTEXT_FIELDS = _REQUEST_FIELDS + _TASK_FIELDS
ACCESS_FIELDS = ("method", "status", "duration_ms")
_ENTRY_FIELDS = CONTEXT_FIELDS + ACCESS_FIELDS


def mask_secrets(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _identity(obj: Any) -> Any:
    """An ORM object's primary key without touching the database (it may be expired or broken)."""
    if obj is None:
        return None
    state = sa.inspect(obj, raiseerr=False)
    identity = state.identity if state is not None else None
    return identity[0] if identity else None


def _request_context() -> dict[str, Any]:
    if not has_request_context():
        return {}
    actor = g.get("actor")
    return {
        "request_id": g.get("request_id"),
        "route": request.endpoint,
        "user_id": _identity(g.get("user")),
        "institution_id": getattr(actor, "institution_id", None),
    }


def _task_context() -> dict[str, Any]:
    task = current_task._get_current_object()  # once: each use of the proxy looks the task up again
    task_id = getattr(task.request, "id", None) if task is not None else None
    if not task_id:
        return {}
    return {"task": task.name, "task_id": task_id}


class ContextFilter(logging.Filter):
    """Adds the request's and task's context to every record (attributes set to None when absent)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _add_context(record.__dict__)
        return True


def _add_context(fields: dict[str, Any], task_context: bool = True) -> None:
    """Fill in the context fields ``fields`` lacks; each source is asked only for missing ones (an
    access line brings the request's own). ``task_context`` False: no task is running here."""
    sources = ((_REQUEST_FIELDS, _request_context), (_TASK_FIELDS, _task_context))
    for names, source in sources if task_context else sources[:1]:
        missing = [name for name in names if fields.get(name) is None]
        if missing:
            context = source()
            for name in missing:
                fields[name] = context.get(name)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context fields, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        entry = _json_entry(record.created, record.levelname, record.name, record.getMessage(), record.__dict__)
        if record.exc_info:
            entry["exception"] = mask_secrets(self.formatException(record.exc_info))
        # orjson: a tenth of json.dumps' time, and every request writes one of these lines.
        return orjson.dumps(entry, default=str).decode()


def _json_entry(created: float, level: str, logger: str, message: str, fields: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "message": mask_secrets(message),
    }
    for name in _ENTRY_FIELDS:
        value = fields.get(name)
        if value is not None:
            entry[name] = value
    return entry


def log_line(
    logger: logging.Logger, level: int, message: str, fields: dict[str, Any], *, task_context: bool = True
) -> None:
    """``logger.log(level, message, extra=fields)``, for the access log's line of every request.
    ``task_context`` False says that no task runs where the line is written, so none is looked up.

    Under the configuration :func:`configure_logging` installs in production (one JSON handler on
    the root logger, no other handler or filter on the way) the line is written straight to that
    handler's stream: the same line, at a quarter of the cost of a log record's trip through the
    logging machinery (record, filters, formatter), which under the production recipe was a tenth
    of an API screening's CPU time (``bench/api_bench.py``). Any other configuration (a test's
    capture handler, the text format, ``--log-config``) gets the ordinary call.
    """
    if not logger.isEnabledFor(level):
        return
    handler = _sole_json_handler(logger, level)
    if handler is None:
        logger.log(level, message, extra=fields)
        return
    values = dict(fields)
    _add_context(values, task_context)
    entry = _json_entry(time.time(), logging.getLevelName(level), logger.name, message, values)
    line = orjson.dumps(entry, default=str).decode() + handler.terminator
    with handler.lock:
        try:
            stream = handler.stream
            stream.write(line)
            stream.flush()
        except RecursionError:  # as logging.StreamHandler.emit does
            raise
        except Exception:
            handler.handleError(logging.makeLogRecord({"msg": message, "levelno": level, "name": logger.name}))


def _sole_json_handler(logger: logging.Logger, level: int) -> "StderrHandler | None":
    """The root's one JSON handler when a record of ``logger`` would reach it and nothing else."""
    node: logging.Logger | None = logger
    while node is not None:
        if node.disabled or node.filters or (node.handlers and node is not logging.root):
            return None
        if not node.propagate:
            return None
        node = node.parent
    handlers = logging.root.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if type(handler) is not StderrHandler or type(handler.formatter) is not JsonFormatter or level < handler.level \
            or len(handler.filters) != 1 or type(handler.filters[0]) is not ContextFilter:
        return None
    return handler


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request_id] message  key=value ...`` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"[{record.request_id}] " if getattr(record, "request_id", None) else ""
        details = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS + ACCESS_FIELDS
                           if name != "request_id" and getattr(record, name, None) is not None)
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {prefix}{record.getMessage()}"
        if details:
            line += "  " + details
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return mask_secrets(line)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def log_format(app: Flask) -> str:
    """``json`` or ``text`` from ``SCREENING_LOG_FORMAT``; the default is json in production."""
    from screening.core.config import is_production

    chosen = str(app.config.get("LOG_FORMAT") or ("json" if is_production(app) else "text")).lower()
    if chosen not in LOG_FORMATS:
        raise ValueError(f"SCREENING_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)} (got {chosen!r})")
    return chosen


def make_handler(fmt: str) -> logging.Handler:
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(app: Flask) -> None:
    """Install the one root handler (replacing one installed earlier by this function).

    Logging that someone else set up (a test runner, an embedding application, ``--log-config``)
    is left alone.
    """
    root = logging.getLogger()
    if any(not isinstance(handler, StderrHandler) for handler in root.handlers):
        return
    for existing in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(existing)
    root.addHandler(make_handler(log_format(app)))
    root.setLevel(str(app.config.get("LOG_LEVEL") or "INFO").upper())


def connect_celery_logging(app: Flask) -> None:
    """Celery workers log through the same handler instead of configuring their own."""
    from celery import signals

    def keep_app_logging(**_details: Any) -> None:
        configure_logging(app)

    signals.setup_logging.connect(keep_app_logging, weak=False, dispatch_uid="screening-operations-logging")
