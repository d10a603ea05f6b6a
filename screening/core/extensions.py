"""Extensions, created once at module level and bound to an app with ``init_app``."""

import sqlmodel
from celery import Celery, Task
from flask import Flask
from flask_babel import Babel
from flask_sqlalchemy_lite import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import event

from screening.core.ratelimit import RateLimiter

db = SQLAlchemy(session_options={"class_": sqlmodel.Session, "expire_on_commit": False})
csrf = CSRFProtect()
babel = Babel()
limiter = RateLimiter()


def init_db(app: Flask) -> None:
    db.init_app(app)
    _sync_teardown_only(app)
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _sync_teardown_only(app: Flask) -> None:
    """Drop Flask-SQLAlchemy-Lite's ``async`` teardown when no async engine is configured.

    Flask runs an ``async def`` teardown through ``asgiref.async_to_sync``, which starts a thread
    and an event loop at the end of *every* request (about half a millisecond, on every route),
    only to find that no async session was ever opened. The app uses no async sessions; should an
    async engine be configured some day, the extension's teardown stays as it is.
    """
    if app.config.get("SQLALCHEMY_ASYNC_ENGINES"):
        return
    funcs = app.teardown_appcontext_funcs
    funcs[:] = [f for f in funcs if getattr(f, "__name__", "") != "_close_async_sessions"]


def _configure_sqlite(engine, busy_timeout_ms: int) -> None:
    """WAL, busy timeout, foreign keys, and BEGIN IMMEDIATE for every transaction.

    The driver's own implicit BEGIN is switched off so that a transaction that reads and then
    writes cannot fail at once with "database is locked" under a concurrent writer.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
