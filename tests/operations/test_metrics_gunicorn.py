"""Prometheus multiprocess mode under gunicorn: counts from two workers add up in every scrape."""

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
TOKEN = secrets.token_hex(24)
REQUESTS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"left over from an earlier run")
    env = {
        **os.environ,
        "SCREENING_ENV": "production",
        "SCREENING_SECRET_KEY": secrets.token_hex(32),
        "SCREENING_DATABASE_URL": f"sqlite:///{tmp_path / 'screening.core.database'}",
        "SCREENING_DOCUMENT_STORE_DIR": str(tmp_path / "documents"),
        "SCREENING_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    for name in ("SCREENING_REDIS_URL", "FLASK_DEBUG"):
        env.pop(name, None)
    migrated = subprocess.run([str(BIN / "screening"), "db", "upgrade"], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:screening.operations.gunicorn_config", "--workers", "2",
             "--worker-class", "gthread", "--threads", "2", "--reuse-port", "--bind", f"127.0.0.1:{port}",
             "wsgi:app"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/health/ready", timeout=10)  # any answer: up (not counted below)
                break
            except requests.RequestException:  # not listening yet, or the workers are still booting
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        yield base, multiproc, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _count(body: str, route: str) -> float:
    prefix = f'screening_http_requests_total{{method="GET",route="{route}",status="200"}} '
    values = [float(line[len(prefix):]) for line in body.splitlines() if line.startswith(prefix)]
    return sum(values)


def test_two_workers_counts_add_up_in_every_scrape(gunicorn):
    base, multiproc, log = gunicorn
    for _ in range(REQUESTS):
        with requests.Session() as fresh:  # a new connection each time: the kernel spreads them over both workers
            assert fresh.get(f"{base}/health/live", timeout=5).status_code == 200
    assert not (multiproc / "counter_999999.db").exists()  # the master emptied the folder at start
    writers = {path.stem.rsplit("_", 1)[1] for path in multiproc.glob("counter_*.db")}
    assert len(writers) == 2, "both workers should have counted requests"
    for _ in range(6):  # whichever worker answers the scrape reports the sum over both
        with requests.Session() as fresh:
            response = fresh.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert response.status_code == 200, log.read_text()
        assert _count(response.text, "operations.live") == REQUESTS
    assert requests.get(f"{base}/metrics", timeout=5).status_code == 401
    assert "Traceback" not in log.read_text(), log.read_text()
