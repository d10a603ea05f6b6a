"""Password login per institution, the administrators' page and the ``screening sso`` commands."""

import pytest
from sqlmodel import select

from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.sso import service
from tests.web.helpers import PASSWORD, csrf_token_from


def password_login(client, user):
    return client.post("/login", data={"email": user.email, "password": PASSWORD})


def test_switched_off_password_login_refuses_researchers_but_not_admins(client, factory, institution):
    researcher = factory.user(institution, "researcher")
    admin = factory.user(institution, "institution_admin")
    service.set_password_login(db.session, None, institution, False)
    db.session.commit()
    refused = password_login(client, researcher)
    assert refused.status_code == 200 and "Invalid e-mail or password" in refused.get_data(as_text=True)
    assert password_login(client, admin).status_code == 302


def test_password_login_of_other_institutions_is_untouched(client, factory, institution):
    other = factory.institution(slug="uni-b", name="Universität B")
    service.set_password_login(db.session, None, institution, False)
    db.session.commit()
    assert password_login(client, factory.user(other, "researcher")).status_code == 302


def test_sso_still_signs_researchers_in_when_password_login_is_off(client, idp, saml_provider, institution):
    from .idp import researcher_attributes

    service.set_password_login(db.session, None, institution, False)
    db.session.commit()
    login = client.get("/sso/uni-a-saml/login").headers["Location"]
    assert client.post("/sso/saml/acs", data=idp.answer(login, researcher_attributes())).status_code == 302


def test_the_login_page_links_to_single_sign_on(client, saml_provider):
    assert 'href="/sso/?next=' in client.get("/login?next=/proposals/").get_data(as_text=True)
    page = client.get("/sso/").get_data(as_text=True)
    assert "Universität A" in page and "/sso/uni-a-saml/login" in page


def test_provider_names_are_escaped(client, institution):
    service.configure_oidc_provider(db.session, None, institution, slug="uni-a-oidc",
                                    display_name="<script>alert(1)</script>", issuer="https://login.uni-a.example",
                                    client_id="c", client_secret="s" * 20, mapping={"scopes": ["uni-a.example"]})
    db.session.commit()
    page = client.get("/sso/").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.usefixtures("csrf_enabled")
def test_the_admin_switches_password_login_and_providers_with_csrf(client, factory, institution, saml_provider):
    admin = factory.user(institution, "institution_admin")
    factory.login(client, admin)
    page = client.get("/admin/identity-providers")
    assert page.status_code == 200 and saml_provider.entity_id in page.get_data(as_text=True)
    assert client.post("/admin/identity-providers/password-login", data={"password_login": "off"}).status_code == 400
    assert service.password_login_enabled(db.session, institution.id)
    token = csrf_token_from(page.get_data(as_text=True))
    response = client.post("/admin/identity-providers/password-login",
                           data={"password_login": "off", "csrf_token": token})
    assert response.status_code == 303
    assert not service.password_login_enabled(db.session, institution.id)
    toggle = f"/admin/identity-providers/{saml_provider.id}/toggle"
    assert client.post(toggle, data={}).status_code == 400
    assert client.post(toggle, data={"csrf_token": token}).status_code == 303
    db.session.refresh(saml_provider)
    assert not saml_provider.enabled
    actions = {e.action for e in db.session.exec(select(AuditEvent)).all()}
    assert {"sso.password_login_changed", "sso.provider_disabled"} <= actions


def test_the_admin_page_rejects_an_unknown_choice(client, factory, institution):
    factory.login(client, factory.user(institution, "institution_admin"))
    assert client.post("/admin/identity-providers/password-login", data={"password_login": "maybe"}).status_code == 400
    assert service.password_login_enabled(db.session, institution.id)


def test_configuration_is_validated_with_field_messages(institution, idp):
    from screening.core.errors import ValidationFailed

    cases = [
        dict(metadata_xml="<not-xml", mapping={"scopes": ["uni-a.example"]}),
        dict(metadata_xml="<x/>", mapping={"scopes": ["uni-a.example"]}),
        dict(metadata_xml=idp.metadata(), mapping={"scopes": []}),
        dict(metadata_xml=idp.metadata(), mapping={"scopes": ["uni-a.example"], "surprise": 1}),
        dict(metadata_xml=idp.metadata(), mapping={"scopes": ["uni-a.example"],
                                                   "entitlement_roles": {"urn:x": "emperor"}}),
        dict(metadata_xml=idp.metadata(), mapping={"scopes": ["uni-a.example"]}, entity_id="https://other.example"),
    ]
    for case in cases:
        with pytest.raises(ValidationFailed):
            service.configure_saml_provider(db.session, None, institution, slug="uni-a-saml", display_name="A",
                                            **case)
    with pytest.raises(ValidationFailed, match="issuer"):
        service.configure_oidc_provider(db.session, None, institution, slug="x-oidc", display_name="A",
                                        issuer="http://login.uni-a.example", client_id="c", client_secret="s" * 20,
                                        mapping={"scopes": ["uni-a.example"]})


def test_a_federation_aggregate_keeps_only_the_named_entity(institution, idp, tmp_path, sp_metadata):
    from .idp import SamlIdentityProvider

    other = SamlIdentityProvider(tmp_path / "b", "https://idp.uni-b.example/idp/shibboleth", sp_metadata)
    body = "".join(m.split("?>", 1)[-1] for m in (idp.metadata(), other.metadata()))
    aggregate = f'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{body}</md:EntitiesDescriptor>'
    provider = service.configure_saml_provider(db.session, None, institution, slug="uni-a-saml", display_name="A",
                                               metadata_xml=aggregate, entity_id=idp.entity_id,
                                               mapping={"scopes": ["uni-a.example"]})
    assert provider.entity_id == idp.entity_id and other.entity_id not in provider.metadata_xml


def test_the_command_line_adds_lists_and_switches(app, idp, tmp_path, institution):
    metadata = tmp_path / "idp.xml"
    metadata.write_text(idp.metadata())
    from screening.sso.commands import sso_cli

    runner = app.test_cli_runner()
    result = runner.invoke(sso_cli, args=["add-saml", "uni-a", "--slug", "uni-a-saml", "--name", "Universität A",
                                 "--metadata-file", str(metadata), "--scope", "uni-a.example",
                                 "--entitlement", "urn:mace:uni-a.example:committee=committee_member"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(sso_cli, args=["list"])
    assert "uni-a-saml\tuni-a\tsaml\tenabled\thttps://idp.uni-a.example/idp/shibboleth" in listed.output
    assert '"committee_member"' in listed.output
    assert runner.invoke(sso_cli, args=["password-login", "uni-a", "off"]).exit_code == 0
    assert not service.password_login_enabled(db.session, institution.id)
    bad = runner.invoke(sso_cli, args=["add-saml", "uni-a", "--slug", "uni-a-2", "--name", "X",
                              "--metadata-file", str(metadata)])
    assert bad.exit_code == 1 and "scopes" in bad.output and "Traceback" not in bad.output
    oidc = runner.invoke(sso_cli, args=["add-oidc", "uni-a", "--slug", "uni-a-oidc", "--name", "A",
                               "--issuer", "https://login.uni-a.example", "--client-id", "c",
                               "--scope", "uni-a.example"], env={"SCREENING_OIDC_CLIENT_SECRET": "s" * 24})
    assert oidc.exit_code == 0, oidc.output
    assert "s" * 24 not in runner.invoke(sso_cli, args=["list"]).output
