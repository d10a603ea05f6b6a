"""A real ``celery worker`` subprocess for the tests that kill, restart or fault it (scorecard 14-16).

The test app and the worker share a database of their own (data is really committed) and a Redis
database that is flushed before and after each test.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

from screening import create_app
from screening.core import migrations
from screening.core.extensions import db

from .conftest import base_config

VENV_BIN = Path(sys.executable).parent


class Worker:
    """``celery worker`` as a subprocess in its own process group."""

    def __init__(self, app, log_path: Path, **config: str):
        """``config``: further settings of the worker's app, as ``SCREENING_<name>`` variables."""
        self.env = {
            **os.environ,
            "SCREENING_DATABASE_URL": app.config["DATABASE_URL"],
            "SCREENING_REDIS_URL": app.config["REDIS_URL"],
            "SCREENING_SECRET_KEY": app.config["SECRET_KEY"],
            # A killed worker cannot remove its temporary folders: they stay in the test's tmp_path.
            "TMPDIR": str(log_path.parent),
            **{f"SCREENING_{name}": value for name, value in config.items()},
        }
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> "Worker":
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "screening.celery_app", "worker", "--pool=prefork",
             "--concurrency=1", "--prefetch-multiplier=1", "-Q", "celery", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"test-{uuid.uuid4().hex[:6]}@%h"],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.wait_for_log("ready", 60)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"worker exited:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"worker log never showed {text!r} x{count}:\n{self.log()[-3000:]}")

    def children(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    def kill_child(self) -> None:
        children = self.children()
        assert children, "no pool process"
        for pid in children:
            os.kill(pid, signal.SIGKILL)

    def kill_all(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)  # the main process and its pool process at once
        self.proc.wait(10)

    def stop(self) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                    self.proc.wait(20)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    _kill_group(self.proc.pid)
                    self.proc.wait(10)
            elif self.proc is not None:
                _kill_group(self.proc.pid)  # the pool process may outlive a killed main process
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None


def _kill_group(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@contextmanager
def running(worker: Worker, start: bool = True):
    try:
        if start:
            worker.start()
        yield worker
    finally:
        worker.stop()


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


@contextmanager
def migrated_app(database_url: str, files: Path, redis_url: str):
    """An app on a database of its own that hands its tasks to ``redis_url``; its engines disposed afterwards."""
    app = create_app(base_config(database_url, files, REDIS_URL=redis_url))
    migrations.upgrade(app)
    try:
        yield app
    finally:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


@contextmanager
def app_context_with_broker(app):
    """The app's context, its Celery app the current one, its Redis database empty before and after."""
    flush_redis(app.config["REDIS_URL"])
    celery = app.extensions["celery"]
    celery.set_current()
    celery.set_default()
    with app.app_context():
        yield app
        db.session.rollback()
        db.session.close()
    flush_redis(app.config["REDIS_URL"])
