"""/metrics: off by default, bearer token or listed networks, endpoint-name labels, what is counted."""

import pytest
from prometheus_client import REGISTRY

from screening import create_app
from screening.api import tokens
from screening.core.config import UnsafeConfiguration
from screening.core.extensions import db
from screening.core.models import OutboxMessage
from screening.operations.views import NETWORKS_KEY, parse_networks
from tests.web.conftest import base_config
from tests.web.helpers import PASSWORD

TOKEN = "metrics-" + "t" * 40


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    return {"Authorization": f"Bearer {TOKEN}"}


def scrape(client, headers) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return response.text


def test_metrics_are_off_unless_configured(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_a_configured_token_is_required(client, metrics_token):
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    assert client.get("/metrics", headers=metrics_token).status_code == 200


def test_listed_networks_may_scrape_without_a_token_but_never_through_a_proxy(client, app, monkeypatch):
    monkeypatch.setitem(app.extensions, NETWORKS_KEY, parse_networks("127.0.0.1/32, ::1"))
    assert client.get("/metrics").status_code == 200  # the test client's address is 127.0.0.1
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert client.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404


def test_bad_metrics_settings_refuse_to_start(tmp_path):
    with pytest.raises(ValueError, match="not an address or network"):
        create_app(base_config(f"sqlite:///{tmp_path / 'a.db'}", tmp_path,
                               METRICS_ALLOWED_NETWORKS=["10.0.0.0/8", "intranet"]))
    production = {**base_config(f"sqlite:///{tmp_path / 'b.db'}", tmp_path), "ENV": "production", "TESTING": False,
                  "METRICS_TOKEN": "short"}
    with pytest.raises(UnsafeConfiguration, match="SCREENING_METRICS_TOKEN is shorter than 32"):
        create_app(production)


def test_requests_are_counted_by_endpoint_name_never_by_raw_path(client, metrics_token):
    before = sample("screening_http_requests_total", route="documents.verify_code", method="GET", status="404")
    for _ in range(3):
        client.get("/verify/ABCD-EFGH-JKMN-PQRS")
    client.get("/no/such/page/SECRET-LOOKING-PATH")
    body = scrape(client, metrics_token)
    after = sample("screening_http_requests_total", route="documents.verify_code", method="GET", status="404")
    assert after - before == 3
    assert 'route="unmatched"' in body
    assert "ABCD-EFGH" not in body and "SECRET-LOOKING-PATH" not in body
    assert sample("screening_http_request_duration_seconds_count", route="documents.verify_code", method="GET") >= 3


def test_refused_logins_are_counted_by_reason(client, factory):
    institution = factory.institution()
    user = factory.user(institution)
    before = sample("screening_login_failures_total", reason="invalid_credentials")
    client.post("/login", data={"email": user.email, "password": "not the password"})
    assert sample("screening_login_failures_total", reason="invalid_credentials") - before == 1
    ok_before = sample("screening_login_failures_total", reason="invalid_credentials")
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    assert sample("screening_login_failures_total", reason="invalid_credentials") == ok_before
    api_before = sample("screening_login_failures_total", reason="api_token")
    client.get("/api/v1/proposals", headers={"Authorization": "Bearer scr_unknown-token-value-123456"})
    assert sample("screening_login_failures_total", reason="api_token") - api_before == 1


def test_screenings_by_tier_matching_time_letters_and_celery_outcomes(client, factory, metrics_token):
    institution = factory.institution()
    researcher = factory.user(institution)
    low_before = sample("screening_screenings_total", tier="low")
    matching_before = sample("screening_matching_duration_seconds_count")
    letters_before = sample("screening_letters_rendered_total", kind="fast_track_letter")
    runs_before = sample("screening_celery_tasks_total", task="screening.outbox.run", outcome="success")

    factory.proposal(researcher, institution, submit=True)  # low tier: fast track, letter rendered (eager)

    assert sample("screening_screenings_total", tier="low") - low_before == 1
    assert sample("screening_matching_duration_seconds_count") - matching_before == 1
    assert sample("screening_letters_rendered_total", kind="fast_track_letter") - letters_before == 1
    assert sample("screening_letter_render_duration_seconds_count", kind="fast_track_letter") >= 1
    assert sample("screening_celery_tasks_total", task="screening.outbox.run", outcome="success") > runs_before
    body = scrape(client, metrics_token)
    assert 'screening_outbox_handler_runs_total{outcome="done",task="documents.render_fast_track_letter"}' in body


def test_api_screening_is_counted_too(client, factory):
    institution = factory.institution()
    user = factory.user(institution)
    _row, plaintext = tokens.create(db.session, factory.actor(user, institution), "ops", "write", 30)
    db.session.commit()
    before = sample("screening_screenings_total", tier="critical")
    response = client.post("/api/v1/screen", headers={"Authorization": f"Bearer {plaintext}"}, json={
        "title": "Legged robots", "research_fields": ["2.2"], "technology_areas": ["robotics"],
        "partners": [{"name": "Harbin Inst. of Tech.", "country": "CN"}]})
    assert response.status_code == 200, response.json
    assert sample("screening_screenings_total", tier="critical") - before == 1


def test_queue_depth_oldest_message_age_and_import_jobs_come_from_the_database(client, metrics_token):
    db.session.add(OutboxMessage(task="mail.send", payload={}, status="failed"))
    db.session.commit()
    body = scrape(client, metrics_token)
    assert 'screening_outbox_messages{status="failed"} 1.0' in body
    assert 'screening_outbox_messages{status="pending"} 0.0' in body
    assert "screening_outbox_oldest_pending_age_seconds 0.0" in body
    assert 'screening_import_jobs{status="running"} 0.0' in body
