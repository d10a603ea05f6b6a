"""SAML sign-in against a real pysaml2 identity provider posting signed responses to our ACS."""

import logging

import pytest
from sqlmodel import func, select

from screening.accounts.models import Membership, User
from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.sso.models import SeenAssertion

from .conftest import COMMITTEE_ENTITLEMENT
from .helpers import assert_refused, session_count
from .idp import SamlIdentityProvider, researcher_attributes, tamper


def start_login(client, slug="uni-a-saml", next_path="/proposals/"):
    response = client.get(f"/sso/{slug}/login", query_string={"next": next_path})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def roles_of(email: str, institution) -> set[str]:
    user = db.session.exec(select(User).where(User.email == email)).one()
    return set(db.session.exec(select(Membership.role).where(
        Membership.user_id == user.id, Membership.institution_id == institution.id)).all())


def audit_actions() -> list[str]:
    return [e.action for e in db.session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()]



def test_the_login_redirects_to_the_idp_with_a_signed_authn_request(client, idp, saml_provider):
    location = start_login(client)
    assert location.startswith(f"{idp.entity_id}/sso?SAMLRequest=")
    assert "Signature=" in location and "RelayState=" in location


def test_a_researcher_signs_in_and_is_provisioned_just_in_time(client, idp, saml_provider, institution, caplog):
    caplog.set_level(logging.DEBUG)
    form = idp.answer(start_login(client), researcher_attributes())
    response = client.post("/sso/saml/acs", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/proposals/"
    user = db.session.exec(select(User).where(User.email == "alice@uni-a.example")).one()
    assert user.name == "Alice Example"
    assert roles_of(user.email, institution) == {"researcher"}
    assert client.get("/proposals/").status_code == 200
    actions = audit_actions()
    assert {"user.created", "sso.identity_linked", "sso.login"} <= set(actions)
    assert form["SAMLResponse"][:40] not in caplog.text and "alice@uni-a.example" not in caplog.text


def test_a_second_sign_in_finds_the_same_user(client, idp, saml_provider):
    client.post("/sso/saml/acs", data=idp.answer(start_login(client), researcher_attributes()))
    other_browser = client.application.test_client()
    response = other_browser.post("/sso/saml/acs", data=idp.answer(start_login(other_browser), researcher_attributes()))
    assert response.status_code == 302
    assert db.session.exec(select(func.count()).select_from(User)).one() == 1
    assert session_count() == 2


def test_a_tampered_assertion_is_refused(client, idp, saml_provider):
    form = tamper(idp.answer(start_login(client), researcher_attributes()), "Alice Example", "Mallory Example")
    refusal = assert_refused(client.post("/sso/saml/acs", data=form), reason="SAML response refused")
    assert refusal.institution_id == saml_provider.institution_id
    assert refusal.details["provider"] == "uni-a-saml" and refusal.details["protocol"] == "saml"
    assert db.session.exec(select(func.count()).select_from(User)).one() == 0


def test_an_assertion_for_another_audience_is_refused(client, idp, saml_provider):
    form = idp.answer(start_login(client), researcher_attributes(), audience="https://other-sp.example/shibboleth")
    assert_refused(client.post("/sso/saml/acs", data=form), reason="SAML response refused")


def test_an_expired_assertion_is_refused(client, tmp_path, sp_metadata, saml_provider, institution):
    stale_idp = SamlIdentityProvider(tmp_path / "stale", saml_provider.entity_id, sp_metadata, lifetime_minutes=-10)
    from screening.sso import service

    service.configure_saml_provider(db.session, None, institution, slug="uni-a-saml", display_name="Universität A",
                                    metadata_xml=stale_idp.metadata(), mapping=saml_provider.attribute_mapping)
    db.session.commit()
    assert_refused(client.post("/sso/saml/acs", data=stale_idp.answer(start_login(client), researcher_attributes())),
                   reason="SAML response refused")


def test_a_replayed_response_is_refused(client, idp, saml_provider):
    form = idp.answer(start_login(client), researcher_attributes())
    assert client.post("/sso/saml/acs", data=form).status_code == 302
    attacker = client.application.test_client()
    response = attacker.post("/sso/saml/acs", data=form)
    assert response.status_code == 400 and "Sign-in not completed" in response.get_data(as_text=True)
    assert session_count() == 1
    refusal = db.session.exec(select(AuditEvent).where(AuditEvent.action == "sso.login_refused")).one()
    assert refusal.details["reason"] == "unknown, used or expired state"


def test_an_assertion_id_is_accepted_once_across_sign_ins(idp, saml_provider):
    from screening.core.database import utcnow
    from screening.sso import service

    service.remember_assertion(db.session, saml_provider, "_assertion-1", utcnow())
    with pytest.raises(service.SsoError, match="replayed"):
        service.remember_assertion(db.session, saml_provider, "_assertion-1", utcnow())
    assert db.session.exec(select(func.count()).select_from(SeenAssertion)).one() == 1


def test_a_response_signed_by_an_unknown_idp_is_refused(client, tmp_path, sp_metadata, saml_provider):
    impostor = SamlIdentityProvider(tmp_path / "impostor", "https://idp.evil.example/idp/shibboleth", sp_metadata,
                                    endpoint_base=saml_provider.entity_id)
    assert_refused(client.post("/sso/saml/acs", data=impostor.answer(start_login(client), researcher_attributes())),
                   reason="SAML response refused")


def test_a_response_with_a_key_the_metadata_does_not_name_is_refused(client, tmp_path, sp_metadata, saml_provider):
    same_name_other_key = SamlIdentityProvider(tmp_path / "rogue", saml_provider.entity_id, sp_metadata)
    form = same_name_other_key.answer(start_login(client), researcher_attributes())
    assert_refused(client.post("/sso/saml/acs", data=form), reason="SAML response refused")


def test_an_unknown_provider_or_state_gets_a_clear_error(client, idp, saml_provider):
    assert client.get("/sso/no-such-idp/login").status_code == 404
    form = idp.answer(start_login(client), researcher_attributes())
    refusal = assert_refused(client.post("/sso/saml/acs", data={**form, "RelayState": "forged"}),
                             reason="unknown, used or expired state")
    assert refusal.institution_id is None and refusal.details["provider"] is None
    assert_refused(client.post("/sso/saml/acs", data={"SAMLResponse": "%%% not base64", "RelayState": "x"}))
    assert_refused(client.post("/sso/saml/acs", data={}))


def test_garbage_in_a_response_is_a_400_not_a_500(client, saml_provider):
    import base64

    for garbage in (b"<not-saml/>", b"\x00\xff", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"):
        login = client.get("/sso/uni-a-saml/login").headers["Location"]
        relay_state = login.split("RelayState=")[1].split("&")[0]
        from urllib.parse import unquote

        response = client.post("/sso/saml/acs", data={"SAMLResponse": base64.b64encode(garbage).decode(),
                                                      "RelayState": unquote(relay_state)})
        assert response.status_code == 400


def test_an_entitlement_grants_the_committee_role_only_when_mapped(client, idp, saml_provider, institution):
    attributes = researcher_attributes(entitlements=(COMMITTEE_ENTITLEMENT, "urn:mace:uni-a.example:screening:admin"))
    client.post("/sso/saml/acs", data=idp.answer(start_login(client), attributes))
    assert roles_of("alice@uni-a.example", institution) == {"researcher", "committee_member"}


def test_a_withdrawn_entitlement_removes_its_role(client, idp, saml_provider, institution):
    client.post("/sso/saml/acs", data=idp.answer(start_login(client), researcher_attributes(
        entitlements=(COMMITTEE_ENTITLEMENT,))))
    client.post("/sso/saml/acs", data=idp.answer(start_login(client), researcher_attributes()))
    assert roles_of("alice@uni-a.example", institution) == {"researcher"}
    assert "membership.revoked" in audit_actions()


def test_affiliations_never_grant_more_than_researcher(client, idp, saml_provider, institution):
    attributes = researcher_attributes(affiliations=("staff@uni-a.example", "employee@uni-a.example"))
    attributes["eduPersonEntitlement"] = ["committee_chair", "institution_admin"]  # unmapped values
    client.post("/sso/saml/acs", data=idp.answer(start_login(client), attributes))
    assert roles_of("alice@uni-a.example", institution) == {"researcher"}


def test_students_without_a_mapped_affiliation_get_no_account(client, idp, saml_provider):
    attributes = researcher_attributes(affiliations=("student@uni-a.example",))
    assert_refused(client.post("/sso/saml/acs", data=idp.answer(start_login(client), attributes)), status=403)
    assert db.session.exec(select(func.count()).select_from(User)).one() == 0
    assert "sso.login_refused" in audit_actions()


def test_an_identifier_of_another_domain_is_refused(client, idp, saml_provider):
    attributes = researcher_attributes(eppn="bob@uni-b.example", mail="bob@uni-b.example",
                                       affiliations=("faculty@uni-b.example",))
    assert_refused(client.post("/sso/saml/acs", data=idp.answer(start_login(client), attributes)), status=403)


def test_an_idp_never_signs_anybody_into_another_institution(client, factory, idp, saml_provider, institution):
    other = factory.institution(slug="uni-b", name="Universität B")
    bob = factory.user(other, "committee_chair", email="alice@uni-a.example")
    assert_refused(client.post("/sso/saml/acs", data=idp.answer(start_login(client), researcher_attributes())),
                   status=403)
    assert accounts_roles(bob, other) == {"committee_chair"} and accounts_roles(bob, institution) == set()


def accounts_roles(user, institution):
    from screening.accounts import service as accounts

    return set(accounts.roles_in(db.session, user, institution.id))


def test_an_existing_local_account_of_the_institution_is_linked(client, factory, idp, saml_provider, institution):
    existing = factory.user(institution, "international_office", email="alice@uni-a.example")
    response = client.post("/sso/saml/acs", data=idp.answer(start_login(client), researcher_attributes()))
    assert response.status_code == 302
    assert accounts_roles(existing, institution) == {"international_office", "researcher"}


def test_the_next_path_stays_on_this_site(client, idp, saml_provider):
    form = idp.answer(start_login(client, next_path="//evil.example/x"), researcher_attributes())
    assert client.post("/sso/saml/acs", data=form).headers["Location"] == "/"


def test_our_metadata_names_the_acs_and_a_signing_key(client, saml_provider):
    response = client.get("/sso/saml/metadata")
    assert response.status_code == 200 and response.mimetype == "application/samlmetadata+xml"
    body = response.get_data(as_text=True)
    assert 'entityID="https://screening.test/sso/saml/metadata"' in body
    assert "https://screening.test/sso/saml/acs" in body and "X509Certificate" in body


def test_a_disabled_provider_cannot_be_used(client, idp, saml_provider):
    from screening.sso import service

    login = start_login(client)
    service.set_provider_enabled(db.session, None, saml_provider, False)
    db.session.commit()
    assert client.get("/sso/uni-a-saml/login").status_code == 404
    assert_refused(client.post("/sso/saml/acs", data=idp.answer(login, researcher_attributes())))


def test_answers_from_one_address_are_throttled_before_anything_is_written(client, saml_provider, monkeypatch):
    monkeypatch.setitem(client.application.config, "LOGIN_LIMIT_ADDRESS", (3, 300))
    statuses = [client.post("/sso/saml/acs", data={"RelayState": "forged"}).status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 429, 429]
    assert audit_actions().count("sso.login_refused") == 3
