"""Browser test of the institution switcher in the page header (issue 14, item 5).

A professor is a researcher at Nordhafen University, where they filed a proposal, and sits in the
international office of a Max Planck institute, whose portfolio holds a colleague's proposal. They
log in through the form in Chromium, act for Nordhafen, switch to the institute with the header's
form (a real click posting the CSRF token the page carries), see only the institute's portfolio,
no longer reach their Nordhafen proposal (404, as in test_multi_institution.py), and switch back.
A colleague with one institution sees its name in the header and no switcher.
"""

import uuid
from urllib.parse import parse_qs

import pytest

from screening import create_app
from screening.accounts import service as accounts
from screening.core import migrations
from screening.core.extensions import db

from .browser import chromium, log_in, serving

pytestmark = [pytest.mark.browser, pytest.mark.no_isolation]

PASSWORD = "switcher-password-1"
PROF_EMAIL, COLLEAGUE_EMAIL = "prof@switcher.example", "colleague@switcher.example"
NORDHAFEN, MAX_PLANCK = "Nordhafen University", "Max Planck Institute for Fjord Studies"
TITLE_A, TITLE_B = "Tidal turbines with Harbin", "Fjord acoustics with Harbin"
HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]


@pytest.fixture
def live_switcher(tmp_path):
    """A live server with both institutions; yields its base URL and the ids the test needs."""
    from screening.core.engine import get_screener
    from screening.proposals import service as proposals

    app = create_app({"TESTING": True, "SECRET_KEY": "s" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'switcher-browser.db'}",
                      "DOCUMENT_STORE_DIR": str(tmp_path / "documents")})
    migrations.upgrade(app)
    with app.app_context():
        a = accounts.create_institution(db.session, None, "nordhafen", NORDHAFEN)
        b = accounts.create_institution(db.session, None, "mpi-fjord", MAX_PLANCK)
        # Nordhafen's membership comes first, so the password login acts for Nordhafen.
        prof = accounts.create_user(db.session, None, a, PROF_EMAIL, "Petra Professor", PASSWORD, ["researcher"])
        prof.multi_institution = True
        accounts.grant_role(db.session, None, prof, b, "international_office")
        colleague = accounts.create_user(db.session, None, b, COLLEAGUE_EMAIL, "Carl Colleague", PASSWORD,
                                         ["researcher"])
        db.session.commit()

        def submitted(user, institution, title):
            actor = accounts.Actor(user, institution.id, frozenset({"researcher"}))
            draft = proposals.save_draft(db.session, actor, {
                "title": title, "abstract": "Joint measurements with the partner named.",
                "research_fields": ["1.5"], "partners": HARBIN, "duration_months": 12,
            }, creation_token=uuid.uuid4().hex)
            proposals.submit(db.session, actor, draft, uuid.uuid4().hex, get_screener())
            db.session.commit()
            return draft.id

        ids = {"a": a.id, "b": b.id, "proposal_a": submitted(prof, a, TITLE_A),
               "proposal_b": submitted(colleague, b, TITLE_B)}
    with serving(app) as base:
        yield base, ids


def _acting_for(page) -> tuple[int, str]:
    """The header's institution: its id and the name the switcher shows as chosen."""
    header = page.locator("#acting-institution")
    return int(header.get_attribute("data-institution")), header.locator("#institution-select option:checked"
                                                                         ).inner_text().strip()


def _switch_to(page, name: str) -> dict[str, list[str]]:
    """Choose ``name`` in the header's switcher and click Switch; returns the form data the browser posted."""
    form = page.locator("#acting-institution form")
    form.locator("#institution-select").select_option(label=name)
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/account/institution")) as posted:
        form.get_by_role("button", name="Switch").click()
    page.wait_for_load_state()
    return parse_qs(posted.value.post_data or "")


def _titles(page, table: str) -> set[str]:
    rows = page.locator(f"{table} tbody tr")
    return {rows.nth(i).locator("td").first.inner_text().strip() for i in range(rows.count())}


def test_a_person_in_two_institutions_switches_between_them_in_the_header(live_switcher):
    base, ids = live_switcher
    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(15000)
        log_in(page, base, PROF_EMAIL, PASSWORD)

        # Acting for Nordhafen: their own proposal is under "My proposals"; both institutions are offered.
        page.wait_for_url("**/proposals/")
        assert _acting_for(page) == (ids["a"], NORDHAFEN)
        assert set(page.locator("#institution-select option").all_inner_texts()) == {NORDHAFEN, MAX_PLANCK}
        assert page.get_by_role("heading", name="My proposals").is_visible()
        assert _titles(page, "main table.list") == {TITLE_A}
        token = page.locator("#acting-institution form input[name=csrf_token]").input_value()
        assert token

        # The switch posts the page's CSRF token and lands on the start page, now acting for the institute.
        posted = _switch_to(page, MAX_PLANCK)
        assert posted == {"csrf_token": [token], "institution": [str(ids["b"])]}
        page.wait_for_url("**/account")  # no researcher role at the institute: the account page
        assert _acting_for(page) == (ids["b"], MAX_PLANCK)
        assert page.get_by_role("link", name="My proposals").count() == 0

        # The institute's portfolio lists its own proposal and nothing of Nordhafen.
        page.get_by_role("link", name="Portfolio").first.click()
        page.wait_for_url("**/portfolio/")
        assert _titles(page, "#portfolio-table") == {TITLE_B}
        assert TITLE_A not in page.locator("main").inner_text()

        # Their Nordhafen proposal is not reachable while acting for the institute.
        response = page.goto(f"{base}/proposals/{ids['proposal_a']}")
        assert response.status == 404
        assert TITLE_A not in page.content()

        # Switching back restores Nordhafen: the proposal is listed and opens again.
        page.goto(f"{base}/portfolio/")
        _switch_to(page, NORDHAFEN)
        page.wait_for_url("**/proposals/")
        assert _acting_for(page) == (ids["a"], NORDHAFEN)
        assert _titles(page, "main table.list") == {TITLE_A}
        response = page.goto(f"{base}/proposals/{ids['proposal_a']}")
        assert response.status == 200
        assert page.get_by_role("heading", name=TITLE_A).count() >= 1


def test_a_person_in_one_institution_sees_its_name_and_no_switcher(live_switcher):
    base, ids = live_switcher
    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(15000)
        log_in(page, base, COLLEAGUE_EMAIL, PASSWORD)
        page.wait_for_url("**/proposals/")
        header = page.locator("#acting-institution")
        assert int(header.get_attribute("data-institution")) == ids["b"]
        assert header.inner_text().strip() == MAX_PLANCK
        assert page.locator("#institution-select").count() == 0
        assert page.locator("form[action$='/account/institution']").count() == 0
        assert NORDHAFEN not in page.content()
