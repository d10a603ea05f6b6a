"""Logs: JSON lines or text, one request id end to end, and never a secret or proposal text."""

import io
import json
import logging
import uuid

import pytest

from screening import create_app
from screening.api import tokens
from screening.core.extensions import db
from screening.operations.logs import ContextFilter, JsonFormatter, TextFormatter, log_format, mask_secrets
from tests.web.conftest import base_config
from tests.web.helpers import PASSWORD, form_post_data

SECRET_TITLE = "Quasar-Lattice Obfuscation Zeta-7741"
SECRET_ABSTRACT = "Confidential abstract about hyperspectral kelp telemetry 0xDEADBEEF"
WRONG_PASSWORD = "Wr0ng-but-Secret-Passphrase-913"


@pytest.fixture
def captured():
    """Every record of every logger at DEBUG, formatted both ways (JSON and text)."""
    streams = {"json": io.StringIO(), "text": io.StringIO()}
    handlers = []
    for fmt, formatter in (("json", JsonFormatter()), ("text", TextFormatter())):
        handler = logging.StreamHandler(streams[fmt])
        handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        handlers.append(handler)
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    yield streams
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(previous)


def json_lines(captured) -> list[dict]:
    return [json.loads(line) for line in captured["json"].getvalue().splitlines() if line.startswith("{")]


def test_a_sane_incoming_request_id_is_kept_and_returned(client, captured):
    response = client.get("/health/live", headers={"X-Request-ID": "lb-2f9c1e77a0"})
    assert response.headers["X-Request-ID"] == "lb-2f9c1e77a0"


@pytest.mark.parametrize("incoming", ["short", "x" * 65, "has space 12345", "<script>x</script>", "ü-non-ascii-id"])
def test_an_unusable_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/health/live", headers={"X-Request-ID": incoming})
    returned = response.headers["X-Request-ID"]
    assert returned != incoming and len(returned) == 16


def test_error_pages_show_the_request_id_of_the_response(client):
    response = client.get("/no/such/page", headers={"X-Request-ID": "support-case-4711"})
    assert response.status_code == 404
    assert "support-case-4711" in response.text and response.headers["X-Request-ID"] == "support-case-4711"


def test_a_failure_page_and_its_log_line_share_the_request_id(tmp_path, captured):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'x.db'}", tmp_path))

    @app.get("/boom")
    def boom():
        raise RuntimeError("exploded")

    response = app.test_client().get("/boom", headers={"X-Request-ID": "trace-boom-0001"})
    assert response.status_code == 500 and "trace-boom-0001" in response.text and "exploded" not in response.text
    errors = [e for e in json_lines(captured) if e["level"] == "ERROR"]
    assert errors and errors[0]["request_id"] == "trace-boom-0001" and "RuntimeError" in errors[0]["exception"]


def test_one_json_line_per_request_with_the_context_fields(client, factory, captured):
    institution = factory.institution()
    user = factory.user(institution)
    factory.login(client, user, institution)
    client.get("/account", headers={"X-Request-ID": "ctx-check-0001"})
    lines = [e for e in json_lines(captured) if e["message"] == "request" and e.get("request_id") == "ctx-check-0001"]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["route"] == "auth.account" and entry["method"] == "GET" and entry["status"] == 200
    assert entry["user_id"] == user.id and entry["institution_id"] == institution.id
    assert entry["level"] == "INFO" and entry["time"].endswith("+00:00") and entry["duration_ms"] >= 0


def test_the_format_follows_the_setting(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    assert log_format(create_app(base_config(url, tmp_path))) == "text"
    assert log_format(create_app(base_config(url, tmp_path, LOG_FORMAT="json"))) == "json"
    with pytest.raises(ValueError, match="SCREENING_LOG_FORMAT must be one of json, text"):
        create_app(base_config(url, tmp_path, LOG_FORMAT="xml"))


def test_tokens_and_statement_parameters_are_masked():
    assert mask_secrets("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    assert mask_secrets("token scr_AbC-123_xyz rejected") == "token scr_[redacted] rejected"
    masked = mask_secrets("IntegrityError\n[SQL: INSERT INTO proposal ...]\n[parameters: ('Secret title', 3)]")
    assert "Secret title" not in masked and "[parameters: hidden]" in masked


def test_no_password_token_or_proposal_text_reaches_any_log_line(app, client, factory, captured):
    institution = factory.institution()
    researcher = factory.user(institution)
    _row, api_token = tokens.create(db.session, factory.actor(researcher, institution), "logs", "write", 30)
    db.session.commit()

    client.post("/login", data={"email": researcher.email, "password": WRONG_PASSWORD})
    assert client.post("/login", data={"email": researcher.email, "password": PASSWORD}).status_code == 302
    posted = client.post("/proposals/new", data=form_post_data(title=SECRET_TITLE, abstract=SECRET_ABSTRACT))
    assert posted.status_code in (200, 302, 303)
    bearer = {"Authorization": f"Bearer {api_token}"}
    created = client.post("/api/v1/proposals", headers={**bearer, "Idempotency-Key": uuid.uuid4().hex},
                          json={"title": SECRET_TITLE, "abstract": SECRET_ABSTRACT, "research_fields": ["1.5"],
                                "partners": [{"name": "University of Copenhagen", "country": "DK"}]})
    assert created.status_code in (200, 201), created.json
    client.post("/api/v1/screen", headers=bearer, json={"title": SECRET_TITLE, "abstract": SECRET_ABSTRACT})
    client.get("/api/v1/proposals", headers={"Authorization": f"Bearer {api_token}x"})  # a wrong token
    client.get("/verify/" + api_token)  # a secret in the path

    output = captured["json"].getvalue() + captured["text"].getvalue()
    assert "request" in output  # something was logged
    for secret in (PASSWORD, WRONG_PASSWORD, api_token, api_token[4:], SECRET_TITLE, SECRET_ABSTRACT):
        assert secret not in output, f"{secret!r} leaked into the logs"
