"""The international office's portfolio: tenancy, filters, import, exports, monitoring, reports."""

import dataclasses
import gc
import io
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlmodel import select

from screening.core import audit
from screening.core.extensions import db
from screening.core.models import AuditEvent, OutboxMessage
from screening.portfolio.models import ImportJob, RescreenJob, ScreeningEvent
from screening.proposals import workflow
from screening.proposals.models import Proposal
from screening.review import routing
from screening.review.models import Committee, CommitteeMember, RoutingRule

DATA = Path(__file__).resolve().parent.parent / "data"
HIT = {"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}
OSLO = {"name": "University of Oslo", "country": "NO", "type": "university"}


@pytest.fixture
def office_world(app, factory, tmp_path):
    app.config["PORTFOLIO_REPORT_DIR"] = str(tmp_path / "reports")
    a, b = factory.institution(), factory.institution()
    researcher_a = factory.user(a, "researcher")
    researcher_b = factory.user(b, "researcher")
    office_a = factory.user(a, "international_office")
    office_b = factory.user(b, "international_office")
    listed = factory.proposal(researcher_a, a, submit=True, title="Legged robots with HIT", partners=[HIT],
                              research_fields=["2.2"])
    plain = factory.proposal(researcher_a, a, submit=True, title="Fjord sediments", partners=[OSLO])
    secret_b = factory.proposal(researcher_b, b, submit=True, title="Secret project of B", partners=[HIT])
    return {"a": a, "b": b, "office_a": office_a, "office_b": office_b, "researcher_a": researcher_a,
            "listed": listed, "plain": plain, "secret_b": secret_b}



def test_office_sees_only_its_own_institution(app, factory, office_world):
    w = office_world
    body = factory.logged_in_client(w["office_a"]).get("/portfolio/").get_data(as_text=True)
    assert "Legged robots with HIT" in body and "Fjord sediments" in body
    assert "Secret project of B" not in body
    client_b = factory.logged_in_client(w["office_b"])
    assert "Legged robots" not in client_b.get("/portfolio/?q=Legged").get_data(as_text=True)
    assert client_b.get(f"/portfolio/proposals/{w['listed'].id}/certificate.pdf").status_code == 404
    assert "Legged robots" not in client_b.get("/portfolio/export.csv").get_data(as_text=True)


def test_researcher_and_advisor_are_refused(app, factory, office_world):
    advisor = factory.user(office_world["a"], "external_advisor")
    for user in (office_world["researcher_a"], advisor):
        client = factory.logged_in_client(user)
        for url in ("/portfolio/", "/portfolio/dashboard", "/portfolio/export.xlsx", "/portfolio/import"):
            assert client.get(url).status_code == 403, (user.email, url)


def test_filters_and_saved_link(app, factory, office_world):
    client = factory.logged_in_client(office_world["office_a"])
    body = client.get("/portfolio/?country=CN&tier=critical").get_data(as_text=True)
    assert "Legged robots with HIT" in body and "Fjord sediments" not in body
    assert "country=CN&amp;tier=critical" in body  # the saved-filter link carries the filters
    body = client.get("/portfolio/?listed=1").get_data(as_text=True)
    assert "Legged robots" in body and "Fjord sediments" not in body
    body = client.get("/portfolio/?q=fjord").get_data(as_text=True)
    assert "Fjord sediments" in body and "Legged robots" not in body
    body = client.get("/portfolio/?partner=oslo&category=partner").get_data(as_text=True)
    assert "Fjord sediments" not in body  # Oslo raises no partner flag
    body = client.get("/portfolio/?field=2&sort=tier").get_data(as_text=True)
    assert "Legged robots" in body and "Fjord sediments" not in body
    assert client.get("/portfolio/?tier=extreme").status_code == 400
    assert client.get("/portfolio/?date_from=2026-13-01").status_code == 400
    assert client.get("/portfolio/?country=%E2%80%AEXX").status_code == 400


def test_exports_neutralise_formulas(app, factory, office_world):
    w = office_world
    factory.proposal(w["researcher_a"], w["a"], submit=True, title='=HYPERLINK("http://evil.example","x")')
    client = factory.logged_in_client(w["office_a"])
    csv_body = client.get("/portfolio/export.csv").data
    assert csv_body.startswith(b"\xef\xbb\xbf")
    assert b"'=HYPERLINK" in csv_body
    r = client.get("/portfolio/export.xlsx?q=HYPERLINK")
    sheet = load_workbook(io.BytesIO(r.data)).active
    titles = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert titles == ["'=HYPERLINK(\"http://evil.example\",\"x\")"]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f" and cell.hyperlink is None


def _csv(rows: list[str]) -> bytes:
    header = "reference,title,research_fields,partner_1_name,partner_1_country\n"
    return (header + "\n".join(rows) + "\n").encode()


def _upload(client, owner_id, data, name="c.csv", **extra):
    return client.post("/portfolio/import", data={"file": (io.BytesIO(data), name), "owner": str(owner_id), **extra},
                       content_type="multipart/form-data")


def _count(inst) -> int:
    return len(db.session.exec(select(Proposal.id).where(Proposal.institution_id == inst.id)).all())


def test_import_is_all_or_nothing_and_names_row_and_column(app, factory, office_world):
    w = office_world
    client = factory.logged_in_client(w["office_a"])
    before = _count(w["a"])
    bad = _csv(["R1,Ocean modelling,1.5,University of Oslo,NO", "R2,Bad country,1.5,Tsinghua University,China",
                "R3,Glaciers,1.5,ETH Zurich,CH"])
    r = _upload(client, w["office_a"].id, bad)
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert "partner_1_country" in body and "<td>3</td>" in body
    assert _count(w["a"]) == before
    # Explicitly only the valid rows: two imported, the bad one left out.
    r = _upload(client, w["office_a"].id, bad, valid_rows_only="y")
    assert r.status_code == 303
    job_id = int(r.headers["Location"].rsplit("/", 1)[1])
    assert _count(w["a"]) == before + 2
    progress = client.get(f"/portfolio/import/{job_id}/progress").get_json()
    assert progress == {"id": job_id, "status": "done", "total": 2, "done": 2, "percent": 100}
    page = client.get(f"/portfolio/import/{job_id}").get_data(as_text=True)
    assert "1 rows with errors were left out" in page
    statuses = {p.status for p in db.session.exec(select(Proposal).where(Proposal.title.in_(["Ocean modelling",
                                                                                            "Glaciers"]))).all()}
    assert statuses <= {workflow.FAST_TRACKED, workflow.IN_REVIEW}
    # The office of B cannot see the job.
    assert factory.logged_in_client(w["office_b"]).get(f"/portfolio/import/{job_id}/progress").status_code == 404


def test_import_routes_audits_and_notifies_each_row_like_a_submission(app, factory, office_world):
    """The chunk is written in bulk, but each row gets what a submission gets: its committee by the
    routing rules, its audit events in order, a notice to the committee for a case in review."""
    w = office_world
    default = routing.ensure_setup(db.session, None, w["a"].id)
    engineering = Committee(institution_id=w["a"].id, name="Engineering", due_days=14)
    db.session.add(engineering)
    db.session.flush()
    chair = factory.user(w["a"], "committee_chair")
    db.session.add_all([RoutingRule(institution_id=w["a"].id, committee_id=engineering.id, kind="field_prefix",
                                    value="2"),
                        CommitteeMember(committee_id=engineering.id, user_id=chair.id, role="chair")])
    db.session.commit()
    rows = ["R1,Walking robots,2.2,Harbin Institute of Technology,CN", "R2,Fjord tides,1.5,University of Oslo,NO",
            "R3,Bridge sensors,2.1,University of Oslo,NO"]
    r = _upload(factory.logged_in_client(w["office_a"]), w["office_a"].id, _csv(rows))
    assert r.status_code == 303
    proposals = {p.title: p for p in db.session.exec(select(Proposal).where(
        Proposal.title.in_(["Walking robots", "Fjord tides", "Bridge sensors"]))).all()}
    cases = {title: routing.case_for_proposal(db.session, p) for title, p in proposals.items()}
    assert [(proposals[t].status, cases[t].committee_id, cases[t].routed_by) for t in sorted(proposals)] == [
        (workflow.FAST_TRACKED, engineering.id, "field:2"), (workflow.FAST_TRACKED, default.id, "default"),
        (workflow.IN_REVIEW, engineering.id, "field:2")]
    for title, proposal in proposals.items():
        events = db.session.exec(select(AuditEvent).where(sa.or_(
            sa.and_(AuditEvent.object_type == "proposal", AuditEvent.object_id == str(proposal.id)),
            sa.and_(AuditEvent.object_type == "review_case", AuditEvent.object_id == str(cases[title].id))))
            .order_by(AuditEvent.seq)).all()
        expected = ["proposal.screened", f"proposal.{proposal.status}", "case.opened"]
        if proposal.status == workflow.FAST_TRACKED:
            expected.append("case.fast_tracked")
        assert [e.action for e in events] == expected, title
    notices = [m.payload for m in db.session.exec(select(OutboxMessage).where(OutboxMessage.task == "mail.send"))
               if m.payload["event"] == "case_new"]
    assert [(n["to"], n["context"]["case_id"]) for n in notices] == [(chair.email, cases["Walking robots"].id)]
    assert audit.verify(db.session).ok


def test_import_refuses_wrong_type_and_oversized(app, factory, office_world):
    w = office_world
    client = factory.logged_in_client(w["office_a"])
    before = _count(w["a"])
    r = _upload(client, w["office_a"].id, b"MZ\x90\x00binary", name="evil.exe")
    assert r.status_code == 400 and "only .csv and .xlsx" in r.get_data(as_text=True)
    r = _upload(client, w["office_a"].id, b"PK\x03\x04" + b"x" * 100, name="fake.csv")
    assert r.status_code == 400
    # Refused on its Content-Length, before anything is parsed or spooled.
    r = client.post("/portfolio/import", data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10),
                    content_type="multipart/form-data; boundary=zzz")
    assert r.status_code == 413
    assert _count(w["a"]) == before


# Werkzeug spools the 550 KB upload to a temporary file that is finalised by the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_import_1400_realistic_collaborations(app, factory, office_world):
    w = office_world
    client = factory.logged_in_client(w["office_a"])
    data = (DATA / "collaborations_1400.csv").read_bytes()
    started = time.perf_counter()
    r = _upload(client, w["office_a"].id, data, name="collaborations_1400.csv")
    elapsed = time.perf_counter() - started
    print(f"\nimport of 1,400 rows (validate, store, screen, route): {elapsed:.1f} s")
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]
    job = db.session.exec(select(ImportJob).where(ImportJob.institution_id == w["a"].id)).one()
    assert (job.status, job.total, job.done) == ("done", 1400, 1400)
    assert sum(job.summary["tiers"].values()) == 1400
    assert any("Harbin Institute of Technology" in name for name, _n in job.summary["listed_partners"])
    left = db.session.exec(select(Proposal.id).where(Proposal.institution_id == w["a"].id,
                                                     Proposal.status == workflow.IMPORTED)).all()
    assert left == []
    body = client.get(f"/portfolio/import/{job.id}").get_data(as_text=True)
    assert "Listed partners found" in body
    del r
    gc.collect()


def _new_list_version(tmp_path, entry_name: str, country: str) -> Path:
    from rules.lists import ListEntry, dump_list, load_current_lists

    current = {pl.name: pl for pl in load_current_lists()}["canada-named-research-organizations"]
    entry = ListEntry(id="test-added-entry", name=entry_name, country=country, category="entity_list",
                      risk_level="very_high", reason="added by the test")
    new = dataclasses.replace(current, version="2099-12-01", entries=(*current.entries, entry), path=None)
    dump_list(new, tmp_path)
    return tmp_path


def test_rescreen_after_list_update_changes_exactly_the_affected_cases(app, factory, office_world, tmp_path,
                                                                      monkeypatch):
    from screening.portfolio import tasks as portfolio_tasks

    w = office_world
    target = w["plain"]  # University of Oslo: fast-tracked (low) until the list names it
    assert target.status == workflow.FAST_TRACKED
    before = {p.id: (p.status, p.tier) for p in db.session.exec(select(Proposal)).all()}
    original = app.extensions.get("screener")
    portfolio_tasks.monitor(db.session)  # baseline (or a no-op when one exists)
    db.session.commit()
    monkeypatch.setenv("SCREENING_LISTS_DIR", str(_new_list_version(tmp_path / "lists", "University of Oslo", "NO")))
    try:
        client = factory.logged_in_client(w["office_a"])
        assert client.post("/portfolio/monitoring/check").status_code == 303
        job = db.session.exec(select(RescreenJob).order_by(RescreenJob.id.desc())).first()
        assert job.cause == "list canada-named-research-organizations 2099-12-01"
        errors = [m.last_error for m in db.session.exec(select(OutboxMessage)) if m.last_error]
        assert job.status == "done", errors
        events = db.session.exec(select(ScreeningEvent).where(ScreeningEvent.job_id == job.id)).all()
        assert [(e.proposal_id, e.before_tier, e.after_tier, e.reopened) for e in events] == \
            [(target.id, "low", "high", True)]
        db.session.expire_all()
        after = {p.id: (p.status, p.tier) for p in db.session.exec(select(Proposal)).all()}
        changed = {pid for pid in before if before[pid] != after[pid]}
        assert changed == {target.id}
        assert after[target.id] == (workflow.IN_REVIEW, "high")
        mails = [m.payload for m in db.session.exec(select(OutboxMessage).where(OutboxMessage.task == "mail.send"))
                 if m.payload.get("event") == "list_match_changed"]
        assert [m["to"] for m in mails] == [w["office_a"].email]
        assert mails[0]["context"]["reopened"] == 1
        page = client.get("/portfolio/monitoring").get_data(as_text=True)
        assert "Fjord sediments" in page and "Legged robots" not in page
        # Nothing else to do on a second check.
        assert client.post("/portfolio/monitoring/check").status_code == 303
        assert db.session.exec(select(RescreenJob).order_by(RescreenJob.id.desc())).first().id == job.id
        pdf = client.get(f"/portfolio/proposals/{target.id}/certificate.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    finally:
        app.extensions["screener"] = original


def test_dashboard_and_suppression(app, factory, office_world):
    client = factory.logged_in_client(office_world["office_a"])
    body = client.get("/portfolio/dashboard").get_data(as_text=True)
    assert "<svg" in body and "Collaborations (without drafts): 2" in body
    body = client.get("/portfolio/dashboard?suppress=1").get_data(as_text=True)
    assert "Collaborations (without drafts): &lt;5" in body
    assert "fewer than 5" in body  # the charts describe suppressed bars in words


def test_pdf_report_through_the_outbox(app, factory, office_world):
    client = factory.logged_in_client(office_world["office_a"])
    r = client.post("/portfolio/dashboard/pdf", data={"suppress": "1"})
    assert r.status_code == 303
    status = client.get(r.headers["Location"])
    assert "Download the PDF" in status.get_data(as_text=True)
    rid = int(r.headers["Location"].rsplit("/", 1)[1])
    pdf = client.get(f"/portfolio/reports/{rid}/download")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    other = factory.logged_in_client(office_world["office_b"])
    assert other.get(f"/portfolio/reports/{rid}/download").status_code == 404


def _big_csv(size: int) -> bytes:
    """A valid import of about ``size`` bytes: rows with long abstracts (at most 20,000 characters)."""
    header = "reference,title,abstract,research_fields,partner_1_name,partner_1_country\n"
    out, n = [header], 0
    total = len(header)
    while total < size:
        n += 1
        row = f"B{n},Large import {n},{'Sediment transport and delta erosion. ' * 500},1.5,University of Oslo,NO\n"
        out.append(row)
        total += len(row)
    return "".join(out).encode()


# Werkzeug spools large uploads to a temporary file that is finalised by the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_import_route_alone_accepts_large_uploads(app, factory, office_world, csrf_enabled):
    """1.5 MiB (above the global 1 MiB) imports; 11 MiB is 413 with nothing stored; other routes keep 1 MiB.

    CSRF protection is on: it reads the form in a before_request hook, so this also shows that the
    larger limit is in place before the body is read."""
    from .helpers import csrf_token_from

    w = office_world
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config["MAX_IMPORT_BYTES"] == 10 * 1024 * 1024
    client = factory.logged_in_client(w["office_a"])
    token = csrf_token_from(client.get("/portfolio/import").get_data(as_text=True))
    before = _count(w["a"])
    data = _big_csv(1536 * 1024)
    assert 1.5 * 1024 * 1024 <= len(data) < 1.6 * 1024 * 1024
    rows = data.count(b"\n") - 1
    r = _upload(client, w["office_a"].id, data, name="large.csv", csrf_token=token)
    assert r.status_code == 303, r.get_data(as_text=True)[:1000]
    job = db.session.exec(select(ImportJob).where(ImportJob.institution_id == w["a"].id)).one()
    assert (job.status, job.total, job.done) == ("done", rows, rows)
    assert _count(w["a"]) == before + rows
    # 11 MiB: refused before anything is parsed; nothing stored.
    r = _upload(client, w["office_a"].id, b"x" * (11 * 1024 * 1024), name="huge.csv", csrf_token=token)
    assert r.status_code == 413
    assert _count(w["a"]) == before + rows
    assert len(db.session.exec(select(ImportJob).where(ImportJob.institution_id == w["a"].id)).all()) == 1
    # Everywhere else the global 1 MiB stays: the list upload and a proposal form.
    admin = factory.logged_in_client(factory.user(w["a"], "institution_admin"))
    r = admin.post("/admin/lists", data={"file": (io.BytesIO(data), "list.csv"), "format": "csv",
                                             "csrf_token": token}, content_type="multipart/form-data")
    assert r.status_code == 413
    r = client.post("/proposals/new", data={"title": "x" * (1536 * 1024)})
    assert r.status_code == 413
    del r
    gc.collect()
