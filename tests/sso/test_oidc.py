"""OpenID Connect sign-in against a real Authlib provider on 127.0.0.1 (discovery, JWKS, code + PKCE)."""

from urllib.parse import parse_qs, urlsplit

import requests
from sqlmodel import select

from screening.accounts.models import User
from screening.core.extensions import db
from screening.core.models import AuditEvent

from .helpers import assert_refused


def authorise(client, op, next_path="/proposals/"):
    """Start at our app, let the provider sign the user in, return our callback's path and query."""
    response = client.get("/sso/uni-a-oidc/login", query_string={"next": next_path})
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(f"{op.issuer}/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    at_provider = requests.get(location, allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert f"{back.scheme}://{back.netloc}" == "https://screening.test"
    return f"{back.path}?{back.query}"



def test_a_researcher_signs_in_with_openid_connect(client, op, oidc_provider):
    response = client.get(authorise(client, op))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/proposals/"
    user = db.session.exec(select(User).where(User.email == "alice@uni-a.example")).one()
    assert user.name == "Alice Example"
    assert client.get("/proposals/").status_code == 200
    login = db.session.exec(select(AuditEvent).where(AuditEvent.action == "sso.login")).one()
    assert login.details["protocol"] == "oidc" and login.institution_id == oidc_provider.institution_id


def test_a_callback_with_an_unknown_state_is_refused(client, op, oidc_provider):
    callback = authorise(client, op)
    forged = callback.replace("state=", "state=forged")
    assert_refused(client.get(forged))


def test_a_callback_in_another_browser_is_refused(client, op, oidc_provider):
    callback = authorise(client, op)
    assert_refused(client.application.test_client().get(callback))


def test_a_callback_cannot_be_used_twice(client, op, oidc_provider):
    callback = authorise(client, op)
    assert client.get(callback).status_code == 302
    assert client.get(callback).status_code == 400


def test_an_id_token_with_another_nonce_is_refused(client, op, oidc_provider):
    op.claim_overrides = {"nonce": "a-nonce-of-another-sign-in"}
    assert_refused(client.get(authorise(client, op)))


def test_an_id_token_for_another_audience_is_refused(client, op, oidc_provider):
    op.claim_overrides = {"aud": ["another-client"]}
    assert_refused(client.get(authorise(client, op)))


def test_an_id_token_from_another_issuer_is_refused(client, op, oidc_provider):
    op.claim_overrides = {"iss": "https://evil.example"}
    assert_refused(client.get(authorise(client, op)))


def test_an_expired_id_token_is_refused(client, op, oidc_provider):
    op.claim_overrides = {"exp": 1_000_000_000, "iat": 999_999_000}
    assert_refused(client.get(authorise(client, op)))


def test_a_provider_that_refuses_gives_a_clear_error(client, op, oidc_provider):
    callback = authorise(client, op)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    assert_refused(client.get("/sso/oidc/callback", query_string={"state": state, "error": "access_denied"}))


def test_a_wrong_code_is_refused(client, op, oidc_provider):
    callback = authorise(client, op)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    assert_refused(client.get("/sso/oidc/callback", query_string={"state": state, "code": "not-a-code"}))


def test_an_unreachable_provider_is_a_clear_error(client, op, oidc_provider):
    from screening.sso import oidc

    op.__exit__(None, None, None)
    oidc._discovery_cache.clear()
    response = client.get("/sso/uni-a-oidc/login")
    assert response.status_code == 502
    assert "could not be reached" in response.get_data(as_text=True)


def test_the_affiliation_claim_maps_to_the_researcher_role_only_within_scope(client, op, oidc_provider):
    op.user = {**op.user, "sub": "bob-sub", "email": "bob@uni-a.example",
               "eduperson_scoped_affiliation": ["faculty@uni-b.example"]}
    assert_refused(client.get(authorise(client, op)), status=403)
