"""The README's production recipe, run for real: PostgreSQL, Redis, gunicorn, Celery worker and beat.

Runs in the PostgreSQL pass of `make test` (SCREENING_TEST_DATABASE_URL and SCREENING_TEST_REDIS_URL
set). Every process gets its configuration from SCREENING_* environment variables only.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .conftest import scratch_database

PG_URL = os.environ.get("SCREENING_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SCREENING_TEST_REDIS_URL")
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.no_isolation,
    pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="needs SCREENING_TEST_DATABASE_URL and _REDIS_URL"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def production_env(tmp_path_factory):
    with scratch_database(tmp_path_factory, "prod") as database_url:
        env = {
            **os.environ,
            "SCREENING_ENV": "production",
            "SCREENING_SECRET_KEY": secrets.token_hex(32),
            "SCREENING_DATABASE_URL": database_url,
            "SCREENING_REDIS_URL": REDIS_URL.rsplit("/", 1)[0] + "/7",
            "TMPDIR": str(tmp_path_factory.mktemp("tmp")),  # whatever the processes leave goes with it
        }
        env.pop("FLASK_DEBUG", None)
        yield env


def _run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([*args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _start(env, *args, log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([*args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_production_refuses_to_start_without_a_secret_key(production_env):
    env = {**production_env}
    env.pop("SCREENING_SECRET_KEY")
    proc = _run(env, str(BIN / "screening"), "db", "upgrade")
    assert proc.returncode != 0
    assert "SCREENING_SECRET_KEY is missing" in proc.stdout + proc.stderr


def test_migrate_then_serve_with_gunicorn_and_run_celery_worker_and_beat(production_env, tmp_path):
    migrated = _run(production_env, str(BIN / "screening"), "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    web = _start(
        production_env,
        str(BIN / "gunicorn"),
        "--workers",
        "2",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--reuse-port",
        "--bind",
        f"127.0.0.1:{port}",
        "wsgi:app",
        log=tmp_path / "gunicorn.log",
    )
    worker = _start(
        production_env,
        str(BIN / "celery"),
        "-A",
        "screening.celery_app",
        "worker",
        "--concurrency",
        "1",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
        log=tmp_path / "worker.log",
    )
    beat = _start(
        production_env,
        str(BIN / "celery"),
        "-A",
        "screening.celery_app",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(tmp_path / "beat-schedule"),
        log=tmp_path / "beat.log",
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.3)
        assert health is not None and health.status_code == 200, (tmp_path / "gunicorn.log").read_text()
        login = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert login.status_code == 200
        cookie = login.headers.get("Set-Cookie", "")
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" in login.headers

        pong = None
        while time.monotonic() < deadline:
            pong = _run(production_env, str(BIN / "celery"), "-A", "screening.celery_app", "inspect", "ping", "-t", "3")
            if pong.returncode == 0 and "pong" in pong.stdout:
                break
            time.sleep(1)
        assert pong is not None and "pong" in pong.stdout, (tmp_path / "worker.log").read_text()
        assert worker.poll() is None and beat.poll() is None
        assert "beat: Starting" in (tmp_path / "beat.log").read_text()
    finally:
        _stop(web, worker, beat)
    assert "Exception" not in (tmp_path / "gunicorn.log").read_text(), (tmp_path / "gunicorn.log").read_text()
