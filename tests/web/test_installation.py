"""Installation administrators: the institutions of the installation at /admin/installation/.

The operator makes an account installation administrator with the CLI only. Its holder lists the
institutions, creates one and invites its first administrator; the pages do not exist for anybody
else (404). The flag grants no role anywhere: the installation administrator sees no institution's
proposals, cases, people or API unless they hold a role there.
"""

import re

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import select

from screening import create_app
from screening.accounts import service as accounts
from screening.accounts.commands import users_cli
from screening.accounts.models import Institution, User
from screening.admin.models import AccountInvitation
from screening.api import tokens
from screening.core import migrations
from screening.core.extensions import db
from screening.core.models import AuditEvent, OutboxMessage
from screening.notifications.transports import memory_outbox
from screening.sso import service as sso

from .conftest import base_config, scratch_database
from .helpers import audit_events, csrf_token_from

PAGE = "/admin/installation/"
CREATE = "/admin/installation/institutions"
INVITE = "/admin/installation/invitations"
BEFORE_THE_FLAG = "7f581aba9f4a"


@pytest.fixture
def installation(factory):
    """Two institutions with an administrator and a researcher each, and the operator's account: a
    researcher at the operator's own institution who is installation administrator."""
    a, b = factory.institution(slug="uni-a", name="Universität A"), factory.institution(slug="uni-b",
                                                                                         name="Universität B")
    ops = factory.institution(slug="operator", name="Rechenzentrum")
    operator = factory.user(ops, "researcher", email="ops@rz.example")
    operator.is_installation_admin = True
    db.session.commit()
    return {"a": a, "b": b, "ops": ops, "operator": operator,
            "admin_a": factory.user(a, "institution_admin", email="admin@uni-a.example"),
            "researcher_a": factory.user(a, "researcher", email="rita@uni-a.example"),
            "admin_b": factory.user(b, "institution_admin", email="admin@uni-b.example")}



def _institutions() -> set[str]:
    db.session.expire_all()
    return set(db.session.exec(select(Institution.slug)).all())


def _create(client, **fields):
    return client.post(CREATE, data={"institution-slug": "hs-nord", "institution-name": "Hochschule Nord", **fields})


def _invite(client, institution: Institution, **fields):
    return client.post(INVITE, data={"invite-institution": str(institution.id), "invite-email": "erste@hs-nord.example",
                                     "invite-name": "Erika Erste", **fields})


# ---------------------------------------------------------------- who sees the pages


def test_the_pages_exist_only_for_installation_admins(app, factory, installation):
    anonymous = app.test_client()
    for method, url in (("GET", PAGE), ("POST", CREATE), ("POST", INVITE)):
        r = anonymous.open(url, method=method)
        assert r.status_code == 302 and "/login" in r.headers["Location"], url
    for who in ("researcher_a", "admin_a", "admin_b"):
        client = factory.logged_in_client(installation[who])
        assert client.get(PAGE).status_code == 404, who
        assert _create(client).status_code == 404, who
        assert _invite(client, installation["b"]).status_code == 404, who
    assert _institutions() == {"uni-a", "uni-b", "operator"}
    assert factory.logged_in_client(installation["operator"]).get(PAGE).status_code == 200


def test_a_revoked_or_disabled_installation_admin_no_longer_sees_the_pages(app, factory, installation):
    client = factory.logged_in_client(installation["operator"])
    installation["operator"].is_installation_admin = False
    db.session.commit()
    assert client.get(PAGE).status_code == 404
    installation["operator"].is_installation_admin = True
    accounts.set_active(db.session, None, installation["operator"], False)
    db.session.commit()
    r = client.get(PAGE)
    assert r.status_code == 302 and "/login" in r.headers["Location"]  # disabling ended the session


def test_the_menu_links_the_page_for_installation_admins_only(app, factory, installation):
    admin_a = factory.logged_in_client(installation["admin_a"])
    assert PAGE not in admin_a.get("/admin/users").get_data(as_text=True)
    installation["admin_a"].is_installation_admin = True
    db.session.commit()
    users_page = admin_a.get("/admin/users").get_data(as_text=True)
    assert f'href="{PAGE}"' in users_page and ">Installation<" in users_page
    operator = factory.logged_in_client(installation["operator"])  # no administrator of any institution
    home = operator.get("/account").get_data(as_text=True)
    assert f'href="{PAGE}"' in home and 'href="/admin/"' not in home
    page = operator.get(PAGE).get_data(as_text=True)
    assert 'href="/admin/users"' not in page  # the institution administration is not theirs


def test_the_page_speaks_german(app, factory, installation):
    installation["operator"].language = "de"
    db.session.commit()
    german = factory.logged_in_client(installation["operator"]).get(PAGE).get_data(as_text=True)
    assert "Institutionen dieser Installation" in german and "Institution anlegen" in german
    assert ">Installation<" in german and "Kurzname (in Adressen und Befehlen)" in german


# ---------------------------------------------------------------- the list


def test_the_list_shows_every_institution_with_its_people_proposals_and_creation(app, factory, installation):
    factory.proposal(installation["researcher_a"], installation["a"])
    factory.proposal(installation["researcher_a"], installation["a"], submit=True)
    factory.institution(slug="tricky", name='<script>alert("x")</script> & Co')
    page = factory.logged_in_client(installation["operator"]).get(PAGE).get_data(as_text=True)
    row_a = page.split("Universität A")[1].split("</tr>")[0]
    cells = re.findall(r"<td>(.*?)</td>", row_a)
    assert cells[:4] == ["<code>uni-a</code>", "2", "2", "1"]  # slug, people, proposals, administrators
    assert installation["a"].created_at.strftime("%y") in cells[4]  # the creation date, as a short date
    row_b = page.split("Universität B")[1].split("</tr>")[0]
    assert re.findall(r"<td>(.*?)</td>", row_b)[1:4] == ["1", "0", "1"]
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in page
    assert "rita@uni-a.example" not in page and "admin@uni-b.example" not in page  # sizes, not people


# ---------------------------------------------------------------- creating an institution


def test_creating_an_institution_stores_and_audits_it(app, factory, installation):
    client = factory.logged_in_client(installation["operator"])
    r = _create(client)
    assert r.status_code == 303 and r.headers["Location"].endswith(PAGE)
    created = db.session.exec(select(Institution).where(Institution.slug == "hs-nord")).one()
    assert created.name == "Hochschule Nord"
    [event] = [e for e in audit_events("institution.created") if e.object_id == str(created.id)]
    assert event.actor == "ops@rz.example" and event.actor_id == installation["operator"].id
    assert event.institution_id == created.id and event.details == {"slug": "hs-nord"}
    assert "Hochschule Nord" in client.get(PAGE).get_data(as_text=True)
    # The installation administrator holds no role in the institution they created.
    assert accounts.roles_in(db.session, installation["operator"], created.id) == frozenset()


@pytest.mark.parametrize("slug, message", [
    ("HS-Nord", "lowercase letters, digits and hyphens"),
    ("hs_nord", "lowercase letters, digits and hyphens"),
    ("-hs", "lowercase letters, digits and hyphens"),
    ("hs nord", "lowercase letters, digits and hyphens"),
    ("h", "between 2 and 63"),
    ("h" * 64, "between 2 and 63"),
    ("", "This field is required"),
    ("uni-a", "an institution with this short name exists"),
])
def test_a_bad_or_taken_slug_is_refused_at_the_field_and_nothing_is_stored(app, factory, installation, slug, message):
    client = factory.logged_in_client(installation["operator"])
    events_before = len(db.session.exec(select(AuditEvent)).all())
    r = _create(client, **{"institution-slug": slug, "institution-name": "Another Universität A"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert message in page.split('id="institution-slug-error"')[1].split("</ul>")[0]
    assert _institutions() == {"uni-a", "uni-b", "operator"}
    assert not db.session.exec(select(Institution).where(Institution.name == "Another Universität A")).first()
    assert len(db.session.exec(select(AuditEvent)).all()) == events_before


def test_a_name_is_required(app, factory, installation):
    r = _create(factory.logged_in_client(installation["operator"]), **{"institution-name": "  "})
    assert r.status_code == 400 and "hs-nord" not in _institutions()


# ---------------------------------------------------------------- the first administrator


def _welcome_link(app, email: str) -> str:
    [mail] = [m for m in memory_outbox(app) if email in m["To"]][-1:]
    return re.search(r"(/admin/welcome/[A-Za-z0-9_-]+)", mail.get_body(("plain",)).get_content())[1]


def test_the_first_administrator_gets_the_one_time_link_and_administers_only_their_institution(app, factory,
                                                                                               installation):
    client = factory.logged_in_client(installation["operator"])
    _create(client)
    nord = db.session.exec(select(Institution).where(Institution.slug == "hs-nord")).one()
    assert f'<option value="{nord.id}">' in client.get(PAGE).get_data(as_text=True)
    r = _invite(client, nord)
    assert r.status_code == 303
    erika = db.session.exec(select(User).where(User.email == "erste@hs-nord.example")).one()
    assert accounts.roles_in(db.session, erika, nord.id) == {"institution_admin"}
    [event] = audit_events("user.invited")
    assert event.actor == "ops@rz.example" and event.institution_id == nord.id
    assert event.details["roles"] == ["institution_admin"] and event.details["by_installation_admin"] is True
    assert event.details["sign_in"] == "password"
    welcome = app.test_client()
    link = _welcome_link(app, erika.email)
    r = welcome.post(link, data={"new_password": "a-long-enough-password", "confirm": "a-long-enough-password"})
    assert r.status_code == 303
    assert welcome.post("/login", data={"email": erika.email, "password": "a-long-enough-password"}).status_code == 302
    assert "erste@hs-nord.example" in welcome.get("/admin/users").get_data(as_text=True)
    assert welcome.get(PAGE).status_code == 404  # an institution administrator, not of the installation
    # Now that the institution has its administrator, they invite everybody else.
    assert f'<option value="{nord.id}">' not in client.get(PAGE).get_data(as_text=True)
    r = _invite(client, nord, **{"invite-email": "zweite@hs-nord.example"})
    assert r.status_code == 400 and "this institution has an administrator" in r.get_data(as_text=True)
    assert not db.session.exec(select(User).where(User.email == "zweite@hs-nord.example")).first()


def test_an_institution_whose_administrators_are_all_disabled_may_get_a_new_one(app, factory, installation):
    accounts.set_active(db.session, None, installation["admin_b"], False)
    db.session.commit()
    client = factory.logged_in_client(installation["operator"])
    assert _invite(client, installation["b"], **{"invite-email": "neu@uni-b.example"}).status_code == 303
    new = db.session.exec(select(User).where(User.email == "neu@uni-b.example")).one()
    assert accounts.roles_in(db.session, new, installation["b"].id) == {"institution_admin"}


def test_in_an_sso_only_institution_the_first_administrator_only_waits_for_their_sign_in(app, factory,
                                                                                         installation):
    nord = factory.institution(slug="hs-nord", name="Hochschule Nord")
    sso.configure_oidc_provider(db.session, None, nord, slug="hs-nord", display_name="HS Nord",
                                issuer="https://login.hs-nord.example", client_id="c", client_secret="s" * 20,
                                mapping={"scopes": ["hs-nord.example"]})
    sso.set_password_login(db.session, None, nord, False)
    db.session.commit()
    assert _invite(factory.logged_in_client(installation["operator"]), nord).status_code == 303
    erika = db.session.exec(select(User).where(User.email == "erste@hs-nord.example")).one()
    assert accounts.roles_in(db.session, erika, nord.id) == {"institution_admin"}
    assert not db.session.exec(select(AccountInvitation)).all()
    assert not [m for m in db.session.exec(select(OutboxMessage)).all() if m.payload.get("event") == "account_invited"]
    assert audit_events("user.invited")[0].details["sign_in"] == "sso"


@pytest.mark.parametrize("fields, message", [
    ({"invite-email": "rita@uni-a.example"}, "an account with this address exists"),
    ({"invite-email": "not-an-address"}, "not a valid e-mail address"),
    ({"invite-name": ""}, "This field is required"),
    ({"invite-institution": "999999"}, "Not a valid choice"),
])
def test_bad_invitations_are_refused_with_a_reason_and_change_nothing(app, factory, installation, fields, message):
    nord = factory.institution(slug="hs-nord", name="Hochschule Nord")
    client = factory.logged_in_client(installation["operator"])
    users_before = len(db.session.exec(select(User)).all())
    r = _invite(client, nord, **fields)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    db.session.expire_all()
    assert len(db.session.exec(select(User)).all()) == users_before
    assert not audit_events("user.invited")


@pytest.mark.usefixtures("csrf_enabled")
def test_every_post_needs_its_csrf_token_and_writes_nothing_without_it(app, factory, installation):
    nord = factory.institution(slug="hs-nord", name="Hochschule Nord")
    client = factory.logged_in_client(installation["operator"])
    token = csrf_token_from(client.get(PAGE).get_data(as_text=True))
    events_before = len(db.session.exec(select(AuditEvent)).all())
    for bad in (None, "wrong-token"):
        extra = {"institution-csrf_token": bad, "invite-csrf_token": bad} if bad else {}
        assert _create(client, **{"institution-slug": "hs-sued", **extra}).status_code == 400
        assert _invite(client, nord, **extra).status_code == 400
    assert len(db.session.exec(select(AuditEvent)).all()) == events_before
    assert "hs-sued" not in _institutions()
    # Without a token, somebody else still gets the 404 of an unknown address, not a 400.
    assert _create(factory.logged_in_client(installation["admin_a"])).status_code == 404
    assert _create(client, **{"institution-slug": "hs-sued", "institution-csrf_token": token}).status_code == 303
    assert _invite(client, nord, **{"invite-csrf_token": token}).status_code == 303


# ---------------------------------------------------------------- tenant isolation stays


def test_an_installation_admin_without_a_role_sees_no_institutions_data(app, factory, installation):
    """Acting for institution B (where they hold no role), nothing of B opens, in the pages or the API."""
    proposal = factory.proposal(factory.user(installation["b"], "researcher"), installation["b"], submit=True)
    client = factory.logged_in_client(installation["operator"], installation["b"])
    for url in ("/portfolio/", "/review/", "/proposals/", "/admin/users", "/admin/audit", "/privacy/"):
        assert client.get(url).status_code == 403, url
    assert client.get(f"/proposals/{proposal.id}").status_code in (403, 404)
    actor = accounts.Actor(user=installation["operator"], institution_id=installation["b"].id, roles=frozenset())
    _row, plaintext = tokens.create(db.session, actor, "operator's script", "read", 30)
    db.session.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {plaintext}"}
    for url in ("/api/v1/proposals", f"/api/v1/proposals/{proposal.id}", "/api/v1/cases"):
        r = api.get(url, headers=headers)
        assert r.status_code == 401, (url, r.status_code)  # a token acts for nobody without a role
    # With a token of their own institution (where they are a researcher), B's proposal does not exist.
    own = accounts.Actor(user=installation["operator"], institution_id=installation["ops"].id,
                         roles=frozenset({"researcher"}))
    _row, plaintext = tokens.create(db.session, own, "operator's own script", "read", 30)
    db.session.commit()
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert api.get(f"/api/v1/proposals/{proposal.id}", headers=headers).status_code == 404
    listing = api.get("/api/v1/proposals", headers=headers)
    assert listing.status_code == 200 and "Coastal sediment" not in listing.get_data(as_text=True)


def test_an_installation_admin_who_administers_one_institution_sees_only_that_one(app, factory, installation):
    installation["admin_a"].is_installation_admin = True
    db.session.commit()
    client = factory.logged_in_client(installation["admin_a"])
    assert "admin@uni-b.example" not in client.get("/admin/users?q=uni-b").get_data(as_text=True)
    assert client.post(f"/admin/users/{installation['admin_b'].id}/state", data={"active": "off"}).status_code == 404
    assert client.post("/account/institution", data={"institution": installation["b"].id}).status_code == 403


# ---------------------------------------------------------------- the CLI


def test_the_cli_grants_and_revokes_the_flag_and_audits_both(app, factory, installation):
    runner = app.test_cli_runner()
    result = runner.invoke(users_cli, ["grant-installation-admin", "Admin@Uni-A.example"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "admin@uni-a.example is an installation administrator" in result.output
    db.session.expire_all()
    assert db.session.get(User, installation["admin_a"].id).is_installation_admin
    [granted] = audit_events("user.installation_admin_granted")
    assert granted.object_id == str(installation["admin_a"].id) and granted.institution_id is None
    assert granted.actor_id is None
    result = runner.invoke(users_cli, ["revoke-installation-admin", "admin@uni-a.example"], catch_exceptions=False)
    assert result.exit_code == 0 and "is no longer" in result.output
    db.session.expire_all()
    assert not db.session.get(User, installation["admin_a"].id).is_installation_admin
    assert len(audit_events("user.installation_admin_revoked")) == 1
    # Revoking again changes nothing and records nothing.
    assert runner.invoke(users_cli, ["revoke-installation-admin", "admin@uni-a.example"]).exit_code == 0
    assert len(audit_events("user.installation_admin_revoked")) == 1


@pytest.mark.parametrize("command_name", ["grant-installation-admin", "revoke-installation-admin"])
def test_the_cli_refuses_an_unknown_address_with_one_line_and_status_2(app, installation, command_name):
    result = app.test_cli_runner().invoke(users_cli, [command_name, "nobody@nowhere.example"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: no account with the address 'nobody@nowhere.example'"
    assert not audit_events("user.installation_admin_granted") and not audit_events("user.installation_admin_revoked")


# ---------------------------------------------------------------- the migration


@pytest.mark.no_isolation
def test_the_migration_adds_the_flag_false_for_existing_accounts_and_the_downgrade_removes_it(tmp_path_factory):
    with scratch_database(tmp_path_factory, "installation") as url:
        application = create_app(base_config(url, tmp_path_factory.mktemp("installation-files")))
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        config = migrations.alembic_config(url, app=application)
        try:
            command.upgrade(config, BEFORE_THE_FLAG)
            with engine.begin() as conn:
                conn.execute(sa.text(
                    "INSERT INTO institution (slug, name, created_at) VALUES ('uni-a', 'Universität A', "
                    "CURRENT_TIMESTAMP)"))
                conn.execute(sa.text(
                    "INSERT INTO user_account (email, name, password_hash, is_active, multi_institution, created_at)"
                    " VALUES ('rita@uni-a.example', 'Rita', 'x', true, false, CURRENT_TIMESTAMP)"))
                conn.execute(sa.text(
                    "INSERT INTO membership (user_id, institution_id, role) SELECT u.id, i.id, 'researcher' "
                    "FROM user_account u, institution i"))
            command.upgrade(config, "head")
            with engine.connect() as conn:
                assert not conn.execute(sa.text("SELECT is_installation_admin FROM user_account")).scalar_one()
            command.downgrade(config, BEFORE_THE_FLAG)
            inspector = sa.inspect(engine)
            assert "is_installation_admin" not in {c["name"] for c in inspector.get_columns("user_account")}
            with engine.connect() as conn:  # the account and its role survive the downgrade
                assert conn.execute(sa.text("SELECT count(*) FROM membership")).scalar_one() == 1
            command.upgrade(config, "head")
        finally:
            engine.dispose()
            with application.app_context():
                for app_engine in db.engines.values():
                    app_engine.dispose()
