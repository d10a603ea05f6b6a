"""Browser test of the committee flow (issue 4, done-when).

A chair opens the queue and a case whose partner flag is a false match (a Shanghai partner
written "NWPU, Shanghai", a possible match for Northwestern Polytechnical University in Xi'an,
whose acronym it shares), dismisses the flag as a false match with a reason and asks for
information; the researcher edits and resubmits; the chair sees version 2 and approves with a
condition from the institution's templates. Screenshots go to tests/output/.
"""

import re

import pytest

from screening import create_app
from screening.accounts import service as accounts
from screening.core import migrations
from screening.core.extensions import db

from .browser import OUTPUT, chromium, log_in, serving

pytestmark = [pytest.mark.browser, pytest.mark.no_isolation]

PASSWORD = "browser-password-1"
FALSE_MATCH = {"name": "NWPU, Shanghai", "country": "CN", "type": "university"}


@pytest.fixture
def live_review(tmp_path):
    from screening.core.engine import get_screener
    from screening.proposals import service as proposals
    from screening.review import routing
    from screening.review.models import CommitteeMember

    app = create_app({"TESTING": True, "SECRET_KEY": "r" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'review-browser.db'}",
                      "DOCUMENT_STORE_DIR": str(tmp_path / "documents")})
    migrations.upgrade(app)
    with app.app_context():
        inst = accounts.create_institution(db.session, None, "browser-review", "Browser University")
        researcher = accounts.create_user(db.session, None, inst, "r@browser.example", "Rita Researcher",
                                          PASSWORD, ["researcher"])
        chair = accounts.create_user(db.session, None, inst, "chair@browser.example", "Carla Chair", PASSWORD,
                                     ["committee_chair"])
        committee = routing.ensure_setup(db.session, None, inst.id)
        db.session.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
        actor = accounts.Actor(researcher, inst.id, frozenset({"researcher"}))
        draft = proposals.save_draft(db.session, actor, {
            "title": "Wind tunnel tests of morphing wings", "abstract": "Joint measurements in a wind tunnel.",
            "research_fields": ["2.3"], "partners": [FALSE_MATCH], "duration_months": 18,
        }, creation_token="browser-review")
        proposals.submit(db.session, actor, draft, "browser-review-submit", get_screener())
        db.session.commit()
        assert draft.status == "in_review", draft.status
        pid = draft.id
    with serving(app) as base:
        yield base, pid


def test_chair_dismisses_false_match_asks_researcher_answers_chair_approves_with_condition(live_review):
    base, pid = live_review
    shots = []
    with chromium() as browser:
        chair = browser.new_context().new_page()
        chair.set_default_timeout(20000)
        log_in(chair, base, "chair@browser.example", PASSWORD)
        chair.goto(f"{base}/review/")
        shots.append(("review-queue", chair.screenshot(full_page=True)))
        chair.get_by_role("link", name="Wind tunnel tests of morphing wings").click()
        chair.wait_for_url(re.compile(r".*/review/cases/\d+$"))
        case_url = chair.url
        main = chair.locator("main")
        assert "Northwestern Polytechnical University" in main.inner_text()  # the list entry it matched

        # Dismiss the partner flag as a false match, with a reason.
        form = chair.locator("form.disposition-form").first
        form.get_by_label("Dismissed: false match").check()
        form.locator("textarea[name=reason]").fill(
            "False match: this NWPU is a Shanghai institute with the same initials, "
            "not Northwestern Polytechnical University in Xi'an.")
        form.get_by_role("button", name="Record disposition").click()
        chair.wait_for_load_state()
        assert "a Shanghai institute with the same initials" in main.inner_text()

        # Ask the researcher for information.
        chair.locator("textarea[name=questions]").fill("Please confirm the partner's address and name "
                                                       "the department you work with.")
        chair.get_by_role("button", name="Request information").click()
        chair.wait_for_load_state()
        assert "waiting for the researcher" in main.inner_text()
        shots.append(("review-case-information-requested", chair.screenshot(full_page=True)))

        # The researcher answers: edits the proposal and resubmits it.
        researcher = browser.new_context().new_page()
        researcher.set_default_timeout(20000)
        log_in(researcher, base, "r@browser.example", PASSWORD)
        researcher.goto(f"{base}/proposals/{pid}")
        assert "Please confirm the partner" in researcher.locator("main").inner_text()
        researcher.get_by_role("link", name="Edit and resubmit").click()
        researcher.locator("[name=partners-0-department]").fill(
            "Department of Aerospace Engineering, Shanghai")
        researcher.get_by_label("Abstract").fill(
            "Joint measurements in a wind tunnel. The partner is a Shanghai institute that shares "
            "the initials NWPU with the listed university in Xi'an.")
        researcher.get_by_role("button", name="Submit for screening").click()
        researcher.wait_for_url("**/versions/2")
        shots.append(("review-researcher-resubmitted", researcher.screenshot(full_page=True)))

        # The chair sees version 2 and approves with a condition from the templates.
        chair.goto(case_url)
        text = main.inner_text()
        assert "Version 2" in text and "answered with version 2" in text
        assert "Department of Aerospace Engineering" in text
        decision = chair.locator("form.decision-form")
        decision.get_by_label("Approved with conditions").check()
        decision.locator("textarea[name=reasoning]").fill(
            "The partner flag was a false match; the collaboration is acceptable under a condition.")
        decision.get_by_label("An annual report on the collaboration is sent to the committee.").check()
        decision.get_by_role("button", name="Issue decision").click()
        chair.wait_for_load_state()
        text = main.inner_text()
        assert "Approved with conditions" in text
        assert "An annual report on the collaboration is sent to the committee." in text
        shots.append(("review-case-decided", chair.screenshot(full_page=True)))

        researcher.goto(f"{base}/proposals/{pid}")
        text = researcher.locator("main").inner_text()
        assert "Approved with conditions" in text and "annual report" in text
        shots.append(("review-researcher-decision", researcher.screenshot(full_page=True)))
    for name, png in shots:
        (OUTPUT / f"{name}.png").write_bytes(png)
