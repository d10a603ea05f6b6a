"""People in several institutions (issue 14, item 5): they act for one at a time.

A professor with a joint appointment holds the same roles at Nordhafen University and at a Max
Planck institute. Whatever surface they use (web pages, the API, CSV/XLSX/PDF exports, letters),
acting for one institution shows nothing of the other; the header names the institution acted
for and switches between the person's institutions only; every switch is audited.
"""

import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import select

from screening.accounts import service as accounts
from screening.accounts.models import Membership
from screening.api import tokens
from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.documents.models import GeneratedDocument
from screening.review import cases, decisions, routing
from screening.review.models import CommitteeMember

from .helpers import csrf_token_from, form_post_data

HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]
ROLES = ("researcher", "committee_chair", "international_office")
NORDHAFEN, MAX_PLANCK = "Nordhafen University", "Max Planck Institute for Fjord Studies"
TITLE_A, TITLE_B = "Tidal turbines with Harbin", "Fjord acoustics with Harbin"


@pytest.fixture
def joint(factory):
    """The professor, a case in each institution (they chair both committees), each filed by a colleague."""
    a, b = factory.institution(name=NORDHAFEN), factory.institution(name=MAX_PLANCK)
    prof = factory.user(a, *ROLES)
    prof.multi_institution = True
    for role in ROLES:
        accounts.grant_role(db.session, None, prof, b, role)
    db.session.commit()
    world = {"a": a, "b": b, "prof": prof}
    for key, inst, title in (("a", a, TITLE_A), ("b", b, TITLE_B)):
        committee = routing.ensure_setup(db.session, None, inst.id)
        db.session.add(CommitteeMember(committee_id=committee.id, user_id=prof.id, role="chair"))
        db.session.commit()
        colleague = factory.user(inst, "researcher")
        proposal = factory.proposal(colleague, inst, submit=True, title=title, partners=HARBIN)
        world[f"case_{key}"] = routing.case_for_proposal(db.session, proposal)
        world[f"proposal_{key}"] = proposal
    return world


def _acting_for(app, factory, joint, key):
    client = app.test_client()
    factory.login(client, joint["prof"], joint[key])
    return client


def _switch(client, inst):
    return client.post("/account/institution", data={"institution": str(inst.id)})


def _pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# ---------------------------------------------------------------- the switcher


def test_the_header_names_the_institution_and_switches_between_the_persons_institutions(app, factory, joint):
    client = _acting_for(app, factory, joint, "a")
    page = client.get("/review/").get_data(as_text=True)
    assert f'data-institution="{joint["a"].id}"' in page and 'id="institution-select"' in page
    assert NORDHAFEN in page and MAX_PLANCK in page  # both are the professor's to choose from
    assert TITLE_A in page and TITLE_B not in page

    r = _switch(client, joint["b"])
    assert r.status_code == 302 and r.headers["Location"].endswith("/")
    page = client.get("/review/").get_data(as_text=True)
    assert f'data-institution="{joint["b"].id}"' in page
    assert TITLE_B in page and TITLE_A not in page
    assert client.get(f"/review/cases/{joint['case_a'].id}").status_code == 404
    assert client.get(f"/proposals/{joint['proposal_a'].id}").status_code == 404

    events = db.session.exec(select(AuditEvent).where(AuditEvent.actor_id == joint["prof"].id,
                                                      AuditEvent.action.like("user.institution_%"))).all()
    assert [(e.action, e.institution_id, e.details) for e in events] == [
        ("user.institution_left", joint["a"].id, {}), ("user.institution_entered", joint["b"].id, {})]


def test_what_the_person_does_is_audited_in_the_institution_acted_for(app, factory, joint):
    client = _acting_for(app, factory, joint, "a")
    _switch(client, joint["b"])
    assert client.post("/proposals/new", data=form_post_data(title="Filed at the institute")).status_code == 302
    [event] = db.session.exec(select(AuditEvent).where(AuditEvent.actor_id == joint["prof"].id,
                                                       AuditEvent.action == "proposal.created")).all()
    assert event.institution_id == joint["b"].id


def test_a_user_with_one_institution_sees_its_name_and_no_switcher(app, factory, joint):
    colleague = factory.user(joint["a"], "researcher")
    client = app.test_client()
    factory.login(client, colleague)
    page = client.get("/proposals/").get_data(as_text=True)
    assert NORDHAFEN in page and 'id="institution-select"' not in page and MAX_PLANCK not in page


def test_switching_is_only_to_an_institution_of_the_person(app, factory, joint):
    stranger_inst = factory.institution(name="Somewhere Else")
    client = _acting_for(app, factory, joint, "a")
    before = len(db.session.exec(select(AuditEvent)).all())
    assert _switch(client, stranger_inst).status_code == 403
    assert client.post("/account/institution", data={"institution": "x"}).status_code == 400
    assert client.post("/account/institution", data={"institution": "99999999999"}).status_code == 400
    assert client.post("/account/institution", data={}).status_code == 400
    page = client.get("/review/").get_data(as_text=True)
    assert f'data-institution="{joint["a"].id}"' in page and "Somewhere Else" not in page
    db.session.expire_all()
    assert len(db.session.exec(select(AuditEvent)).all()) == before


def test_the_switch_needs_a_csrf_token(app, factory, joint, csrf_enabled):
    client = _acting_for(app, factory, joint, "a")
    assert _switch(client, joint["b"]).status_code == 400
    token = csrf_token_from(client.get("/review/").get_data(as_text=True))
    assert client.post("/account/institution", data={"institution": joint["b"].id, "csrf_token": token}
                       ).status_code == 302


def test_a_role_withdrawn_in_the_institution_acted_for_leaves_no_access_there(app, factory, joint):
    client = _acting_for(app, factory, joint, "b")
    for m in db.session.exec(select(Membership).where(Membership.user_id == joint["prof"].id,
                                                      Membership.institution_id == joint["b"].id)).all():
        db.session.delete(m)
    db.session.commit()
    assert client.get("/review/").status_code == 403
    assert _switch(client, joint["b"]).status_code == 403
    assert _switch(client, joint["a"]).status_code == 302
    assert TITLE_A in client.get("/review/").get_data(as_text=True)


# ---------------------------------------------------------------- the API


def _token(factory, joint, key) -> dict:
    _, plaintext = tokens.create(db.session, factory.actor(joint["prof"], joint[key]), f"token {key}", "write", 30)
    db.session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def test_an_api_token_acts_for_the_institution_it_was_made_in(client, factory, joint):
    token_a, token_b = _token(factory, joint, "a"), _token(factory, joint, "b")
    listed = str(client.get("/api/v1/cases", headers=token_a).get_json())
    assert TITLE_A in listed and TITLE_B not in listed
    assert client.get(f"/api/v1/cases/{joint['case_b'].id}", headers=token_a).status_code == 404
    assert client.get(f"/api/v1/proposals/{joint['proposal_b'].id}", headers=token_a).status_code == 404
    listed = str(client.get("/api/v1/cases", headers=token_b).get_json())
    assert TITLE_B in listed and TITLE_A not in listed
    assert client.get(f"/api/v1/proposals/{joint['proposal_b'].id}", headers=token_b).status_code == 200
    portfolio = str(client.get("/api/v1/portfolio", headers=token_a).get_json())
    assert TITLE_A in portfolio and TITLE_B not in portfolio
    # The membership the token was made in is gone: the token acts for nobody (the other still works).
    for m in db.session.exec(select(Membership).where(Membership.user_id == joint["prof"].id,
                                                      Membership.institution_id == joint["b"].id)).all():
        db.session.delete(m)
    db.session.commit()
    assert client.get("/api/v1/cases", headers=token_b).status_code == 401
    assert client.get("/api/v1/cases", headers=token_a).status_code == 200


def test_the_token_page_lists_the_tokens_of_the_institution_acted_for(app, factory, joint):
    _token(factory, joint, "a"), _token(factory, joint, "b")
    client = _acting_for(app, factory, joint, "a")
    page = client.get("/account/tokens/").get_data(as_text=True)
    assert "token a" in page and "token b" not in page


# ---------------------------------------------------------------- exports


def test_exports_hold_only_the_institution_acted_for(app, factory, joint, tmp_path):
    app.config["PORTFOLIO_REPORT_DIR"] = str(tmp_path / "reports")
    client = _acting_for(app, factory, joint, "b")
    csv_text = client.get("/portfolio/export.csv").get_data(as_text=True)
    assert TITLE_B in csv_text and TITLE_A not in csv_text
    sheet = load_workbook(io.BytesIO(client.get("/portfolio/export.xlsx").data)).active
    cells = " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row)
    assert TITLE_B in cells and TITLE_A not in cells
    r = client.post("/portfolio/dashboard/pdf")
    assert r.status_code == 303
    report_id = r.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    text = _pdf_text(client.get(f"/portfolio/reports/{report_id}/download").data)
    assert MAX_PLANCK in text and NORDHAFEN not in text
    certificate = client.get(f"/portfolio/proposals/{joint['proposal_b'].id}/certificate.pdf")
    assert certificate.status_code == 200 and TITLE_A not in _pdf_text(certificate.data)
    assert client.get(f"/portfolio/proposals/{joint['proposal_a'].id}/certificate.pdf").status_code == 404
    _switch(client, joint["a"])
    assert client.get(f"/portfolio/reports/{report_id}/download").status_code == 404


# ---------------------------------------------------------------- letters


def test_the_letter_names_the_institution_acted_for_and_stays_there(app, factory, joint):
    actor = factory.actor(joint["prof"], joint["b"])
    access = cases.get_case(db.session, actor, joint["case_b"].id)
    decision = decisions.decide(db.session, access, access.case.version, "approved", "Sound plan.", [], [])
    db.session.commit()
    doc = db.session.exec(select(GeneratedDocument).where(GeneratedDocument.object_type == "decision",
                                                          GeneratedDocument.object_id == decision.id)).one()
    assert doc.institution_id == joint["b"].id
    client = _acting_for(app, factory, joint, "b")
    r = client.get(f"/documents/{doc.id}/download")
    assert r.status_code == 200
    text = _pdf_text(r.data)
    assert MAX_PLANCK in text and NORDHAFEN not in text and TITLE_A not in text
    _switch(client, joint["a"])
    assert client.get(f"/documents/{doc.id}/download").status_code == 404
    [download] = db.session.exec(select(AuditEvent).where(AuditEvent.action == "document.downloaded")).all()
    assert download.institution_id == joint["b"].id


def test_institution_names_in_the_header_are_shown_literally(app, factory, joint):
    odd = factory.institution(name='<script>alert(1)</script> "Institut" {{7*7}}')
    accounts.grant_role(db.session, None, joint["prof"], odd, "researcher")
    db.session.commit()
    page = _acting_for(app, factory, joint, "a").get("/proposals/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "{{7*7}}" in page  # not evaluated
