"""Browser test (issue 14, done-when): a researcher signs in through the SAML IdP's own login page.

Chromium opens our login page, follows "single sign-on" to the institution's button, lands on the
identity provider's login page (a real pysaml2 IdP served on another loopback port), gives a wrong
and then the right password, and the IdP's signed response posts itself back to our ACS. The
account is created on this first sign-in and the researcher lands on their dashboard.
"""

import pytest
from sqlmodel import select

from screening import create_app
from screening.accounts import service as accounts
from screening.accounts.models import User
from screening.core import migrations
from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.sso import saml, service
from screening.sso.saml import write_self_signed_pair
from tests.web.browser import OUTPUT, chromium

from .conftest import IDP_A, SCOPE_A
from .idp import IdpLoginPage, researcher_attributes
from .loopback import LoopbackServer

pytestmark = [pytest.mark.browser, pytest.mark.no_isolation]

IDP_PASSWORD = "correct horse battery staple"


@pytest.fixture
def live_sso(tmp_path):
    """Our app and the IdP's login page, each on its own loopback port, the IdP configured for uni-a."""
    write_self_signed_pair(tmp_path / "sp-key.pem", tmp_path / "sp-cert.pem", common_name="127.0.0.1")
    app = create_app({"TESTING": True, "SECRET_KEY": "s" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'sso-browser.db'}",
                      "DOCUMENT_STORE_DIR": str(tmp_path / "documents"),
                      "SAML_SP_KEY_FILE": str(tmp_path / "sp-key.pem"),
                      "SAML_SP_CERT_FILE": str(tmp_path / "sp-cert.pem")})
    migrations.upgrade(app)
    with LoopbackServer(app) as site:
        app.config["BASE_URL"] = site.url  # our SP's entity id and ACS are on this port
        with app.app_context():
            sp_metadata = saml.sp_metadata().decode()
        people = {"alice": (IDP_PASSWORD, researcher_attributes())}
        with IdpLoginPage(tmp_path / "idp", IDP_A, sp_metadata, people) as login_page:
            with app.app_context():
                institution = accounts.create_institution(db.session, None, "uni-a", "Universität A")
                service.configure_saml_provider(db.session, None, institution, slug="uni-a-saml",
                                                display_name="Universität A (DFN-AAI)",
                                                metadata_xml=login_page.idp.metadata(), mapping={"scopes": [SCOPE_A]})
                db.session.commit()
            yield app, site.url, login_page.url
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def test_a_researcher_signs_in_at_the_idp_login_page_and_lands_on_their_new_dashboard(live_sso):
    app, site, idp_page = live_sso
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{site}/login")
        page.get_by_role("link", name="Sign in with your institution (single sign-on)").click()
        page.get_by_role("link", name="Universität A (DFN-AAI)").click()
        page.wait_for_url(f"{idp_page}/sso?**")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        assert "Wrong username or password." in page.get_by_role("alert").inner_text()
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(IDP_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{site}/proposals/")
        assert page.get_by_role("heading", level=1).inner_text() == "My proposals"
        assert page.locator("header").get_by_role("link", name="New proposal").is_visible()
        page.screenshot(path=str(OUTPUT / "sso-browser-dashboard.png"), full_page=True)
    with app.app_context():
        alice = db.session.exec(select(User).where(User.email == "alice@uni-a.example")).one()
        institution = accounts.get_institution(db.session, "uni-a")
        assert accounts.roles_in(db.session, alice, institution.id) == {"researcher"}
        actions = [event.action for event in db.session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()]
        assert {"user.created", "sso.identity_linked", "sso.login"} <= set(actions)
        assert "sso.login_refused" not in actions
