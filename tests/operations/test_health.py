"""/health/live and /health/ready: JSON verdicts, failing checks named, no personal data, cached."""

import os
import socket
from datetime import timedelta

import pytest
from sqlalchemy import text

from screening import create_app
from screening.core.database import utcnow
from screening.core.extensions import db
from screening.core.models import OutboxMessage
from tests.web.conftest import base_config
from tests.web.helpers import spare_redis_url

REDIS_URL = os.environ.get("SCREENING_TEST_REDIS_URL")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stuck_message(age: timedelta) -> None:
    db.session.add(OutboxMessage(task="mail.send", payload={}, status="pending", created_at=utcnow() - age))
    db.session.commit()


@pytest.fixture
def broker(app):
    """Point the app at a broker for one test (Celery not eager), then back to the embedded default."""
    celery = app.extensions["celery"]

    def configure(url: str) -> None:
        app.config["REDIS_URL"] = url
        celery.conf.broker_url = url
        celery.conf.task_always_eager = False

    yield configure
    app.config["REDIS_URL"] = None
    celery.conf.broker_url = "memory://"
    celery.conf.task_always_eager = True


def test_live_answers_without_a_session_or_any_check(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json == {"status": "alive"}
    assert "Set-Cookie" not in response.headers


def test_ready_on_a_migrated_embedded_installation(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "ready" and body["failing"] == []
    assert set(body["checks"]) == {"database", "outbox", "disk"}  # eager Celery, no Redis: nothing else applies
    assert body["checks"]["outbox"]["pending"] == 0
    assert response.headers["Cache-Control"] == "no-store"


def test_an_unmigrated_database_is_not_ready(tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path))
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["failing"] == ["database", "outbox"]
    assert response.json["checks"]["database"]["reason"] == "not migrated (no alembic_version table)"


def test_a_database_behind_its_migration_head_is_not_ready(client):
    db.session.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    db.session.commit()
    response = client.get("/health/ready")
    assert response.status_code == 503
    database = response.json["checks"]["database"]
    assert database["reason"] == "not at the migration head" and database["revision"] == ["older"]


def test_an_unreachable_database_is_named_without_connection_details(tmp_path):
    secret = "s3cret-db-passw0rd"
    url = f"postgresql+psycopg://screening:{secret}@127.0.0.1:{_closed_port()}/screening"
    app = create_app(base_config(url, tmp_path, DOCUMENT_STORE_DIR=str(tmp_path)))
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["failing"] == ["database", "outbox"]
    assert response.json["checks"]["database"]["reason"] == "unreachable (OperationalError)"
    assert secret not in response.text and "screening" not in response.text


def test_an_outbox_message_waiting_beyond_the_limit_makes_it_not_ready(client, app):
    _stuck_message(timedelta(seconds=app.config["HEALTH_OUTBOX_MAX_AGE_SECONDS"] + 60))
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json["failing"] == ["outbox"]
    outbox = response.json["checks"]["outbox"]
    assert outbox["pending"] == 1 and outbox["oldest_age_seconds"] > outbox["limit_seconds"]


def test_a_young_pending_message_is_fine(client):
    _stuck_message(timedelta(seconds=5))
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json["checks"]["outbox"]["pending"] == 1


def test_too_little_free_disk_for_documents_is_not_ready(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "HEALTH_MIN_FREE_DISK_BYTES", 1 << 60)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json["failing"] == ["disk"]


def test_an_unreachable_redis_fails_redis_and_workers(client, broker):
    broker(f"redis://127.0.0.1:{_closed_port()}/7")
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json["failing"] == ["redis", "workers"]
    assert response.json["checks"]["workers"]["reason"] == "broker unreachable"


@pytest.mark.skipif(not REDIS_URL, reason="needs SCREENING_TEST_REDIS_URL")
def test_a_reachable_broker_without_any_worker_is_not_ready_within_the_bound(client, app, broker, monkeypatch):
    broker(spare_redis_url(REDIS_URL))
    monkeypatch.setitem(app.config, "HEALTH_WORKER_TIMEOUT_SECONDS", 0.3)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json["checks"]["redis"]["ok"] is True
    assert response.json["failing"] == ["workers"]
    assert response.json["checks"]["workers"]["reason"] == "no worker answered within 0.3 s"


def test_the_verdict_is_cached_for_a_few_seconds(client, app):
    assert client.get("/health/ready").status_code == 200
    _stuck_message(timedelta(days=1))
    assert client.get("/health/ready").status_code == 200  # the cached verdict
    app.extensions["operations_readiness"].clear()
    assert client.get("/health/ready").status_code == 503


def test_health_answers_name_no_user_or_institution(client, factory):
    institution = factory.institution(name="Universität Geheimhausen")
    factory.user(institution, email="person@geheimhausen.example")
    body = client.get("/health/ready").text
    assert "Geheimhausen" not in body and "@" not in body
