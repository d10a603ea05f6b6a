"""Browser test: a researcher files a proposal with two partners and sees the partner flag."""

import pytest

from screening import create_app
from screening.accounts import service as accounts
from screening.core import migrations
from screening.core.extensions import db

from .browser import OUTPUT, chromium, log_in, serving

pytestmark = [pytest.mark.browser, pytest.mark.no_isolation]

@pytest.fixture
def live_server(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "b" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'browser.db'}"})
    migrations.upgrade(app)
    with app.app_context():
        inst = accounts.create_institution(db.session, None, "browser-u", "Browser University")
        accounts.create_user(db.session, None, inst, "r@browser.example", "Rita Researcher",
                             "browser-password-1", ["researcher"])
        db.session.commit()
    with serving(app) as base:
        yield base


def test_researcher_files_proposal_and_sees_partner_flag(live_server):
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_server, "r@browser.example", "browser-password-1")
        page.wait_for_url("**/proposals/")
        page.get_by_role("link", name="New proposal").first.click()
        page.get_by_label("Title").fill("Learning-based control of legged robots")
        page.get_by_label("Abstract").fill("Reinforcement learning for quadruped robots.")
        page.locator("input[name=research_fields][value='2.2']").check()
        page.locator("input[name=technology_areas][value='robotics']").check()
        page.get_by_role("button", name="Add partner").click()
        page.locator("[name=partners-0-name]").fill("Harbin Institute of Technology")
        page.locator("[name=partners-0-country]").select_option("CN")
        page.locator("[name=partners-0-type]").select_option("university")
        page.get_by_role("button", name="Add partner").click()
        # Typed data survives the round trip that added the second row.
        assert page.locator("[name=partners-0-name]").input_value() == "Harbin Institute of Technology"
        page.locator("[name=partners-1-name]").fill("ETH Zürich")
        page.locator("[name=partners-1-country]").select_option("CH")
        page.get_by_role("button", name="Submit for screening").click()
        page.wait_for_url("**/versions/1")
        assert page.locator("#cat-partner").is_visible()
        text = page.locator("main").inner_text()
        assert "Harbin Institute of Technology" in text
        assert "High" in text or "Critical" in text
        page.screenshot(path=str(OUTPUT / "browser-result.png"), full_page=True)
