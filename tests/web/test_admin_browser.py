"""Browser test: an institution administrator on-boards a committee entirely in the browser (issue 14).

The administrator invites a chair and a member, the chair chooses a password through the
invitation's one-time link, the administrator sets up the committee with both as members and
routes the physics faculty to it; the chair then finds the review queue. Screenshots go to
tests/output/.
"""

import re

import pytest
from sqlmodel import select

from screening import create_app
from screening.accounts import service as accounts
from screening.core import migrations
from screening.core.extensions import db
from screening.notifications.transports import memory_outbox

from .browser import OUTPUT, chromium, log_in, serving

pytestmark = [pytest.mark.browser, pytest.mark.no_isolation]

PASSWORD = "browser-admin-password"
CHAIR_PASSWORD = "chair-chose-this-password"


@pytest.fixture
def live_admin(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "a" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'admin-browser.db'}",
                      "DOCUMENT_STORE_DIR": str(tmp_path / "documents")})
    migrations.upgrade(app)
    with app.app_context():
        inst = accounts.create_institution(db.session, None, "browser-admin", "Browser University")
        accounts.create_user(db.session, None, inst, "admin@browser.example", "Ada Admin", PASSWORD,
                             ["institution_admin"])
        db.session.commit()
    with serving(app) as base:
        yield app, base


def _invite(page, email, name, role_label):
    form = page.locator("form[action$='/admin/users/invite']")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Name").fill(name)
    form.get_by_label(role_label, exact=True).check()
    form.get_by_role("button", name="Invite").click()
    page.wait_for_load_state()
    assert email in page.locator("table").inner_text()


def _welcome_link(app, email) -> str:
    with app.app_context():
        [mail] = [m for m in memory_outbox(app) if email in m["To"]]
    return re.search(r"(/admin/welcome/[A-Za-z0-9_-]+)", mail.get_body(("plain",)).get_content())[1]


def test_an_administrator_onboards_a_committee_in_the_browser(live_admin):
    app, base = live_admin
    shots = []
    with chromium() as browser:
        admin = browser.new_context().new_page()
        admin.set_default_timeout(20000)
        log_in(admin, base, "admin@browser.example", PASSWORD)
        admin.get_by_role("link", name="Administration").click()
        admin.wait_for_url("**/admin/users")

        # Invite the chair and a member.
        _invite(admin, "carla.chair@browser.example", "Carla Chair", "Committee chair")
        _invite(admin, "max.member@browser.example", "Max Member", "Committee member")
        shots.append(("admin-users-invited", admin.screenshot(full_page=True)))

        # The chair chooses a password through the invitation's link and signs in.
        chair = browser.new_context().new_page()
        chair.set_default_timeout(20000)
        chair.goto(base + _welcome_link(app, "carla.chair@browser.example"))
        chair.get_by_label("New password", exact=True).fill(CHAIR_PASSWORD)
        chair.get_by_label("Repeat new password").fill(CHAIR_PASSWORD)
        chair.get_by_role("button", name="Set password").click()
        chair.wait_for_url("**/login")

        # Set up the committee: create it, add both members, route the physics faculty to it.
        nav = admin.get_by_role("navigation", name="Administration")
        nav.get_by_role("link", name="Committees and routing").click()
        admin.wait_for_url("**/admin/committees")
        admin.get_by_label("Committee name").fill("Faculty of Physics committee")
        admin.get_by_label("Days to decide").fill("21")
        admin.get_by_role("button", name="Add committee").click()
        admin.wait_for_load_state()
        member_form = admin.locator("form", has=admin.locator("input[name=action][value=member]"))
        for email, role in (("carla.chair@browser.example", "Chair"), ("max.member@browser.example", "Member")):
            member_form.get_by_label("Committee").select_option(label="Faculty of Physics committee")
            member_form.get_by_label("E-mail").fill(email)
            member_form.get_by_label("Role").select_option(label=role)
            member_form.get_by_role("button", name="Add member").click()
            admin.wait_for_load_state()
        rule_form = admin.locator("form", has=admin.locator("input[name=action][value=rule]"))
        rule_form.get_by_label("Committee").select_option(label="Faculty of Physics committee")
        rule_form.get_by_label("Route by").select_option(label="Faculty")
        rule_form.get_by_label("Value").fill("Physics")
        rule_form.get_by_role("button", name="Add rule").click()
        admin.wait_for_load_state()
        text = admin.locator("main").inner_text()
        assert "Carla Chair <carla.chair@browser.example> – Chair" in text
        assert "Max Member <max.member@browser.example> – Member" in text
        assert re.search(r"Faculty\s+Physics\s+Faculty of Physics committee", text)
        shots.append(("admin-committee-set-up", admin.screenshot(full_page=True)))

        # Every step is in the audit log.
        nav.get_by_role("link", name="Audit log").click()
        audit_text = admin.locator("main").inner_text()
        assert "The hash chain is intact" in audit_text
        for action in ("user.invited", "committee.created", "committee.member_added", "routing.rule_added"):
            assert action in audit_text
        shots.append(("admin-audit-log", admin.screenshot(full_page=True)))

        # The chair signs in with the chosen password and reaches the review queue.
        log_in(chair, base, "carla.chair@browser.example", CHAIR_PASSWORD)
        chair.get_by_role("link", name="Review queue").click()
        chair.wait_for_url("**/review/")
    for name, png in shots:
        (OUTPUT / f"{name}.png").write_bytes(png)
    with app.app_context():
        from screening.review.models import Committee, CommitteeMember, RoutingRule

        committee = db.session.exec(select(Committee).where(Committee.name == "Faculty of Physics committee")).one()
        assert len(db.session.exec(select(CommitteeMember).where(CommitteeMember.committee_id == committee.id)
                                   ).all()) == 2
        assert db.session.exec(select(RoutingRule).where(RoutingRule.committee_id == committee.id)).one().value \
            == "Physics"
