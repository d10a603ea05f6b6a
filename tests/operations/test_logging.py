"""Logs: JSON lines or text, one request id end to end, and never a secret or proposal text."""

import io
import json
import logging
import sys
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from screening import create_app
from screening.api import tokens
from screening.core.extensions import db
from screening.operations import logs
from screening.operations.logs import (
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    log_format,
    log_line,
    make_handler,
    mask_secrets,
)
from screening.operations.setup import log_answer
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


# ----------------------------------------------------------------- the access line, written directly

ACCESS_FIELDS = {"request_id": "direct-0001", "route": "api.screen", "user_id": 7, "institution_id": 3,
                 "method": "POST", "status": 200, "duration_ms": 0.4}


@pytest.fixture
def production_logging(monkeypatch):
    """Logging as ``configure_logging`` leaves it in production, inside ``with production_logging.on()``:
    one JSON handler on stderr (a buffer here) and nothing else (pytest swaps stderr and adds its
    capture handlers once the test runs); ``records`` counts the log records made."""
    logged = SimpleNamespace(stream=io.StringIO(), records=[])
    make_record = logging.Logger.makeRecord

    def counting(self, *args, **kwargs):
        logged.records.append(args[0])
        return make_record(self, *args, **kwargs)

    monkeypatch.setattr(logging.Logger, "makeRecord", counting)

    @contextmanager
    def on():
        root = logging.getLogger()
        handlers, level, stderr = root.handlers[:], root.level, sys.stderr
        root.handlers[:] = [make_handler("json")]
        root.setLevel(logging.INFO)
        sys.stderr = logged.stream
        try:
            yield
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
            sys.stderr = stderr

    logged.on = on
    return logged


def test_the_access_line_skips_the_logging_machinery_and_is_the_line_it_would_write(production_logging):
    access = logging.getLogger("screening.request")
    with production_logging.on():
        log_line(access, logging.INFO, "request", dict(ACCESS_FIELDS))
        assert production_logging.records == []
        access.log(logging.INFO, "request", extra=dict(ACCESS_FIELDS))
    assert production_logging.records == ["screening.request"]
    direct, machinery = (json.loads(line) for line in production_logging.stream.getvalue().splitlines())
    assert direct.pop("time")[:16] == machinery.pop("time")[:16]  # the same minute, both in UTC
    assert direct == machinery == {"level": "INFO", "logger": "screening.request", "message": "request",
                                   **ACCESS_FIELDS}


def test_an_access_line_below_the_level_is_not_written(production_logging):
    with production_logging.on():
        log_line(logging.getLogger("screening.request"), logging.DEBUG, "request", dict(ACCESS_FIELDS))
    assert production_logging.stream.getvalue() == ""


def test_any_other_logging_set_up_gets_the_record(production_logging):
    extra = logging.StreamHandler(io.StringIO())
    with production_logging.on():
        logging.getLogger().addHandler(extra)
        log_line(logging.getLogger("screening.request"), logging.INFO, "request", dict(ACCESS_FIELDS))
    assert production_logging.records == ["screening.request"]
    assert json.loads(production_logging.stream.getvalue())["request_id"] == "direct-0001"
    assert extra.stream.getvalue() == "request\n"


def test_a_request_written_directly_carries_its_context(client, factory, production_logging):
    institution = factory.institution()
    user = factory.user(institution)
    factory.login(client, user, institution)
    with production_logging.on():
        client.get("/account", headers={"X-Request-ID": "ctx-direct-0001"})
    assert "screening.request" not in production_logging.records
    [entry] = [e for e in map(json.loads, production_logging.stream.getvalue().splitlines())
               if e["message"] == "request"]
    assert entry["request_id"] == "ctx-direct-0001" and entry["route"] == "auth.account"
    assert entry["user_id"] == user.id and entry["institution_id"] == institution.id
    assert entry["method"] == "GET" and entry["status"] == 200 and entry["duration_ms"] >= 0


def test_a_line_logged_inside_a_task_names_the_task(app, captured):
    celery = app.extensions["celery"]

    @celery.task(name="tests.logging.inside")
    def inside():
        logging.getLogger("screening.tests").info("working")

    result = inside.apply()
    [entry] = [e for e in json_lines(captured) if e["message"] == "working"]
    assert entry["task"] == "tests.logging.inside" and entry["task_id"] == result.id


def test_an_answers_line_does_not_look_for_a_task(client, factory, production_logging, monkeypatch):
    """The answer's line is written after the view, so after any task it ran in-process: asking
    Celery for the current task on every request would cost time for nothing."""

    def no_task_here():
        raise AssertionError("the access line asked for a task")

    monkeypatch.setattr(logs, "_task_context", no_task_here)
    with production_logging.on():
        client.get("/no-such-page")
        log_answer("api.screen", "POST", 200, 0.001, request_id="no-task-0001", route="api.screen")
    entries = [json.loads(line) for line in production_logging.stream.getvalue().splitlines()]
    assert [e["message"] for e in entries] == ["request", "request"]
    assert "task" not in entries[1] and entries[1]["request_id"] == "no-task-0001"
