"""Single logout with the real pysaml2 IdP: started here, and started at the identity provider."""

from urllib.parse import parse_qs, urlsplit

from saml2 import BINDING_HTTP_REDIRECT
from sqlmodel import func, select

from screening.accounts.models import UserSession
from screening.core.extensions import db
from screening.sso.models import SsoSession

from .idp import SamlIdentityProvider, logout_request_url, researcher_attributes


def sign_in(client, idp):
    login = client.get("/sso/uni-a-saml/login").headers["Location"]
    assert client.post("/sso/saml/acs", data=idp.answer(login, researcher_attributes())).status_code == 302
    return db.session.exec(select(SsoSession)).one()


def test_logging_out_here_also_logs_out_at_the_idp(client, idp, saml_provider):
    sign_in(client, idp)
    response = client.post("/sso/logout")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{idp.entity_id}/slo?SAMLRequest=")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    request = idp.server.parse_logout_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                              sigalg=query["SigAlg"], signature=query["Signature"])
    assert request.message.name_id.text == "opaque-persistent-id"
    assert db.session.exec(select(func.count()).select_from(UserSession)).one() == 0


def test_the_log_out_button_on_every_page_starts_single_logout(client, idp, saml_provider):
    sign_in(client, idp)
    page = client.get("/account", follow_redirects=True).get_data(as_text=True)
    assert 'action="/sso/logout"' in page


def test_the_idp_ends_our_session_with_a_signed_logout_request(client, idp, saml_provider):
    link = sign_in(client, idp)
    url = logout_request_url(idp, "https://screening.test/sso/saml/metadata", link.name_id, link.session_index)
    response = client.application.test_client().get(url.replace("https://screening.test", ""))
    assert response.status_code == 302 and response.headers["Location"].startswith(f"{idp.entity_id}/slo?")
    assert "SAMLResponse=" in response.headers["Location"]
    assert db.session.exec(select(func.count()).select_from(UserSession)).one() == 0
    assert client.get("/proposals/").status_code == 302  # the copied cookie no longer works


def test_an_unsigned_or_forged_logout_request_ends_nothing(client, idp, saml_provider, tmp_path, sp_metadata):
    link = sign_in(client, idp)
    url = logout_request_url(idp, "https://screening.test/sso/saml/metadata", link.name_id, link.session_index)
    unsigned = url.split("&Signature=")[0]
    assert client.get(unsigned.replace("https://screening.test", "")).status_code == 400
    rogue = SamlIdentityProvider(tmp_path / "rogue", idp.entity_id, sp_metadata)
    forged = logout_request_url(rogue, "https://screening.test/sso/saml/metadata", link.name_id, link.session_index)
    assert client.get(forged.replace("https://screening.test", "")).status_code == 400
    assert client.get("/sso/saml/slo?SAMLRequest=garbage").status_code == 400
    assert db.session.exec(select(func.count()).select_from(UserSession)).one() == 1


def test_logout_without_a_csrf_token_is_refused(client, idp, saml_provider, csrf_enabled):
    sign_in(client, idp)
    assert client.post("/sso/logout").status_code == 400
    assert db.session.exec(select(func.count()).select_from(UserSession)).one() == 1
