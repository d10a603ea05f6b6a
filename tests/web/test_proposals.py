"""Researcher intake: the form, drafts, submission, results, withdrawal (scorecard 3, 5, 14, 17)."""

import re

from sqlmodel import func, select

from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.proposals.models import Proposal, ProposalVersion

from .helpers import form_post_data

SCRIPT = '<script>alert(1)</script>"><img src=x onerror=alert(2)>{{7*7}}'


def count(model):
    db.session.expire_all()
    return db.session.exec(select(func.count()).select_from(model)).one()


def researcher(client, factory):
    inst = factory.institution()
    user = factory.user(inst, "researcher")
    factory.login(client, user)
    return inst, user


def test_dashboard_lists_own_proposals_with_status_and_tier(client, factory):
    inst, user = researcher(client, factory)
    factory.proposal(user, inst, title="My draft project")
    factory.proposal(user, inst, submit=True, title="My submitted project")
    other = factory.user(inst)
    factory.proposal(other, inst, title="Someone else's project")
    html = client.get("/proposals/").get_data(as_text=True)
    assert "My draft project" in html and "My submitted project" in html
    assert "Someone else" not in html
    assert "Draft" in html and ("Low" in html or "Medium" in html or "High" in html)


def test_form_offers_pickers_not_free_text(client, factory):
    researcher(client, factory)
    html = client.post("/proposals/new", data={"action": "add:partners", "title": "x"}).get_data(as_text=True)
    assert 'type="checkbox" value="1.2"' in html or 'value="1.2" type="checkbox"' in html \
        or re.search(r'<input[^>]*type="checkbox"[^>]*value="1\.2"', html)
    assert re.search(r'<select[^>]*name="partners-0-country"', html)
    assert '<option value="CN">' in html


def test_submit_screens_and_shows_flags_grouped(client, factory):
    researcher(client, factory)
    data = form_post_data(**{"partners-0-name": "Harbin Institute of Technology", "partners-0-country": "CN",
                             "technology_areas": ["robotics"], "research_fields": ["2.2"]})
    r = client.post("/proposals/new", data=data)
    assert r.status_code == 302
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Screening result" in html
    assert "Harbin Institute of Technology" in html
    assert re.search(r"Risk tier: <strong>(High|Critical)</strong>", html)
    assert 'id="cat-partner"' in html
    version = db.session.exec(select(ProposalVersion)).one()
    assert version.proposal_json["partners"][0]["name"] == "Harbin Institute of Technology"
    assert version.result_json["tier"] in ("high", "critical")
    assert version.ruleset_version and version.lists_json
    proposal = db.session.get(Proposal, version.proposal_id)
    assert proposal.status == "in_review"


def test_low_risk_is_fast_tracked(client, factory):
    _inst, _user = researcher(client, factory)
    r = client.post("/proposals/new", data=form_post_data())
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Fast track" in html
    assert db.session.exec(select(Proposal)).one().status == "fast_tracked"


def test_resent_submit_creates_one_version(client, factory):
    researcher(client, factory)
    data = form_post_data()
    first = client.post("/proposals/new", data=data)
    second = client.post("/proposals/new", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Proposal) == 1 and count(ProposalVersion) == 1


def test_resent_submit_of_edit_form_creates_one_version(client, factory):
    inst, user = researcher(client, factory)
    p = factory.proposal(user, inst)
    data = form_post_data()
    first = client.post(f"/proposals/{p.id}/edit", data=data)
    second = client.post(f"/proposals/{p.id}/edit", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert count(ProposalVersion) == 1


def test_save_draft_then_edit_keeps_data(client, factory):
    researcher(client, factory)
    data = form_post_data(action="save", keywords="alpha, beta")
    r = client.post("/proposals/new", data=data)
    assert r.status_code == 302 and "/edit" in r.headers["Location"]
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "alpha, beta" in html and "University of Copenhagen" in html
    p = db.session.exec(select(Proposal)).one()
    assert p.status == "draft" and p.data["keywords"] == ["alpha", "beta"]


def test_rows_are_added_and_removed_without_losing_data(client, factory):
    researcher(client, factory)
    data = form_post_data(**{
        "action": "add:partners", "partners-1-name": "Second partner", "partners-1-country": "FR",
        "partners-2-name": "Third partner", "partners-2-country": "JP", "abstract": "typed abstract",
    })
    html = client.post("/proposals/new", data=data).get_data(as_text=True)
    assert 'name="partners-3-name"' in html
    assert "Second partner" in html and "Third partner" in html and "typed abstract" in html
    data["action"] = "remove:partners:1"
    html = client.post("/proposals/new", data=data).get_data(as_text=True)
    assert "Second partner" not in html and "Third partner" in html
    assert 'name="partners-2-name"' not in html  # renumbered
    assert count(Proposal) == 0


def test_validation_errors_are_specific_and_keep_input(client, factory):
    researcher(client, factory)
    audit_before = count(AuditEvent)
    data = form_post_data(**{"title": "x" * 301, "partners-0-country": "XX", "duration_months": "999",
                             "abstract": "keep me", "dual_use_codes": "not-a-code"})
    r = client.post("/proposals/new", data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "Choose a country from the list." in html
    assert "3A001" in html and "keep me" in html
    assert "between 3 and 300" in html or "300" in html
    assert count(Proposal) == 0 and count(AuditEvent) == audit_before


def test_missing_required_sections_are_named(client, factory):
    researcher(client, factory)
    data = form_post_data(research_fields=None, **{"partners-0-name": None, "partners-0-country": None,
                                                  "partners-0-type": None})
    html = client.post("/proposals/new", data=data).get_data(as_text=True)
    assert "Choose at least one field of research." in html
    assert "Add at least one partner." in html
    assert count(Proposal) == 0


def test_unknown_choices_are_rejected(client, factory):
    researcher(client, factory)
    r = client.post("/proposals/new", data=form_post_data(research_fields=["9.9"], technology_areas=["nope"]))
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "9.9" in html and "nope" in html
    assert count(Proposal) == 0


def test_script_in_title_is_shown_as_text_everywhere(client, factory):
    _inst, _user = researcher(client, factory)
    r = client.post("/proposals/new", data=form_post_data(title=SCRIPT, abstract=SCRIPT,
                                                           **{"partners-0-name": SCRIPT}))
    assert r.status_code == 302
    p = db.session.exec(select(Proposal)).one()
    assert p.title == SCRIPT
    for url in ("/proposals/", f"/proposals/{p.id}", r.headers["Location"]):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        assert "49" not in re.sub(r"\d{3,}", "", html.split("<main")[1]) or "{{7*7}}" in html


def test_mass_assignment_fields_are_ignored(client, factory):
    inst, user = researcher(client, factory)
    other_inst = factory.institution()
    data = form_post_data(action="save", institution_id=str(other_inst.id), status="fast_tracked",
                          owner_id="999", tier="low", route="fast_track")
    assert client.post("/proposals/new", data=data).status_code == 302
    p = db.session.exec(select(Proposal)).one()
    assert (p.institution_id, p.owner_id, p.status, p.tier) == (inst.id, user.id, "draft", None)


def test_withdraw_keeps_history_and_second_withdraw_is_409(client, factory):
    inst, user = researcher(client, factory)
    p = factory.proposal(user, inst, submit=True)
    assert client.post(f"/proposals/{p.id}/withdraw").status_code == 302
    db.session.expire_all()
    assert db.session.get(Proposal, p.id).status == "withdrawn"
    assert count(ProposalVersion) == 1
    r = client.post(f"/proposals/{p.id}/withdraw")
    assert r.status_code == 409
    assert b"Reference for support" in r.data


def test_submitted_proposal_cannot_be_edited(client, factory):
    inst, user = researcher(client, factory)
    p = factory.proposal(user, inst, submit=True)
    assert client.get(f"/proposals/{p.id}/edit").status_code == 302
    r = client.post(f"/proposals/{p.id}/edit", data=form_post_data(action="save"))
    assert r.status_code == 409


def test_engine_rejection_becomes_a_form_error_and_nothing_is_written(client, factory, monkeypatch):
    from rules import ProposalError
    from rules.validation import Problem

    class Rejecting:
        def screen(self, proposal, language="en"):
            raise ProposalError([Problem("partners[0].country", "not an ISO country code")])

    monkeypatch.setattr("screening.proposals.views.get_screener", lambda: Rejecting())
    researcher(client, factory)
    audit_before = count(AuditEvent)
    r = client.post("/proposals/new", data=form_post_data())
    assert r.status_code == 400
    assert "not an ISO country code" in r.get_data(as_text=True)
    assert count(Proposal) == 0 and count(AuditEvent) == audit_before


def test_failure_mid_transaction_rolls_back_and_shows_request_id(app, client, factory, monkeypatch):
    class Exploding:
        def screen(self, proposal, language="en"):
            raise RuntimeError("secret internal detail")

    monkeypatch.setattr("screening.proposals.views.get_screener", lambda: Exploding())
    _inst, _user = researcher(client, factory)
    audit_before = count(AuditEvent)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        r = client.post("/proposals/new", data=form_post_data())
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert r.status_code == 500
    html = r.get_data(as_text=True)
    assert "secret internal detail" not in html and "Traceback" not in html
    assert r.headers["X-Request-ID"] in html
    assert count(Proposal) == 0 and count(ProposalVersion) == 0 and count(AuditEvent) == audit_before


def test_result_uses_the_users_language(client, factory):
    inst = factory.institution()
    user = factory.user(inst, "researcher", language="de")
    factory.login(client, user)
    data = form_post_data(**{"partners-0-name": "Harbin Institute of Technology", "partners-0-country": "CN"})
    r = client.post("/proposals/new", data=data)
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Prüfergebnis" in html
    assert db.session.exec(select(ProposalVersion)).one().language == "de"
