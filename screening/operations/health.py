"""Readiness checks: is this installation able to do its work right now?

Each check returns a :class:`Check` with a name, a verdict and a few numbers or a short reason.
Reasons are fixed phrases or exception class names, never exception messages (a driver's message
can carry host names, user names or parts of a connection string). Results are cached per process
for ``HEALTH_CACHE_SECONDS`` so that probes stay cheap however often they come.
"""

import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask, current_app

from screening.core import migrations
from screening.core.extensions import db


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.details}


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failing(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not_ready",
            "failing": self.failing,
            "checks": {check.name: check.as_dict() for check in self.checks},
        }


_HEADS: set[str] | None = None


def migration_heads() -> set[str]:
    """The revisions the code expects (read once: the scripts do not change while running)."""
    global _HEADS
    if _HEADS is None:
        script = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
        _HEADS = set(script.get_heads())
    return _HEADS


def check_database() -> Check:
    try:
        current = set(db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    except sa.exc.ProgrammingError:
        return Check("database", False, {"reason": "not migrated (no alembic_version table)"})
    except sa.exc.OperationalError as exc:
        if "alembic_version" in str(exc.orig):  # SQLite: "no such table"
            return Check("database", False, {"reason": "not migrated (no alembic_version table)"})
        return Check("database", False, {"reason": f"unreachable ({type(exc.orig).__name__})"})
    except sa.exc.SQLAlchemyError as exc:
        return Check("database", False, {"reason": f"unreachable ({type(exc).__name__})"})
    heads = migration_heads()
    if current != heads:
        return Check("database", False, {"reason": "not at the migration head", "revision": sorted(current),
                                         "head": sorted(heads)})
    return Check("database", True, {"revision": sorted(current)})


def check_redis(redis_url: str) -> Check:
    import redis

    started = time.perf_counter()
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return Check("redis", False, {"reason": f"unreachable ({type(exc).__name__})"})
    return Check("redis", True, {"latency_ms": round((time.perf_counter() - started) * 1000, 1)})


def check_workers(timeout: float) -> Check:
    """At least one Celery worker answers a broadcast ping within ``timeout`` seconds."""
    celery = current_app.extensions["celery"]
    try:
        replies = celery.control.ping(timeout=timeout)
    except Exception as exc:  # any broker or transport failure means: no worker can be reached
        return Check("workers", False, {"reason": f"ping failed ({type(exc).__name__})"})
    if not replies:
        return Check("workers", False, {"reason": f"no worker answered within {timeout:g} s"})
    return Check("workers", True, {"answered": len(replies)})


def check_outbox(max_age_seconds: float) -> Check:
    """The oldest message still waiting for a worker is younger than ``max_age_seconds``."""
    from screening.core.database import utcnow
    from screening.core.models import OutboxMessage

    try:
        oldest, pending = db.session.execute(
            sa.select(sa.func.min(OutboxMessage.created_at), sa.func.count()).where(OutboxMessage.status == "pending")
        ).one()
    except sa.exc.SQLAlchemyError as exc:
        return Check("outbox", False, {"reason": f"unreadable ({type(exc).__name__})"})
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    details = {"pending": pending, "oldest_age_seconds": round(max(age, 0.0), 1), "limit_seconds": max_age_seconds}
    if age > max_age_seconds:
        return Check("outbox", False, {"reason": "messages wait longer than the limit", **details})
    return Check("outbox", True, details)


def document_dir(app: Flask) -> Path:
    return Path(app.config.get("DOCUMENT_STORE_DIR") or Path(app.instance_path) / "documents")


def check_disk(directory: Path, min_free_bytes: int) -> Check:
    """Free space where documents are stored (the nearest existing parent if the folder is not there yet)."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        free = shutil.disk_usage(existing).free
    except OSError as exc:
        return Check("disk", False, {"reason": f"unreadable ({type(exc).__name__})"})
    details = {"free_bytes": free, "min_free_bytes": min_free_bytes}
    if free < min_free_bytes:
        return Check("disk", False, {"reason": "less free space than the limit", **details})
    return Check("disk", True, details)


def _ending_transaction(check, *args: Any) -> Check:
    """Run a database check in the request's session and end its transaction afterwards, failed or not."""
    try:
        return check(*args)
    finally:
        db.session.rollback()


def evaluate(app: Flask) -> Readiness:
    """Run every check that applies to this configuration (no broker: no Redis or worker check)."""
    cfg = app.config
    checks = [_ending_transaction(check_database)]
    if cfg.get("REDIS_URL"):
        redis_check = check_redis(cfg["REDIS_URL"])
        checks.append(redis_check)
        if not app.extensions["celery"].conf.task_always_eager:
            if redis_check.ok:
                checks.append(check_workers(float(cfg["HEALTH_WORKER_TIMEOUT_SECONDS"])))
            else:
                checks.append(Check("workers", False, {"reason": "broker unreachable"}))
    checks.append(_ending_transaction(check_outbox, float(cfg["HEALTH_OUTBOX_MAX_AGE_SECONDS"])))
    checks.append(check_disk(document_dir(app), int(cfg["HEALTH_MIN_FREE_DISK_BYTES"])))
    return Readiness(tuple(checks))


class CachedReadiness:
    """The last verdict, reused for ``ttl`` seconds; one probe at a time refreshes it."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._value: Readiness | None = None
        self._at = 0.0

    def get(self, app: Flask) -> Readiness:
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl:
                self._value = evaluate(app)
                self._at = time.monotonic()
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._value = None
