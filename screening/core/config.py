"""Configuration defaults and the production safety check.

Order of precedence: the defaults below, then ``SCREENING_*`` environment variables
(``app.config.from_prefixed_env("SCREENING")``), or a dict passed to ``create_app`` (tests).
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-not-secret"  # noqa: S105 - the known-bad default production refuses


def defaults(instance_path: str) -> dict:
    return {
        "ENV": "development",
        "SECRET_KEY": None,
        "DATABASE_URL": f"sqlite:///{Path(instance_path) / 'screening.core.migrations'}",
        "REDIS_URL": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_NAME": "screening_session",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "SESSION_MAX_AGE_SECONDS": 12 * 3600,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # The bulk import's upload route only (SCREENING_MAX_IMPORT_BYTES); everything else keeps 1 MiB.
        "MAX_IMPORT_BYTES": 10 * 1024 * 1024,
        "MAX_FORM_MEMORY_SIZE": 512 * 1024,
        "MAX_FORM_PARTS": 2000,
        "MAX_FORM_FIELDS": 2000,
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": 3600 * 8,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": ["en", "de"],
        # Login throttling: (attempts, window seconds). No permanent lockout: the window slides on.
        "LOGIN_LIMIT_ACCOUNT": (5, 300),
        "LOGIN_LIMIT_ADDRESS": (30, 300),
        "RATELIMIT_STORAGE": None,  # None: memory when no REDIS_URL, else redis
        "CELERY": {},
        "SQLITE_BUSY_TIMEOUT_MS": 5000,
        # Notifications (screening/notifications/; docs/web.md "Notifications").
        "BASE_URL": "http://127.0.0.1:5000",  # links in e-mails
        "MAIL_FROM": "Research screening <screening@localhost>",
        "MAIL_TRANSPORT": None,  # None: "smtp" if MAIL_SMTP_HOST, "memory" when TESTING, else "file"
        "MAIL_FILE_DIR": None,  # None: instance/mail
        "MAIL_SMTP_HOST": None,
        "MAIL_SMTP_PORT": 587,
        "MAIL_SMTP_USER": None,
        "MAIL_SMTP_PASSWORD": None,
        "MAIL_SMTP_STARTTLS": True,
        "MAIL_SMTP_SSL": False,
        "MAIL_SMTP_TIMEOUT": 10,
        # Reverse proxies in front of gunicorn whose X-Forwarded-For/-Proto are trusted (deploy/nginx: 1).
        # 0 trusts none: behind a proxy every client then looks like 127.0.0.1 to the login throttle.
        "TRUSTED_PROXY_HOPS": 0,
        # SAML service provider key pair (docs/sso.md); unset outside production: made in instance/saml/.
        "SAML_SP_KEY_FILE": None,
        "SAML_SP_CERT_FILE": None,
    }


def finalise(app) -> None:
    """Derive dependent settings after all sources are applied."""
    cfg = app.config
    production = is_production(app)
    if cfg.get("SECRET_KEY") is None and not production:
        cfg["SECRET_KEY"] = _instance_secret(app.instance_path) if not app.testing else secrets.token_hex(32)
    if production:
        cfg["SESSION_COOKIE_SECURE"] = True
    cfg.setdefault("SQLALCHEMY_ENGINES", {})
    cfg["SQLALCHEMY_ENGINES"] = {"default": _engine_options(cfg["DATABASE_URL"], cfg)}
    celery = {
        "broker_url": cfg["REDIS_URL"] or "memory://",
        "result_backend": None,
        "task_always_eager": not cfg["REDIS_URL"],
        "task_eager_propagates": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "broker_transport_options": {"visibility_timeout": 3600},
        "broker_connection_retry_on_startup": True,
        # Outbox tasks are idempotent: acknowledge after the work, one task at a time per process.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "beat_schedule": {
            "outbox-sweep": {"task": "screening.outbox.sweep", "schedule": 60.0},
            # Portfolio monitoring: a new list version or rule set starts a re-screen; weekly full re-screen.
            "portfolio-monitor": {"task": "screening.portfolio.monitor", "schedule": 300.0},
            "portfolio-rescreen": {"task": "screening.portfolio.rescreen", "schedule": 7 * 24 * 3600.0},
            # Committee review: notify each committee once about cases past their due date.
            "review-notify-overdue": {"task": "screening.review.notify_overdue", "schedule": 3600.0},
            # Data protection: delete or pseudonymise what each institution's retention policy lets go.
            "privacy-retention": {"task": "screening.privacy.retention", "schedule": 24 * 3600.0},
        },
        "timezone": "UTC",
        "enable_utc": True,
    }
    celery.update(cfg.get("CELERY") or {})
    cfg["CELERY"] = celery
    if cfg.get("RATELIMIT_STORAGE") is None:
        cfg["RATELIMIT_STORAGE"] = cfg["REDIS_URL"] or "memory://"


def _engine_options(url: str, cfg) -> dict:
    from screening.core.database import json_text, json_value

    json_options = {"json_serializer": json_text, "json_deserializer": json_value}
    if url.startswith("sqlite"):
        return {"url": url, **json_options, "connect_args": {"timeout": cfg["SQLITE_BUSY_TIMEOUT_MS"] / 1000}}
    return {"url": url, **json_options, "pool_pre_ping": True}


def _instance_secret(instance_path: str) -> str:
    """Embedded default: a random key kept in instance/secret_key, made on first start."""
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def is_production(app) -> bool:
    return str(app.config.get("ENV", "")).lower() == "production"


class UnsafeConfiguration(RuntimeError):
    """Production start-up refused; the message lists every reason."""


def check_production(app) -> None:
    if not is_production(app):
        return
    cfg = app.config
    problems = []
    key = cfg.get("SECRET_KEY")
    if not key:
        problems.append("SCREENING_SECRET_KEY is missing")
    elif key == DEFAULT_SECRET_KEY or len(str(key)) < 32:
        problems.append("SCREENING_SECRET_KEY is a default or shorter than 32 characters")
    if cfg.get("DEBUG") or app.debug:
        problems.append("debug mode is on (unset FLASK_DEBUG / SCREENING_DEBUG)")
    if cfg.get("TESTING"):
        problems.append("TESTING is on")
    celery = cfg.get("CELERY") or {}
    accepted = {str(x).lower() for x in celery.get("accept_content", [])}
    serializers = {str(celery.get(k, "json")).lower() for k in ("task_serializer", "result_serializer")}
    if any("pickle" in x for x in accepted | serializers):
        problems.append("Celery must accept and send JSON only; pickle is configured")
    if cfg.get("MAIL_SMTP_USER") and not (cfg.get("MAIL_SMTP_STARTTLS") or cfg.get("MAIL_SMTP_SSL")):
        problems.append("the SMTP password would travel unencrypted (set SCREENING_MAIL_SMTP_STARTTLS or _SSL)")
    if str(cfg.get("MAIL_TRANSPORT") or "").lower() == "memory":
        problems.append("SCREENING_MAIL_TRANSPORT=memory keeps mail in memory (tests only)")
    if problems:
        raise UnsafeConfiguration("refusing to start in production: " + "; ".join(problems))
