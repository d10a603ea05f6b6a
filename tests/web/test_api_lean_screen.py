"""``POST /api/v1/screen`` answered below Flask's request cycle (screening.api.lean_screen): the
plain case gets exactly the route's answer, log line and metrics; everything else is the route's."""

import logging
from contextlib import contextmanager

import pytest
from flask import request_started
from sqlmodel import select

from screening.api import tokens
from screening.api.models import ApiToken
from screening.core.extensions import db
from screening.operations import logs, metrics

from .helpers import minimal_proposal
from .test_api import bearer

HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]


@pytest.fixture
def cached_tokens(app):
    """Production's token cache (the lean path needs it), emptied afterwards."""
    app.config["API_AUTH_CACHE_SECONDS"] = 60
    app.extensions.pop("api_auth_cache", None)
    yield
    app.config["API_AUTH_CACHE_SECONDS"] = 0
    app.config["API_LEAN_SCREEN"] = True
    app.config["API_RATE_LIMIT"] = (600, 60)
    app.extensions.pop("api_auth_cache", None)


@pytest.fixture
def researcher(factory, cached_tokens):
    """A researcher and their read token."""
    inst = factory.institution()
    user = factory.user(inst, "researcher")
    _, plaintext = tokens.create(db.session, factory.actor(user, inst), "lean", "read", 30)
    db.session.commit()
    return user, plaintext


@pytest.fixture
def token(researcher):
    return researcher[1]


@contextmanager
def route_calls(app):
    """Collects the endpoint of every request that went through Flask's request cycle."""
    seen: list[str] = []

    def started(sender, **_extra):
        seen.append("flask")

    request_started.connect(started, app)
    try:
        yield seen
    finally:
        request_started.disconnect(started, app)


def screen(client, body=None, headers=None, **options):
    return client.post("/api/v1/screen", json=minimal_proposal() if body is None else body,
                       headers=headers, **options)


def comparable(response) -> tuple:
    """Status, headers (the request id's value aside) and body (the screening time aside)."""
    headers = sorted((k, "<id>" if k == "X-Request-ID" else v) for k, v in response.headers.items())
    body = response.get_json()
    if isinstance(body, dict):
        body.pop("screened_at", None)
        body.pop("request_id", None)
    return response.status_code, headers, body


def warm(client, token):
    """One call through the route puts the token into the worker's cache."""
    assert screen(client, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("proposal, language", [
    (minimal_proposal(), None),
    (minimal_proposal(partners=HARBIN, technology_areas=["aerospace"]), None),
    (minimal_proposal(partners=HARBIN, reference="ref-7"), "de-DE,de;q=0.9,en;q=0.5"),
])
def test_a_plain_screening_skips_the_request_cycle_and_is_answered_like_the_route(
        app, client, token, proposal, language):
    headers = {**bearer(token), **({"Accept-Language": language} if language else {})}
    warm(client, token)
    with route_calls(app) as seen:
        lean = screen(client, proposal, headers)
    assert seen == [], "the plain case went through Flask's request cycle"
    app.config["API_LEAN_SCREEN"] = False
    with route_calls(app) as seen:
        routed = screen(client, proposal, headers)
    assert seen == ["flask"]
    assert lean.status_code == 200
    assert comparable(lean) == comparable(routed)
    assert lean.get_json()["language"] == ("de" if language else "en")


def test_the_callers_request_id_is_kept_when_sane_and_replaced_otherwise(app, client, token):
    warm(client, token)
    with route_calls(app) as seen:
        kept = screen(client, headers={**bearer(token), "X-Request-ID": "caller-id-0001"})
        replaced = screen(client, headers={**bearer(token), "X-Request-ID": "bad id\u00e9"})
    assert seen == []
    assert kept.headers["X-Request-ID"] == "caller-id-0001"
    assert len(replaced.headers["X-Request-ID"]) == 16 and replaced.headers["X-Request-ID"] != "bad id"


REFUSED = {
    "no token": (minimal_proposal(), {}, {}),
    "unknown token": (minimal_proposal(), {"Authorization": "Bearer scr_" + "x" * 40}, {}),
    "not a bearer token": (minimal_proposal(), {"Authorization": "Basic dXNlcjpwYXNz"}, {}),
    "not a proposal": ({"title": ""}, None, {}),
    "unknown field": (minimal_proposal(status="approved"), None, {}),
    "not JSON": (None, None, {"data": b"{not json", "content_type": "application/json"}),
    "JSON as text/plain": (None, None, {"data": b"{}", "content_type": "text/plain"}),
    "a query parameter": (minimal_proposal(), None, {"query_string": {"debug": "1"}}),
    "too large": (None, None, {"data": b'{"title": "' + b"x" * (1024 * 1024) + b'"}',
                               "content_type": "application/json"}),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_anything_but_the_plain_case_is_answered_by_the_route(app, client, token, case):
    body, headers, options = REFUSED[case]
    headers = bearer(token) if headers is None else headers
    warm(client, token)

    def call():
        if "data" in options:
            return client.post("/api/v1/screen", headers=headers, **options)
        return screen(client, body, headers, **options)

    with route_calls(app) as seen:
        lean = call()
    assert seen == ["flask"], "the route did not answer"
    assert 400 <= lean.status_code < 500 and lean.mimetype == "application/problem+json"
    app.config["API_LEAN_SCREEN"] = False
    assert comparable(lean) == comparable(call())


def test_a_revoked_token_is_refused_at_once_by_the_worker_that_revoked_it(app, client, factory, researcher):
    user, token = researcher
    warm(client, token)
    row = db.session.exec(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(token))).one()
    factory.login(client, user)
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 302
    with route_calls(app) as seen:
        refused = screen(client, headers=bearer(token))
    assert refused.status_code == 401 and seen == ["flask"]


def test_a_call_is_counted_once_against_the_rate_limit_whoever_answers_it(app, client, token):
    warm(client, token)
    app.extensions["ratelimit_store"].reset()
    app.config["API_RATE_LIMIT"] = (3, 60)
    # The invalid one is counted by the lean path, then answered by the route: it must not count twice.
    assert screen(client, {"title": ""}, bearer(token)).status_code == 422
    assert screen(client, headers=bearer(token)).status_code == 200
    assert screen(client, headers=bearer(token)).status_code == 200
    with route_calls(app) as seen:
        over = screen(client, headers=bearer(token))
    assert over.status_code == 429 and seen == ["flask"]
    assert over.headers["Retry-After"] == "60"


def test_without_the_token_cache_every_call_goes_through_the_route(app, client, token):
    app.config["API_AUTH_CACHE_SECONDS"] = 0
    warm(client, token)
    with route_calls(app) as seen:
        assert screen(client, headers=bearer(token)).status_code == 200
    assert seen == ["flask"]


def answer_records(caplog, client, token) -> tuple[dict, float]:
    """The access log line of one screening (its fields) and the metrics' count of such answers."""
    series = metrics.HTTP_REQUESTS.labels(route="api.screen", method="POST", status="200")
    before = series._value.get()
    context = logs.ContextFilter()  # as production's handler has it: the request's fields
    caplog.handler.addFilter(context)
    try:
        with caplog.at_level(logging.INFO, logger="screening.request"):
            caplog.clear()
            response = screen(client, headers={**bearer(token), "X-Request-ID": "compare-0001"})
    finally:
        caplog.handler.removeFilter(context)
    assert response.status_code == 200
    [record] = [r for r in caplog.records if r.name == "screening.request"]
    fields = {name: getattr(record, name, None) for name in
              ("request_id", "route", "user_id", "institution_id", "method", "status")}
    assert record.getMessage() == "request" and record.levelno == logging.INFO
    assert record.duration_ms >= 0
    return fields, series._value.get() - before


def test_the_access_log_line_and_the_request_metrics_are_the_routes(app, client, token, caplog):
    warm(client, token)
    lean_fields, lean_count = answer_records(caplog, client, token)
    app.config["API_LEAN_SCREEN"] = False
    routed_fields, routed_count = answer_records(caplog, client, token)
    assert lean_fields == routed_fields
    assert lean_fields["request_id"] == "compare-0001" and lean_fields["route"] == "api.screen"
    assert lean_fields["user_id"] is not None and lean_fields["institution_id"] is not None
    assert lean_count == routed_count == 1
