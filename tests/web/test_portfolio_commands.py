"""`screening portfolio reindex` and the demo's portfolio search tables."""

import sqlalchemy as sa
from sqlmodel import select

from screening.accounts import service as accounts
from screening.core.extensions import db
from screening.portfolio.commands import portfolio_cli
from screening.portfolio.models import ProposalField, ProposalFlag, ProposalPartner, ProposalScreening
from screening.proposals.models import Proposal, ProposalVersion

HIT = {"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}


def _facets(pid: int) -> tuple[int, int, int, bool]:
    db.session.expire_all()
    count = [len(db.session.exec(select(m.id).where(m.proposal_id == pid)).all())
             for m in (ProposalPartner, ProposalField, ProposalFlag)]
    return (*count, db.session.get(ProposalScreening, pid) is not None)


def test_reindex_fills_the_search_tables_of_proposals_screened_before_them(app, factory):
    inst, other = factory.institution(), factory.institution()
    researcher = factory.user(inst, "researcher")
    proposals = [factory.proposal(researcher, inst, submit=True, title=f"Old {n}", partners=[HIT],
                                  research_fields=["2.2"]) for n in range(3)]
    draft = factory.proposal(researcher, inst, title="Draft")
    elsewhere = factory.proposal(factory.user(other, "researcher"), other, submit=True, partners=[HIT])
    pids, draft_id, elsewhere_id, slug = [p.id for p in proposals], draft.id, elsewhere.id, inst.slug
    indexed = {pid: _facets(pid) for pid in pids}
    assert all(v[0] == 1 and v[3] for v in indexed.values())
    ids = [*pids, elsewhere_id]
    for model in (ProposalPartner, ProposalField, ProposalFlag, ProposalScreening):  # as before the upgrade
        db.session.execute(sa.delete(model).where(model.proposal_id.in_(ids)))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(portfolio_cli, ["reindex", "--institution", slug, "--chunk", "2"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "3 proposals indexed" in result.output
    assert {pid: _facets(pid) for pid in pids} == indexed
    assert _facets(draft_id) == (0, 0, 0, False)  # drafts have no version: nothing to index
    assert _facets(elsewhere_id) == (0, 0, 0, False)  # another institution was not asked for
    again = runner.invoke(portfolio_cli, ["reindex"], catch_exceptions=False)
    assert "1 proposals indexed" in again.output and _facets(elsewhere_id)[3]
    assert "0 proposals indexed" in runner.invoke(portfolio_cli, ["reindex"]).output
    assert runner.invoke(portfolio_cli, ["reindex", "--institution", "no-such"]).exit_code != 0


def test_demo_fills_the_portfolio_search_tables(app):
    from screening.demo.data import load_demo

    load_demo(db.session)
    db.session.commit()
    with_version = set(db.session.exec(select(ProposalVersion.proposal_id).distinct()).all())
    assert with_version
    screened = set(db.session.exec(select(ProposalScreening.proposal_id)).all())
    assert with_version <= screened
    partners = set(db.session.exec(select(ProposalPartner.proposal_id).distinct()).all())
    assert with_version <= partners
    drafts = set(db.session.exec(select(Proposal.id).where(Proposal.status == "draft")).all())
    assert not drafts & screened


def test_the_demo_installation_has_an_installation_administrator(app, factory):
    from screening.demo.data import INSTALLATION_ADMIN, load_demo

    logins, created = load_demo(db.session)
    db.session.commit()
    assert created and logins["installation_admin"] == INSTALLATION_ADMIN
    admin = accounts.get_user_by_email(db.session, INSTALLATION_ADMIN)
    assert admin.is_installation_admin
    client = app.test_client()
    factory.login(client, admin)
    page = client.get("/admin/installation/")
    assert page.status_code == 200 and "Technische Hochschule Rheinau" in page.get_data(as_text=True)
    researcher = accounts.get_user_by_email(db.session, "researcher@nordhafen.example")
    factory.login(client, researcher)
    assert client.get("/admin/installation/").status_code == 404
