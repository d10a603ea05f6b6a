"""The JSON API: tokens, authentication, problems, validation, mass assignment, pagination,
idempotency, rate limits and the OpenAPI document kept in step with the routes."""

import json

import jsonschema
import pytest
from sqlmodel import func, select

from screening.api import tokens
from screening.api.models import ApiToken
from screening.api.openapi import OPERATIONS
from screening.api.schema import SCHEMA_DIR
from screening.core.database import utcnow
from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.proposals.models import Proposal, ProposalVersion

from .helpers import csrf_token_from, minimal_proposal

RESULT_SCHEMA = json.loads((SCHEMA_DIR / "screening-result.schema.json").read_text())


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def researcher(factory):
    inst = factory.institution()
    user = factory.user(inst, "researcher")
    _, token = tokens.create(db.session, factory.actor(user, inst), "test", "write", 30)
    db.session.commit()
    return inst, user, token


def count(model):
    db.session.expire_all()
    return db.session.exec(select(func.count()).select_from(model)).one()


def assert_problem(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["status"] == status and body["title"] and body["type"] and body["instance"]
    return body


# ----------------------------------------------------------------- OpenAPI in step with the routes

def _openapi_path(rule: str) -> str:
    import re

    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_openapi_document_and_routes_agree(app, client):
    routes = {(_openapi_path(r.rule), m.lower()) for r in app.url_map.iter_rules()
              if r.endpoint.startswith("api.") and r.endpoint != "api.not_found"
              for m in r.methods - {"HEAD", "OPTIONS"}}
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations without a route"
    assert set(OPERATIONS) == documented
    assert doc["openapi"].startswith("3.1")


def test_openapi_document_is_valid_openapi_3_1(client):
    from jsonschema.validators import validator_for

    doc = client.get("/api/v1/openapi.json").get_json()
    for name, schema in doc["components"]["schemas"].items():
        validator_for(schema, default=jsonschema.Draft202012Validator).check_schema(schema)
        assert name
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["responses"] and op["operationId"], path


# ----------------------------------------------------------------- authentication

def test_no_token_is_401_problem(client):
    body = assert_problem(client.get("/api/v1/lists"), 401)
    assert "Bearer" in body["detail"]


def test_cookie_session_alone_is_not_accepted(app, client, factory, csrf_enabled):
    """Scorecard 4: token-only API; a logged-in browser cookie gets 401 and writes nothing."""
    inst = factory.institution()
    user = factory.user(inst)
    factory.login(client, user)
    assert client.get("/proposals/").status_code == 200  # the cookie works for the web pages
    before = count(Proposal)
    r = client.post("/api/v1/proposals", json=minimal_proposal())
    assert_problem(r, 401)
    assert_problem(client.get("/api/v1/proposals"), 401)
    assert count(Proposal) == before


def test_token_works_and_cookie_of_another_user_does_not_change_identity(app, factory, researcher):
    _inst, user, token = researcher
    other = factory.user(factory.institution(), "researcher")
    client = app.test_client()
    factory.login(client, other)
    r = client.post("/api/v1/proposals", json=minimal_proposal(), headers=bearer(token))
    assert r.status_code == 201
    db.session.expire_all()
    assert db.session.get(Proposal, r.get_json()["id"]).owner_id == user.id


def test_lists_name_each_lists_publisher_date(client, researcher):
    _, _, token = researcher
    items = {item["name"]: item for item in client.get("/api/v1/lists", headers=bearer(token)).get_json()["items"]}
    assert items["canada-named-research-organizations"]["published"] == "2024-01-16"
    assert all(item["published"] and item["entries"] for item in items.values())


@pytest.mark.parametrize("header", ["Bearer", "Bearer nope", "Basic abc", "Bearer scr_" + "x" * 43, "bearer"])
def test_bad_tokens_are_401(client, header):
    r = client.get("/api/v1/lists", headers={"Authorization": header})
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_revoked_and_disabled_tokens_are_401(client, factory, researcher):
    inst, user, token = researcher
    assert client.get("/api/v1/lists", headers=bearer(token)).status_code == 200
    row = db.session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    row.expires_at = utcnow()
    db.session.add(row)
    db.session.commit()
    assert_problem(client.get("/api/v1/lists", headers=bearer(token)), 401)
    _, token2 = tokens.create(db.session, factory.actor(user, inst), "second", "read", 7)
    db.session.commit()
    assert client.get("/api/v1/lists", headers=bearer(token2)).status_code == 200
    user.is_active = False
    db.session.add(user)
    db.session.commit()
    assert_problem(client.get("/api/v1/lists", headers=bearer(token2)), 401)


def test_read_scope_cannot_write(client, factory, researcher):
    inst, user, _ = researcher
    _, read_token = tokens.create(db.session, factory.actor(user, inst), "read only", "read", 7)
    db.session.commit()
    assert client.get("/api/v1/proposals", headers=bearer(read_token)).status_code == 200
    assert client.post("/api/v1/screen", json=minimal_proposal(), headers=bearer(read_token)).status_code == 200
    before = count(Proposal)
    body = assert_problem(client.post("/api/v1/proposals", json=minimal_proposal(), headers=bearer(read_token)),
                          403)
    assert "scope" in body["detail"]
    assert count(Proposal) == before


def test_role_withdrawn_takes_effect_at_once(client, factory):
    from screening.accounts.models import Membership

    inst = factory.institution()
    user = factory.user(inst, "researcher", "committee_member")
    _, token = tokens.create(db.session, factory.actor(user, inst), "t", "write", 7)
    db.session.commit()
    assert client.get("/api/v1/proposals", headers=bearer(token)).status_code == 200
    m = db.session.exec(select(Membership).where(Membership.user_id == user.id,
                                                 Membership.role == "researcher")).one()
    db.session.delete(m)
    db.session.commit()
    assert_problem(client.get("/api/v1/proposals", headers=bearer(token)), 403)


def test_rate_limit_per_token_is_429_problem(app, client, researcher):
    _, _, token = researcher
    app.config["API_RATE_LIMIT"] = (3, 60)
    try:
        codes = [client.get("/api/v1/ruleset", headers=bearer(token)).status_code for _ in range(3)]
        r = client.get("/api/v1/ruleset", headers=bearer(token))
    finally:
        app.config["API_RATE_LIMIT"] = (600, 60)
    assert codes == [200, 200, 200]
    assert_problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0


def test_cross_tenant_is_404_and_logged(app, client, factory, researcher, caplog):
    inst, _user, token = researcher
    other_inst = factory.institution()
    victim = factory.user(other_inst, "researcher")
    target = factory.proposal(victim, other_inst, title="Their secret project")
    reader = factory.user(inst, "committee_chair")
    _, reader_token = tokens.create(db.session, factory.actor(reader, inst), "t", "write", 7)
    db.session.commit()
    with caplog.at_level("WARNING"):
        for t in (token, reader_token):
            for url in (f"/api/v1/proposals/{target.id}", f"/api/v1/proposals/{target.id}/versions/1"):
                body = assert_problem(client.get(url, headers=bearer(t)), 404)
                assert "secret" not in json.dumps(body)
        assert_problem(client.put(f"/api/v1/proposals/{target.id}", json=minimal_proposal(title="pwned"),
                                  headers=bearer(token)), 404)
        assert_problem(client.post(f"/api/v1/proposals/{target.id}/submit", headers=bearer(token)), 404)
    assert any("access denied" in rec.getMessage() for rec in caplog.records)
    db.session.expire_all()
    fresh = db.session.get(Proposal, target.id)
    assert fresh.title == "Their secret project" and fresh.status == "draft"
    listed = client.get("/api/v1/proposals", headers=bearer(token)).get_json()["items"]
    assert all(item["id"] != target.id for item in listed)


# ----------------------------------------------------------------- screening

def test_screen_returns_contract_result_and_stores_nothing(client, researcher):
    _, _, token = researcher
    before = (count(Proposal), count(ProposalVersion), count(AuditEvent))
    r = client.post("/api/v1/screen", json=minimal_proposal(reference="row-7"), headers=bearer(token))
    assert r.status_code == 200
    result = r.get_json()
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(result)
    assert result["reference"] == "row-7" and result["language"] == "en"
    assert (count(Proposal), count(ProposalVersion), count(AuditEvent)) == before
    de = client.post("/api/v1/screen", json=minimal_proposal(), headers={**bearer(token), "Accept-Language": "de"})
    assert de.get_json()["language"] == "de"


def test_screen_flags_a_listed_partner(client, researcher):
    _, _, token = researcher
    body = minimal_proposal(partners=[{"name": "Harbin Institute of Technology", "country": "CN",
                                       "type": "university"}], research_fields=["2.3"],
                            technology_areas=["robotics"])
    result = client.post("/api/v1/screen", json=body, headers=bearer(token)).get_json()
    assert result["route"] == "committee"
    assert any(f["category"] == "partner" and f["evidence"].get("partner_index") == 0 for f in result["flags"])


# ----------------------------------------------------------------- validation and problems

def test_validation_errors_point_at_fields(client, researcher):
    _, _, token = researcher
    bad = minimal_proposal(partners=[{"name": "Somewhere", "country": "XX"}], duration_months=999)
    body = assert_problem(client.post("/api/v1/screen", json=bad, headers=bearer(token)), 422)
    pointers = {e["pointer"] for e in body["errors"]}
    assert "/duration_months" in pointers
    bad2 = minimal_proposal(partners=[{"name": "Somewhere", "country": "ZZ"}])
    body2 = assert_problem(client.post("/api/v1/screen", json=bad2, headers=bearer(token)), 422)
    assert {"pointer": "/partners/0/country", "detail": body2["errors"][0]["detail"]} in body2["errors"]


@pytest.mark.parametrize("extra", [{"institution_id": 999}, {"status": "fast_tracked"}, {"owner_id": 1},
                                   {"tier": "low", "route": "fast_track"}])
def test_mass_assignment_is_rejected_and_nothing_changes(client, factory, researcher, extra):
    """Scorecard 3: unknown fields in a JSON body -> 422 naming them; the database is unchanged."""
    inst, user, token = researcher
    draft = factory.proposal(user, inst, title="Original")
    before = count(Proposal)
    r = client.post("/api/v1/proposals", json={**minimal_proposal(), **extra}, headers=bearer(token))
    body = assert_problem(r, 422)
    assert {e["pointer"] for e in body["errors"]} >= {f"/{k}" for k in extra}
    r = client.put(f"/api/v1/proposals/{draft.id}", json={**minimal_proposal(title="Changed"), **extra},
                   headers=bearer(token))
    assert_problem(r, 422)
    assert count(Proposal) == before
    fresh = db.session.get(Proposal, draft.id)
    assert (fresh.title, fresh.status, fresh.institution_id, fresh.owner_id) == ("Original", "draft", inst.id,
                                                                                 user.id)


@pytest.mark.parametrize(("data", "ctype", "status"), [
    (b"{not json", "application/json", 400),
    (b'{"title": "\xff\xfe"}', "application/json", 400),
    (b'{"title": NaN}', "application/json", 400),
    (b'{"title": "Huge", "research_fields": ["1.1"], "partners": [], "duration_months": 1e400}', "application/json",
     400),  # beyond a double: not silently infinity
    (b'{"title": "\\ud800 lone surrogate", "research_fields": ["1.1"], "partners": []}', "application/json", 400),
    (b"[" * 100000 + b"]" * 100000, "application/json", 400),
    (b"title=x", "application/x-www-form-urlencoded", 415),
    (json.dumps(minimal_proposal(title="\u202eevil")).encode(), "application/json", 422),
    (json.dumps(minimal_proposal(title="nul\u0000byte")).encode(), "application/json", 422),
    (json.dumps(minimal_proposal(duration_months="12")).encode(), "application/json", 422),
    (json.dumps([minimal_proposal()]).encode(), "application/json", 422),
])
def test_malformed_bodies_are_4xx_problems(client, researcher, data, ctype, status):
    _, _, token = researcher
    before = count(Proposal)
    for url in ("/api/v1/screen", "/api/v1/proposals"):
        assert_problem(client.post(url, data=data, content_type=ctype, headers=bearer(token)), status)
    assert count(Proposal) == before


def test_oversized_body_is_413(client, researcher):
    _, _, token = researcher
    big = json.dumps(minimal_proposal(abstract="x" * (2 * 1024 * 1024))).encode()
    assert_problem(client.post("/api/v1/screen", data=big, content_type="application/json", headers=bearer(token)),
                   413)


def test_unknown_paths_methods_and_parameters_are_problems(client, researcher):
    _, _, token = researcher
    assert_problem(client.get("/api/v1/nothing-here", headers=bearer(token)), 404)
    r = client.delete("/api/v1/lists", headers=bearer(token))
    assert_problem(r, 405)
    assert r.headers["Allow"] == "GET"
    assert_problem(client.get("/api/v1/lists?debug=1", headers=bearer(token)), 400)
    assert_problem(client.get(f"/api/v1/proposals/{2**40}", headers=bearer(token)), 404)


# ----------------------------------------------------------------- proposals

def test_create_update_submit_read_flow(client, researcher):
    _, _, token = researcher
    r = client.post("/api/v1/proposals", json=minimal_proposal(), headers=bearer(token))
    assert r.status_code == 201
    pid = r.get_json()["id"]
    assert r.headers["Location"].endswith(f"/api/v1/proposals/{pid}")
    r = client.put(f"/api/v1/proposals/{pid}", json=minimal_proposal(title="Renamed project"), headers=bearer(token))
    assert r.status_code == 200 and r.get_json()["title"] == "Renamed project"
    r = client.post(f"/api/v1/proposals/{pid}/submit", headers=bearer(token))
    assert r.status_code == 201
    version = r.get_json()
    assert version["number"] == 1 and version["tier"] in ("low", "medium", "high", "critical")
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(version["result"])
    got = client.get(r.headers["Location"], headers=bearer(token)).get_json()
    assert got == version
    assert client.get(f"/api/v1/proposals/{pid}", headers=bearer(token)).get_json()["status"] in (
        "fast_tracked", "in_review")
    assert_problem(client.put(f"/api/v1/proposals/{pid}", json=minimal_proposal(), headers=bearer(token)), 409)
    assert_problem(client.post(f"/api/v1/proposals/{pid}/submit", headers=bearer(token)), 409)


def test_idempotency_keys_make_one_proposal_and_one_version(client, researcher):
    _, _user, token = researcher
    headers = {**bearer(token), "Idempotency-Key": "create-0001"}
    first = client.post("/api/v1/proposals", json=minimal_proposal(), headers=headers)
    again = client.post("/api/v1/proposals", json=minimal_proposal(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    pid = first.get_json()["id"]
    submit_headers = {**bearer(token), "Idempotency-Key": "submit-0001"}
    s1 = client.post(f"/api/v1/proposals/{pid}/submit", headers=submit_headers)
    s2 = client.post(f"/api/v1/proposals/{pid}/submit", headers=submit_headers)
    assert (s1.status_code, s2.status_code) == (201, 200)
    assert s1.get_json() == s2.get_json()
    assert count(ProposalVersion) == 1
    assert_problem(client.post("/api/v1/proposals", json=minimal_proposal(),
                               headers={**bearer(token), "Idempotency-Key": "bad key!"}), 400)


def test_pagination_with_opaque_stable_cursors(client, factory, researcher):
    inst, user, token = researcher
    ids = [factory.proposal(user, inst, title=f"Project number {i}").id for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/proposals?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=bearer(token)).get_json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor.isascii() and str(seen[-1]) != cursor  # opaque, not the bare id
    assert seen == sorted(ids, reverse=True) and pages == 3
    # A new proposal does not shift the later pages of a walk already under way.
    first = client.get("/api/v1/proposals?limit=2", headers=bearer(token)).get_json()
    factory.proposal(user, inst, title="Newest project")
    second = client.get(f"/api/v1/proposals?limit=2&cursor={first['next_cursor']}", headers=bearer(token))
    assert [i["id"] for i in second.get_json()["items"]] == sorted(ids, reverse=True)[2:4]
    import base64

    signature = first["next_cursor"].split(".")[1]
    forged = base64.urlsafe_b64encode(b'{"after":99999}').decode().rstrip("=") + "." + signature
    for bad in ("abc", forged, str(ids[0])):
        assert_problem(client.get(f"/api/v1/proposals?cursor={bad}", headers=bearer(token)), 400)
    for limit in ("0", "101", "x", "-1"):
        assert_problem(client.get(f"/api/v1/proposals?limit={limit}", headers=bearer(token)), 400)


def test_lists_and_ruleset(client, researcher):
    _, _, token = researcher
    lists = client.get("/api/v1/lists", headers=bearer(token)).get_json()["items"]
    assert lists and all(item["name"] and item["version"] for item in lists)
    rs = client.get("/api/v1/ruleset", headers=bearer(token)).get_json()
    assert rs["version"] and rs["hash"] and rs["rules"] > 0


# ----------------------------------------------------------------- token pages

def test_token_page_creates_shows_once_stores_hash_and_revokes(app, client, factory, csrf_enabled):
    inst = factory.institution()
    user = factory.user(inst)
    factory.login(client, user)
    page = client.get("/account/tokens/").get_data(as_text=True)
    csrf = csrf_token_from(page)
    r = client.post("/account/tokens/", data={"name": "<script>x</script>", "scope": "write",
                                             "expires_in_days": "30", "csrf_token": csrf})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    import re

    token = re.search(r'<code id="new-token">(scr_[A-Za-z0-9_-]+)</code>', html).group(1)
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    row = db.session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert row.token_hash != token and token not in json.dumps(row.model_dump(), default=str)
    assert token not in client.get("/account/tokens/").get_data(as_text=True)  # shown only once
    assert client.get("/api/v1/proposals", headers=bearer(token)).status_code == 200
    # Without a CSRF token neither create nor revoke does anything.
    assert client.post("/account/tokens/", data={"name": "x", "scope": "read", "expires_in_days": "7"}
                       ).status_code == 400
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 400
    assert client.get("/api/v1/proposals", headers=bearer(token)).status_code == 200
    r = client.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 302
    assert_problem(client.get("/api/v1/proposals", headers=bearer(token)), 401)
    assert count(ApiToken) == 1


def test_token_form_rejects_unknown_scope_and_expiry(client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    factory.login(client, user)
    for data in ({"name": "x", "scope": "admin", "expires_in_days": "30"},
                 {"name": "x", "scope": "read", "expires_in_days": "100000"},
                 {"name": "", "scope": "read", "expires_in_days": "30"}):
        assert client.post("/account/tokens/", data=data).status_code == 400
    assert count(ApiToken) == 0


def test_another_users_token_cannot_be_revoked(client, factory, researcher):
    inst, user, token = researcher
    row = db.session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    intruder = factory.user(inst, "institution_admin")
    factory.login(client, intruder)
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 404
    assert client.get("/api/v1/lists", headers=bearer(token)).status_code == 200


def test_auth_cache_is_bounded_and_never_serves_writes(app, client, factory, researcher):
    """Production caches read-call token resolution per worker for API_AUTH_CACHE_SECONDS."""
    import time

    _inst, user, token = researcher
    app.config["API_AUTH_CACHE_SECONDS"] = 0.5
    try:
        assert client.get("/api/v1/lists", headers=bearer(token)).status_code == 200
        user.is_active = False
        db.session.add(user)
        db.session.commit()
        assert_problem(client.post("/api/v1/proposals", json=minimal_proposal(), headers=bearer(token)), 401)
        time.sleep(0.6)
        assert_problem(client.get("/api/v1/lists", headers=bearer(token)), 401)
    finally:
        app.config["API_AUTH_CACHE_SECONDS"] = 0
        app.extensions.pop("api_auth_cache", None)


def test_auth_cache_forgets_a_token_revoked_in_this_process(app, client, factory, researcher):
    _inst, user, token = researcher
    app.config["API_AUTH_CACHE_SECONDS"] = 60
    try:
        assert client.get("/api/v1/lists", headers=bearer(token)).status_code == 200
        row = db.session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).one()
        factory.login(client, user)
        assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 302
        assert_problem(client.get("/api/v1/lists", headers=bearer(token)), 401)
    finally:
        app.config["API_AUTH_CACHE_SECONDS"] = 0
        app.extensions.pop("api_auth_cache", None)
