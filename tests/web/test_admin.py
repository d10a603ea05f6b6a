"""The administration pages (/admin): behaviour, bad input and isolation between institutions.

Institution A's administrator works on A; institution B has the same kinds of people, tokens and
providers, and none of them is ever shown to A's administrator or changed by them (404).
"""

import io
import re
from datetime import timedelta

import pytest
from flask import url_for
from sqlmodel import select

from screening.accounts import service as accounts
from screening.accounts.models import Membership, User, UserSession
from screening.admin.models import AccountInvitation
from screening.api import tokens
from screening.api.models import ApiToken
from screening.core.database import utcnow
from screening.core.extensions import db
from screening.core.models import AuditEvent, OutboxMessage
from screening.notifications.transports import memory_outbox
from screening.sso import service as sso
from screening.sso.models import IdentityProvider

from .helpers import audit_events, csrf_token_from


@pytest.fixture
def two(factory):
    """Institutions A and B, each with an administrator and a researcher named alike."""
    a, b = factory.institution(name="Universität A"), factory.institution(name="Universität B")
    return {"a": a, "b": b,
            "admin": factory.user(a, "institution_admin", email="admin@uni-a.example"),
            "researcher": factory.user(a, "researcher", email="rita@uni-a.example"),
            "admin_b": factory.user(b, "institution_admin", email="admin@uni-b.example"),
            "researcher_b": factory.user(b, "researcher", email="rita@uni-b.example")}



def _welcome_link(app, email: str) -> str:
    """The one-time link in the last invitation mail sent to ``email`` (the outbox forgets it once sent)."""
    [mail] = [m for m in memory_outbox(app) if email in m["To"]][-1:]
    return re.search(r"(/admin/welcome/[A-Za-z0-9_-]+)", mail.get_body(("plain",)).get_content())[1]


def _invite(client, **fields):
    data = {"invite-email": "new.member@uni-a.example", "invite-name": "Nora Member",
            "invite-roles": ["committee_member"]}
    data.update(fields)
    return client.post("/admin/users/invite", data=data)


# ---------------------------------------------------------------- users


def test_search_shows_only_people_of_the_own_institution_with_roles_and_last_sign_in(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    accounts.start_session(db.session, two["researcher"], two["a"].id)
    db.session.commit()
    page = client.get("/admin/users?q=rita").get_data(as_text=True)
    assert "rita@uni-a.example" in page and "rita@uni-b.example" not in page
    assert "Researcher" in page and "never" not in page.split("rita@uni-a.example")[1].split("</tr>")[0]
    assert "admin@uni-b.example" not in client.get("/admin/users").get_data(as_text=True)
    # LIKE wildcards are searched for literally
    assert "rita@uni-a.example" not in client.get("/admin/users?q=%25").get_data(as_text=True)


def test_invitation_creates_the_account_sends_a_one_time_link_and_is_audited(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    r = _invite(client, **{"invite-roles": ["committee_member", "researcher"]})
    assert r.status_code == 303
    user = db.session.exec(select(User).where(User.email == "new.member@uni-a.example")).one()
    assert accounts.roles_in(db.session, user, two["a"].id) == {"committee_member", "researcher"}
    [event] = audit_events("user.invited")
    assert event.actor == "admin@uni-a.example" and event.institution_id == two["a"].id
    link = _welcome_link(app, user.email)
    welcome = app.test_client()
    assert welcome.get(link).status_code == 200
    assert welcome.post(link, data={"new_password": "short", "confirm": "short"}).status_code == 400
    r = welcome.post(link, data={"new_password": "a-long-enough-password", "confirm": "a-long-enough-password"})
    assert r.status_code == 303
    assert accounts.authenticate(db.session, user.email, "a-long-enough-password") is not None
    assert welcome.get(link).status_code == 404  # the link works once
    assert audit_events("user.invitation_accepted")


def test_an_expired_or_unknown_invitation_link_is_404(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    _invite(client)
    invitation = db.session.exec(select(AccountInvitation)).one()
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert app.test_client().get(_welcome_link(app, "new.member@uni-a.example")).status_code == 404
    assert app.test_client().get("/admin/welcome/" + "x" * 300).status_code == 404


def test_in_an_sso_only_institution_the_invitation_only_prepares_the_account(app, factory, two):
    sso.configure_oidc_provider(db.session, None, two["a"], slug="uni-a", display_name="Uni A",
                                issuer="https://login.uni-a.example", client_id="c", client_secret="s" * 20,
                                mapping={"scopes": ["uni-a.example"]})
    sso.set_password_login(db.session, None, two["a"], False)
    db.session.commit()
    client = factory.logged_in_client(two["admin"])
    assert "first sign-in" in client.get("/admin/users").get_data(as_text=True)
    assert _invite(client).status_code == 303
    user = db.session.exec(select(User).where(User.email == "new.member@uni-a.example")).one()
    assert accounts.roles_in(db.session, user, two["a"].id) == {"committee_member"}
    assert not db.session.exec(select(AccountInvitation)).all()
    assert not [m for m in db.session.exec(select(OutboxMessage)).all() if m.payload.get("event") == "account_invited"]
    assert audit_events("user.invited")[0].details["sign_in"] == "sso"


@pytest.mark.parametrize("fields, field_error", [
    ({"invite-email": "not-an-address"}, "e-mail"),
    ({"invite-roles": []}, "role"),
    ({"invite-roles": ["superuser"]}, None),
    ({"invite-name": ""}, None),
    ({"invite-name": "Eve\u202eevil"}, None),
    ({"invite-email": "rita@uni-b.example"}, "exists"),
])
def test_bad_invitations_are_refused_with_a_reason_and_change_nothing(app, factory, two, field_error, fields):
    client = factory.logged_in_client(two["admin"])
    users_before = len(db.session.exec(select(User)).all())
    r = _invite(client, **fields)
    assert r.status_code == 400
    if field_error:
        assert field_error in r.get_data(as_text=True)
    db.session.expire_all()
    assert len(db.session.exec(select(User)).all()) == users_before
    assert not audit_events("user.invited")


def test_an_address_of_another_institution_gets_the_same_answer_as_one_of_the_own(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    own = _invite(client, **{"invite-email": "rita@uni-a.example"}).get_data(as_text=True)
    other = _invite(client, **{"invite-email": "rita@uni-b.example"}).get_data(as_text=True)
    assert own.count("an account with this address exists") == other.count("an account with this address exists") == 1


def test_extra_fields_cannot_place_the_account_in_another_institution(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    r = _invite(client, institution_id=str(two["b"].id), **{"invite-institution_id": str(two["b"].id)})
    assert r.status_code == 303
    user = db.session.exec(select(User).where(User.email == "new.member@uni-a.example")).one()
    assert {m.institution_id for m in db.session.exec(select(Membership).where(Membership.user_id == user.id))} \
        == {two["a"].id}


def test_names_are_shown_literally(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    assert _invite(client, **{"invite-name": "<script>alert(1)</script> {{7*7}}"}).status_code == 303
    page = client.get("/admin/users").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}}" in page


def test_disable_ends_the_sessions_and_enable_restores_the_account(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    victim = factory.logged_in_client(two["researcher"])
    assert victim.get("/proposals/").status_code == 200
    assert client.post(f"/admin/users/{two['researcher'].id}/state", data={"active": "off"}).status_code == 303
    db.session.expire_all()
    assert not db.session.get(User, two["researcher"].id).is_active
    assert not db.session.exec(select(UserSession).where(UserSession.user_id == two["researcher"].id)).all()
    assert victim.get("/proposals/").status_code == 302  # the copied cookie is dead
    assert client.post(f"/admin/users/{two['researcher'].id}/state", data={"active": "on"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, two["researcher"].id).is_active
    assert {e.action for e in db.session.exec(select(AuditEvent))} >= {"user.disabled", "user.enabled"}


def test_the_admin_cannot_disable_themselves_nor_someone_who_also_belongs_elsewhere(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    assert client.post(f"/admin/users/{two['admin'].id}/state", data={"active": "off"}).status_code == 400
    shared = two["researcher"]
    shared.multi_institution = True
    accounts.grant_role(db.session, None, shared, two["b"], "researcher")
    db.session.commit()
    r = client.post(f"/admin/users/{shared.id}/state", data={"active": "off"})
    assert r.status_code == 400 and "another institution" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, two["admin"].id).is_active and db.session.get(User, shared.id).is_active


def test_roles_are_granted_and_revoked_in_the_own_institution_only(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    rita = two["researcher"].id
    assert client.post(f"/admin/users/{rita}/roles", data={"role": "committee_chair", "change": "grant"}
                       ).status_code == 303
    assert client.post(f"/admin/users/{rita}/roles", data={"role": "researcher", "change": "revoke"}
                       ).status_code == 303
    assert accounts.roles_in(db.session, two["researcher"], two["a"].id) == {"committee_chair"}
    assert [e.details["role"] for e in audit_events("membership.granted")][-1] == "committee_chair"
    assert audit_events("membership.revoked")[-1].details == {"role": "researcher"}
    r = client.post(f"/admin/users/{rita}/roles", data={"role": "root", "change": "grant"})
    assert r.status_code == 400
    r = client.post(f"/admin/users/{two['admin'].id}/roles", data={"role": "institution_admin", "change": "revoke"})
    assert r.status_code == 400 and "your own administrator role" in r.get_data(as_text=True)


@pytest.mark.parametrize("path, data", [
    ("state", {"active": "off"}),
    ("roles", {"role": "institution_admin", "change": "grant"}),
    ("roles", {"role": "researcher", "change": "revoke"}),
])
def test_people_of_another_institution_are_404_and_untouched(app, factory, two, caplog, path, data):
    client = factory.logged_in_client(two["admin"])
    target = two["researcher_b"]
    with caplog.at_level("WARNING"):
        assert client.post(f"/admin/users/{target.id}/{path}", data=data).status_code == 404
    assert any("access denied" in rec.getMessage() for rec in caplog.records)
    db.session.expire_all()
    assert db.session.get(User, target.id).is_active
    assert accounts.roles_in(db.session, target, two["b"].id) == {"researcher"}
    assert accounts.roles_in(db.session, target, two["a"].id) == frozenset()


@pytest.mark.usefixtures("csrf_enabled")
def test_every_admin_post_needs_its_csrf_token_and_writes_nothing_without_it(app, factory, two):
    provider = sso.configure_oidc_provider(db.session, None, two["a"], slug="uni-a", display_name="Uni A",
                                           issuer="https://login.uni-a.example", client_id="c",
                                           client_secret="s" * 20, mapping={"scopes": ["uni-a.example"]})
    db.session.commit()
    ids = {"user_id": two["researcher"].id, "provider_id": provider.id, "token": "x" * 43,
           "token_id": _token(factory, two["researcher"], two["a"], "script").id}
    client = factory.logged_in_client(two["admin"])
    page = client.get("/admin/users").get_data(as_text=True)
    events_before = len(db.session.exec(select(AuditEvent)).all())
    with app.test_request_context():
        urls = [url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})
                for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.") and "POST" in rule.methods]
    assert len(urls) == 13
    for url in urls:
        for token in (None, "wrong-token"):
            data = {"active": "off", "role": "researcher", "change": "revoke", "password_login": "off",
                    **({"csrf_token": token} if token else {})}
            assert client.post(url, data=data).status_code == 400, url
    assert len(db.session.exec(select(AuditEvent)).all()) == events_before
    assert _invite(client, csrf_token=csrf_token_from(page)).status_code == 303


def test_pages_need_the_institution_admin_role(app, factory, two):
    office = factory.logged_in_client(factory.user(two["a"], "international_office"))
    for url in ("/admin/users", "/admin/committees", "/admin/tokens", "/admin/lists", "/admin/audit",
                "/admin/identity-providers"):
        assert office.get(url).status_code == 403, url
    assert office.post("/admin/users/invite", data={"invite-email": "x@uni-a.example"}).status_code == 403


# ---------------------------------------------------------------- API tokens


def _token(factory, user, inst, name):
    row, _plaintext = tokens.create(db.session, factory.actor(user, inst), name, "read", 30)
    db.session.commit()
    return row


def test_the_admin_lists_and_revokes_the_institutions_tokens_only(app, factory, two):
    own = _token(factory, two["researcher"], two["a"], "Rita's script")
    foreign = _token(factory, two["researcher_b"], two["b"], "B's script")
    client = factory.logged_in_client(two["admin"])
    page = client.get("/admin/tokens").get_data(as_text=True)
    assert "Rita&#39;s script" in page and "B&#39;s script" not in page
    assert client.post(f"/admin/tokens/{foreign.id}/revoke").status_code == 404
    assert client.post(f"/admin/tokens/{own.id}/revoke").status_code == 303
    db.session.expire_all()
    assert db.session.get(ApiToken, own.id).revoked_at is not None
    assert db.session.get(ApiToken, foreign.id).revoked_at is None
    [event] = audit_events("api_token.revoked")
    assert event.details["by"] == "institution_admin" and event.actor == "admin@uni-a.example"


# ---------------------------------------------------------------- identity providers


def _oidc_form(**fields):
    data = {"oidc-slug": "uni-a-login", "oidc-display_name": "Uni A login", "oidc-issuer": "https://login.uni-a.example",
            "oidc-client_id": "screening", "oidc-client_secret": "s" * 32, "oidc-scopes": "uni-a.example",
            "oidc-entitlement_roles": "urn:mace:uni-a.example:screening-office = international_office"}
    data.update(fields)
    return data


def test_the_admin_adds_edits_and_switches_an_identity_provider(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    assert client.post("/admin/identity-providers/oidc", data=_oidc_form()).status_code == 303
    provider = db.session.exec(select(IdentityProvider)).one()
    assert provider.institution_id == two["a"].id
    assert provider.attribute_mapping["entitlement_roles"] == {
        "urn:mace:uni-a.example:screening-office": "international_office"}
    page = client.get("/admin/identity-providers").get_data(as_text=True)
    assert 'value="uni-a-login"' in page and "urn:mace:uni-a.example:screening-office = international_office" in page
    assert client.post("/admin/identity-providers/oidc",
                       data=_oidc_form(**{"oidc-display_name": "Anmeldung Uni A"})).status_code == 303
    db.session.expire_all()
    assert db.session.get(IdentityProvider, provider.id).display_name == "Anmeldung Uni A"
    assert client.post(f"/admin/identity-providers/{provider.id}/toggle").status_code == 303
    db.session.expire_all()
    assert not db.session.get(IdentityProvider, provider.id).enabled
    assert {e.action for e in db.session.exec(select(AuditEvent))} >= {
        "sso.provider_created", "sso.provider_updated", "sso.provider_disabled"}


@pytest.mark.parametrize("fields, message", [
    ({"oidc-issuer": "http://login.uni-a.example"}, "https://"),
    ({"oidc-scopes": "not a domain"}, "domain"),
    ({"oidc-entitlement_roles": "urn:x = superuser"}, "unknown role"),
    ({"oidc-entitlement_roles": "just text"}, "entitlement = role"),
    ({"oidc-slug": "Has Spaces"}, ""),
])
def test_bad_provider_settings_are_refused_at_the_field(app, factory, two, fields, message):
    client = factory.logged_in_client(two["admin"])
    r = client.post("/admin/identity-providers/oidc", data=_oidc_form(**fields))
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert not db.session.exec(select(IdentityProvider)).all()


def test_malformed_saml_metadata_is_a_form_error(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    r = client.post("/admin/identity-providers/saml", data={
        "saml-slug": "uni-a-saml", "saml-display_name": "Uni A", "saml-metadata_xml": "<not-xml",
        "saml-scopes": "uni-a.example"})
    assert r.status_code == 400 and "not well-formed XML" in r.get_data(as_text=True)


def test_another_institutions_provider_is_404_and_not_shown(app, factory, two):
    foreign = sso.configure_oidc_provider(db.session, None, two["b"], slug="uni-b", display_name="Uni B login",
                                          issuer="https://login.uni-b.example", client_id="c",
                                          client_secret="s" * 20, mapping={"scopes": ["uni-b.example"]})
    db.session.commit()
    client = factory.logged_in_client(two["admin"])
    assert "Uni B login" not in client.get("/admin/identity-providers").get_data(as_text=True)
    assert client.post(f"/admin/identity-providers/{foreign.id}/toggle").status_code == 404
    db.session.expire_all()
    assert db.session.get(IdentityProvider, foreign.id).enabled
    # the same slug as B's provider: refused, B's provider unchanged
    r = client.post("/admin/identity-providers/oidc", data=_oidc_form(**{"oidc-slug": "uni-b"}))
    assert r.status_code == 400
    assert db.session.get(IdentityProvider, foreign.id).institution_id == two["b"].id


# ---------------------------------------------------------------- partner lists

LIST_CSV = ("name,aliases,country,category,risk_level,topics,reason,sources\n"
            "Example Defence Academy,EDA,CN,military,very_high,,Trains officers.,https://example.org/eda\n"
            "Example Institute of Optics,,CN,civilian,high,,Hosts a defence laboratory.,https://example.org/eio\n")


def _upload(client, data: bytes, **fields):
    form = {"file": (io.BytesIO(data), "list.csv"), "format": "csv", "name": "admin-test-list",
            "version": "2026-12-01"}
    form.update(fields)
    return client.post("/admin/lists", data=form, content_type="multipart/form-data")


@pytest.fixture
def lists_dir(app, tmp_path, monkeypatch):
    """An installation's own list folder; the re-screen an applied version starts swaps the app's
    screener for one that knows the test list, so the original comes back afterwards."""
    target = tmp_path / "lists"
    target.mkdir()
    monkeypatch.setenv("SCREENING_LISTS_DIR", str(target))
    original = app.extensions.get("screener")
    yield target
    if original is None:
        app.extensions.pop("screener", None)
    else:
        app.extensions["screener"] = original


def test_a_list_upload_is_previewed_and_takes_effect_only_when_confirmed(app, factory, two, lists_dir):
    client = factory.logged_in_client(two["admin"])
    assert _upload(client, LIST_CSV.encode()).status_code == 303
    assert not list(lists_dir.rglob("*.yaml"))  # nothing changed yet
    page = client.get("/admin/lists").get_data(as_text=True)
    assert "Preview: admin-test-list version 2026-12-01" in page
    assert "2 added, 0 removed, 0 changed" in page and "Example Defence Academy" in page
    staged = csrf_free_token(page)
    # another administrator's session cannot apply it
    other = factory.logged_in_client(factory.user(two["a"], "institution_admin"))
    assert other.post("/admin/lists/staged", data={"staged": staged, "decision": "apply"}).status_code == 400
    assert client.post("/admin/lists/staged", data={"staged": staged, "decision": "apply"}).status_code == 303
    assert (lists_dir / "admin-test-list" / "2026-12-01.yaml").is_file()
    [event] = audit_events("list.version_added")
    assert event.details == {"version": "2026-12-01", "entries": 2, "added": 2, "removed": 0, "changed": 0}
    # The next version shows what changes against the applied one.
    changed = LIST_CSV.replace("Trains officers.", "Trains officers and engineers.").rsplit("Example Institute", 1)[0]
    assert _upload(client, changed.encode(), version="2026-12-02").status_code == 303
    page = client.get("/admin/lists").get_data(as_text=True)
    assert "Compared with version 2026-12-01" in page and "0 added, 1 removed, 1 changed" in page
    assert client.post("/admin/lists/staged", data={"staged": csrf_free_token(page), "decision": "discard"}
                       ).status_code == 303
    assert not (lists_dir / "admin-test-list" / "2026-12-02.yaml").exists()
    assert len(audit_events("list.version_added")) == 1


def csrf_free_token(page: str) -> str:
    return page.split('name="staged" value="')[1].split('"')[0]


@pytest.mark.parametrize("data, fields, message", [
    (b"name,country\n", {}, "column"),
    (b"\xff\xfe\x00bad", {}, "cannot read CSV"),
    (LIST_CSV.encode(), {"format": "pickle"}, "Not a valid choice"),
    (LIST_CSV.encode(), {"version": "yesterday"}, ""),
    (LIST_CSV.encode(), {"name": "../../etc"}, ""),
])
def test_bad_list_files_are_refused_and_nothing_is_staged(app, factory, two, lists_dir, data, fields, message):
    client = factory.logged_in_client(two["admin"])
    r = _upload(client, data, **fields)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert not list(lists_dir.rglob("*.yaml"))
    assert "Preview:" not in client.get("/admin/lists").get_data(as_text=True)


def test_a_made_up_staging_token_is_refused(app, factory, two, lists_dir):
    client = factory.logged_in_client(two["admin"])
    for token in ("../../../etc/passwd", "a" * 43, ""):
        assert client.post("/admin/lists/staged", data={"staged": token, "decision": "apply"}).status_code == 400
    assert not audit_events("list.version_added")


def test_an_existing_version_is_refused_before_the_preview(app, factory, two, lists_dir):
    client = factory.logged_in_client(two["admin"])
    _upload(client, LIST_CSV.encode())
    client.post("/admin/lists/staged", data={"staged": csrf_free_token(client.get("/admin/lists").get_data(
        as_text=True)), "decision": "apply"})
    r = _upload(client, LIST_CSV.encode())
    assert r.status_code == 400 and "exists already" in r.get_data(as_text=True)


# ---------------------------------------------------------------- audit log


def test_the_audit_log_shows_the_own_institution_filtered_and_the_chain_status(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    _invite(client)
    factory.logged_in_client(two["admin_b"]).post("/admin/users/invite", data={
        "invite-email": "b.member@uni-b.example", "invite-name": "B Member", "invite-roles": ["researcher"]})
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "The hash chain is intact" in page
    assert "new.member@uni-a.example" in page and "b.member@uni-b.example" not in page
    invited = db.session.exec(select(User).where(User.email == "new.member@uni-a.example")).one()
    filtered = client.get(f"/admin/audit?action=user.invited&actor=admin@uni-a&subject=user:{invited.id}"
                          ).get_data(as_text=True)
    assert "user.invited" in filtered and "membership.granted" not in filtered
    assert "No events match" in client.get("/admin/audit?since=2099-01-01").get_data(as_text=True)
    today = utcnow().date().isoformat()
    assert "user.invited" in client.get(f"/admin/audit?since={today}&until={today}").get_data(as_text=True)


@pytest.mark.parametrize("query", ["action=DROP TABLE", "since=yesterday", "until=2026-13-45",
                                   "subject=user:1:2", "since=99999-01-01"])
def test_bad_audit_filters_are_400(app, factory, two, query):
    assert factory.logged_in_client(two["admin"]).get(f"/admin/audit?{query}").status_code == 400


def test_the_viewer_names_the_first_broken_sequence_number(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    _invite(client)
    event = audit_events("user.invited")[0]
    event.details = {"roles": ["institution_admin"]}
    db.session.commit()
    page = client.get("/admin/audit").get_data(as_text=True)
    assert f"broken at sequence number {event.seq}" in page


def test_the_old_addresses_redirect_to_the_administration_pages(app, factory, two):
    client = factory.logged_in_client(two["admin"])
    assert client.get("/sso/admin").headers["Location"].endswith("/admin/identity-providers")
    assert client.get("/review/admin/conditions").headers["Location"].endswith("/admin/conditions")
    page = client.get("/admin/users").get_data(as_text=True)
    for label in ("Users", "Committees and routing", "Sign-on", "API tokens", "Lists", "Audit log", "Letters"):
        assert f">{label}</a>" in page
