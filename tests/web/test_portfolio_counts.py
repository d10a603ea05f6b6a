"""The dashboard's counts (``portfolio_count``) stay equal to a full recount through a proposal's life."""

import uuid

import pytest
import sqlalchemy as sa
from sqlmodel import select

from screening.core.engine import get_screener
from screening.core.extensions import db
from screening.portfolio import counts
from screening.portfolio.commands import portfolio_cli
from screening.portfolio.index import index_screening
from screening.portfolio.models import ImportJob, PartnerName, PortfolioCount, ProposalField, ProposalPartner
from screening.proposals import service as intake
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review import routing
from screening.review.models import CommitteeMember, ReviewCase

from .test_portfolio import HIT, OSLO, _csv, _new_list_version, _upload

BEIHANG = {"name": "Beihang University", "country": "CN", "type": "university"}
TSINGHUA = {"name": "Tsinghua University", "country": "CN", "type": "university"}


@pytest.fixture
def counted_world(app, factory, tmp_path):
    app.config["PORTFOLIO_REPORT_DIR"] = str(tmp_path / "reports")
    inst, other = factory.institution(), factory.institution()
    chair = factory.user(inst, "committee_chair")
    committee = routing.ensure_setup(db.session, None, inst.id)
    db.session.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
    db.session.commit()
    return {"inst": inst, "other": other, "chair": chair, "researcher": factory.user(inst, "researcher"),
            "office": factory.user(inst, "international_office"),
            "researcher_other": factory.user(other, "researcher")}


def _agree(*institutions) -> dict:
    """The stored counts and partner names equal a recount's, for each institution."""
    db.session.flush()
    for inst in institutions:
        assert counts.stored(db.session, inst.id) == counts.recounted(db.session, inst.id)
        assert counts.partner_names(db.session, inst.id) == counts.partner_names(db.session, inst.id, recollected=True)
    return counts.stored(db.session, institutions[0].id)


def test_counts_follow_create_screen_decide_withdraw_import_rescreen_and_reindex(
        app, factory, counted_world, tmp_path, monkeypatch):
    w = counted_world
    inst, other, researcher = w["inst"], w["other"], w["researcher"]
    actor = factory.actor(researcher, inst)
    draft = factory.proposal(researcher, inst, title="Still a draft", partners=[HIT])
    _agree(inst, other)
    # Two Chinese partners on one proposal count once for China.
    listed = factory.proposal(researcher, inst, submit=True, title="Legged robots", partners=[HIT, BEIHANG],
                              research_fields=["2.2", "2.3"])
    plain = factory.proposal(researcher, inst, submit=True, title="Fjord sediments", partners=[OSLO])
    twice = factory.proposal(researcher, inst, submit=True, title="Two from Beijing", partners=[TSINGHUA, TSINGHUA])
    factory.proposal(w["researcher_other"], other, submit=True, title="Elsewhere", partners=[HIT])
    stored = _agree(inst, other)
    assert stored[(inst.id, "country", "CN", listed.tier)] >= 1
    assert sum(n for (i, d, k, _t), n in stored.items() if d == "country" and k == "CN") == 2
    assert stored[(inst.id, "status", workflow.DRAFT, "")] == 1

    chair = factory.logged_in_client(w["chair"])
    case = routing.case_for_proposal(db.session, listed)
    version = db.session.get(ReviewCase, case.id).version
    r = chair.post(f"/review/cases/{case.id}/decision", data={"case_version": str(version), "outcome": "declined",
                                                              "reasoning": "Too close to defence research"})
    assert r.status_code == 302
    intake.withdraw(db.session, actor, db.session.get(Proposal, twice.id))
    intake.withdraw(db.session, actor, db.session.get(Proposal, draft.id))
    db.session.commit()
    stored = _agree(inst, other)
    assert stored[(inst.id, "status", workflow.DECIDED, listed.tier)] == 1
    assert (inst.id, "status", workflow.DRAFT, "") not in stored

    office = factory.logged_in_client(w["office"])
    rows = [f"r{n},Imported project {n},2.2,{name},{country}" for n, (name, country) in
            enumerate([("Harbin Institute of Technology", "CN"), ("University of Tokyo", "JP"),
                       ("Sharif University of Technology", "IR")])]
    assert _upload(office, researcher.id, _csv(rows)).status_code == 303
    assert db.session.exec(select(ImportJob).where(ImportJob.institution_id == inst.id)).one().status == "done"
    stored = _agree(inst, other)
    assert stored[(inst.id, "field", "2.2", "")] == 4

    # A list update names the University of Oslo: the re-screen raises the tier and reopens the case.
    monkeypatch.setenv("SCREENING_LISTS_DIR", str(_new_list_version(tmp_path / "lists", "University of Oslo", "NO")))
    original = app.extensions.get("screener")
    try:
        assert office.post("/portfolio/monitoring/check").status_code == 303
    finally:
        app.extensions["screener"] = original
    db.session.expire_all()
    assert db.session.get(Proposal, plain.id).tier == "high"
    stored = _agree(inst, other)
    assert stored[(inst.id, "country", "NO", "high")] == 1 and (inst.id, "country", "NO", "low") not in stored

    # The facets of a proposal rewritten with other partners (as a resubmission does).
    proposal = db.session.get(Proposal, plain.id)
    version = db.session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == plain.id)).one()
    data = {**version.proposal_json, "partners": [HIT, BEIHANG]}
    db.session.execute(sa.update(ProposalPartner).where(ProposalPartner.proposal_id == plain.id)
                       .values(country="SE"))
    _agree(inst, other)
    index_screening(db.session, proposal, data, version.result_json, version.number, "test")
    db.session.commit()
    stored = _agree(inst, other)
    assert (inst.id, "country", "NO", "high") not in stored and (inst.id, "country", "SE", "high") not in stored

    # Submitting through the service after the researcher edits a resubmission screens again.
    fresh = intake.save_draft(db.session, actor, {**data, "title": "Second round"}, creation_token=uuid.uuid4().hex)
    intake.submit(db.session, actor, fresh, uuid.uuid4().hex, get_screener())
    db.session.commit()
    _agree(inst, other)


def test_rows_written_in_bulk_and_deleted_with_their_proposal_are_counted(app, factory, counted_world):
    """Multi-row statements (as the import writes) and a deleted proposal (its facets cascade)."""
    w = counted_world
    inst = w["inst"]
    before = _agree(inst)
    ids = [factory.proposal(w["researcher"], inst, title=f"Bulk {n}").id for n in range(3)]
    db.session.execute(sa.update(Proposal).where(Proposal.id.in_(ids)).values(status=workflow.IMPORTED, tier="high"))
    partners = [("Harbin Institute of Technology", "CN", "HIT"), ("Beihang University", "CN", None),
                ("University of Tokyo", "JP", None)]
    db.session.execute(sa.insert(ProposalPartner), [
        {"proposal_id": pid, "institution_id": inst.id, "position": n, "name": name, "country": country,
         "listed_entry": entry} for pid in ids for n, (name, country, entry) in enumerate(partners)])
    db.session.execute(sa.insert(ProposalField), [{"proposal_id": pid, "institution_id": inst.id, "code": "2.2"}
                                                  for pid in ids])
    stored = _agree(inst)
    assert stored[(inst.id, "country", "CN", "high")] == 3 and stored[(inst.id, "listed", "HIT", "")] == 3
    db.session.execute(sa.update(Proposal).where(Proposal.id == ids[0]).values(tier="critical"))
    db.session.execute(sa.update(ProposalPartner).where(ProposalPartner.proposal_id == ids[1],
                                                        ProposalPartner.position == 0).values(country="RU"))
    stored = _agree(inst)
    assert stored[(inst.id, "country", "CN", "high")] == 2 and stored[(inst.id, "country", "RU", "high")] == 1
    db.session.execute(sa.delete(Proposal).where(Proposal.id.in_(ids)))
    assert _agree(inst) == before


def test_a_partner_name_comes_with_its_first_partner_row_and_goes_with_its_last(app, factory, counted_world):
    w = counted_world
    inst, other = w["inst"], w["other"]
    ids = [factory.proposal(w["researcher"], inst, title=f"Names {n}").id for n in range(2)]
    elsewhere = factory.proposal(w["researcher_other"], other, title="Names elsewhere").id

    def partner(pid, institution, position, name):
        return {"proposal_id": pid, "institution_id": institution.id, "position": position, "name": name,
                "country": "CN", "listed_entry": None}

    db.session.execute(sa.insert(ProposalPartner), [
        partner(ids[0], inst, 0, "Harbin Institute of Technology"), partner(ids[0], inst, 1, "Beihang University"),
        partner(ids[1], inst, 0, "Harbin Institute of Technology"),
        partner(elsewhere, other, 0, "Tsinghua University")])
    _agree(inst, other)
    assert counts.partner_names(db.session, inst.id) == {"Harbin Institute of Technology", "Beihang University"}
    assert counts.partner_names(db.session, other.id) == {"Tsinghua University"}

    # Renamed in one proposal: the name stays while the other proposal still has it.
    db.session.execute(sa.update(ProposalPartner).where(ProposalPartner.proposal_id == ids[0],
                                                        ProposalPartner.position == 0).values(name="HIT"))
    _agree(inst, other)
    assert "Harbin Institute of Technology" in counts.partner_names(db.session, inst.id)
    db.session.execute(sa.delete(Proposal).where(Proposal.id == ids[1]))
    _agree(inst, other)
    assert counts.partner_names(db.session, inst.id) == {"HIT", "Beihang University"}
    db.session.execute(sa.delete(ProposalPartner).where(ProposalPartner.proposal_id == ids[0]))
    _agree(inst, other)
    assert counts.partner_names(db.session, inst.id) == set()
    assert counts.partner_names(db.session, other.id) == {"Tsinghua University"}


def test_recount_command_rebuilds_the_counts(app, factory, counted_world):
    w = counted_world
    factory.proposal(w["researcher"], w["inst"], submit=True, partners=[HIT])
    factory.proposal(w["researcher_other"], w["other"], submit=True, partners=[OSLO])
    expected = {i.id: counts.recounted(db.session, i.id) for i in (w["inst"], w["other"])}
    db.session.execute(sa.update(PortfolioCount).values(n=PortfolioCount.n + 7))
    db.session.execute(sa.delete(PartnerName))
    db.session.execute(sa.insert(PartnerName), [{"institution_id": w["inst"].id, "name": "Stale University"}])
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(portfolio_cli, ["recount", "--institution", w["inst"].slug], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "portfolio counts rebuilt" in result.output
    db.session.expire_all()
    assert counts.stored(db.session, w["inst"].id) == expected[w["inst"].id]
    assert counts.partner_names(db.session, w["inst"].id) == {HIT["name"]}
    assert counts.stored(db.session, w["other"].id) != expected[w["other"].id]  # not asked for
    assert counts.partner_names(db.session, w["other"].id) == set()
    assert runner.invoke(portfolio_cli, ["recount"], catch_exceptions=False).exit_code == 0
    db.session.expire_all()
    assert counts.stored(db.session, w["other"].id) == expected[w["other"].id]
    assert counts.partner_names(db.session, w["other"].id) == {OSLO["name"]}
    bad = runner.invoke(portfolio_cli, ["recount", "--institution", "no-such"])
    assert bad.exit_code == 2 and "no institution" in bad.output
