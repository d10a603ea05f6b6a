"""Retention (issue 15, item 5): per-institution periods, applied at an injected moment ("frozen clock").

Runs on SQLite and, in scripts/test.sh, on PostgreSQL. The records are made now; retention runs as
if months or years had passed, by passing that moment as ``now``.
"""

import io
import json
from datetime import date

import pytest
import sqlalchemy as sa

from screening.core import audit, outbox
from screening.core.commands import audit_verify
from screening.core.database import utcnow
from screening.core.extensions import db
from screening.core.models import AuditEvent, OutboxMessage
from screening.documents.config import document_store
from screening.documents.models import GeneratedDocument
from screening.notifications.models import SentMail
from screening.privacy import retention
from screening.privacy.commands import retention_cli
from screening.privacy.models import PseudonymisedProposal, RetentionPolicy
from screening.privacy.scrub import REMOVED
from screening.proposals import service as proposals
from screening.proposals.models import Proposal, ProposalVersion
from screening.review import routing
from screening.review.models import CaseComment, Decision

from .cases import decided_case, seat_chair

HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university",
           "department": "Laboratory of Dr. Wei Zhang"}]
SECRET_TITLE = "Legged robots of Professor Ada Example"
SECRET_ABSTRACT = "Ada Example and her group build quadrupeds together with Dr. Wei Zhang."


@pytest.fixture
def world(factory):
    """One institution with a committee, and one record of each category, all made now."""
    inst = factory.institution()
    owner = factory.user(inst, "researcher")
    chair = factory.user(inst, "committee_chair")
    seat_chair(inst, chair)
    draft = factory.proposal(owner, inst, title="An unsent draft by Ada Example")
    withdrawn = factory.proposal(owner, inst, submit=True, title="A withdrawn plan by Ada Example")
    proposals.withdraw(db.session, factory.actor(owner, inst), withdrawn)
    # The collaboration starts today and runs 24 months: its retention counts from then.
    decision = decided_case(factory, inst, owner, chair, "Ada Example told me about Dr. Wei Zhang.",
                            "Fine, says Ada Example's referee.", partners=HARBIN, title=SECRET_TITLE,
                            abstract=SECRET_ABSTRACT, start_date=date.today().isoformat(), duration_months=24)
    decided = db.session.get(Proposal, decision.proposal_id)
    letter = db.session.scalars(sa.select(GeneratedDocument).where(GeneratedDocument.proposal_id == decided.id,
                                                                   GeneratedDocument.kind == "decision_letter")).one()
    assert letter.sha256, "the decision letter should have been rendered"
    fast = factory.proposal(owner, inst, submit=True, title="A fast-tracked plan by Ada Example")
    assert fast.status == "fast_tracked"
    return {"inst": inst, "owner": owner, "chair": chair, "draft": draft, "withdrawn": withdrawn,
            "decided": decided, "fast": fast, "letter": letter,
            "pdf": document_store(db.session, letter.store).get(letter.sha256)}


def months_later(months: int):
    return retention.add_months(utcnow(), months)


def categories(items) -> dict[int, str]:
    return {item.proposal_id: item.category for item in items}


def test_nothing_expires_before_its_period(world):
    assert [i for i in retention.expired(db.session, months_later(5), world["inst"])] == []
    found = categories(retention.expired(db.session, months_later(7), world["inst"]))
    assert found == {world["draft"].id: "drafts"}
    found = categories(retention.expired(db.session, months_later(25), world["inst"]))
    assert found == {world["draft"].id: "drafts", world["withdrawn"].id: "withdrawn"}


def test_decided_cases_count_from_the_end_of_the_collaboration(world):
    # The fast-tracked proposal has no start date: it counts from its clearance (now), so 10 years.
    found = categories(retention.expired(db.session, months_later(121), world["inst"]))
    assert found[world["fast"].id] == "decided" and world["decided"].id not in found
    # The decided one ends 24 months from now: 10 years after that.
    assert world["decided"].id not in categories(retention.expired(db.session, months_later(24 + 119), world["inst"]))
    assert categories(retention.expired(db.session, months_later(24 + 121), world["inst"]))[world["decided"].id] \
        == "decided"


def test_collaboration_end_falls_back_to_the_decision_date():
    decided_at = utcnow()
    version = ProposalVersion(proposal_json={"start_date": "2027-01-31", "duration_months": 1})
    assert retention.collaboration_end(version, decided_at).date() == date(2027, 2, 28)
    for data in ({}, {"start_date": "2027-01-31"}, {"duration_months": 12}, {"start_date": "not a date",
                                                                            "duration_months": 12}):
        assert retention.collaboration_end(ProposalVersion(proposal_json=data), decided_at) == decided_at


def test_a_policy_of_the_institution_changes_the_periods(world):
    retention.set_policy(db.session, None, world["inst"], {"withdrawn": 1})
    db.session.commit()
    assert world["withdrawn"].id in categories(retention.expired(db.session, months_later(2), world["inst"]))
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "retention.policy_set")).one()
    assert event.details["after"]["withdrawn"] == 1 and event.details["before"]["withdrawn"] == 24


def texts_of_rows(*rows) -> str:
    return json.dumps([row.model_dump(mode="json") for row in rows], ensure_ascii=False)


def test_applied_retention_deletes_pseudonymises_and_keeps_the_proof(app, client, world):
    w = world
    decided_id, letter_id, code = w["decided"].id, w["letter"].id, w["letter"].verification_code
    owner_email, chair_email = w["owner"].email, w["chair"].email
    items = retention.apply(db.session, None, months_later(24 + 121), w["inst"])
    db.session.commit()
    assert retention.counts(items) == {"drafts": 1, "withdrawn": 1, "decided": 2}
    db.session.expire_all()

    # The draft is gone; the others are pseudonymised and marked so.
    assert db.session.get(Proposal, w["draft"].id) is None
    marked = db.session.scalars(sa.select(PseudonymisedProposal.proposal_id)).all()
    assert set(marked) == {w["withdrawn"].id, decided_id, w["fast"].id}

    # No title, abstract, department, comment, reasoning, or personal address is left around the case.
    decided = db.session.get(Proposal, decided_id)
    versions = db.session.scalars(sa.select(ProposalVersion).where(ProposalVersion.proposal_id == decided_id)).all()
    comments = db.session.scalars(sa.select(CaseComment)).all()
    decision = db.session.scalars(sa.select(Decision).where(Decision.proposal_id == decided_id)).one()
    case_id = routing.case_for_proposal(db.session, decided).id
    rows = db.session.scalars(sa.select(AuditEvent).where(sa.or_(
        sa.and_(AuditEvent.object_type == "proposal", AuditEvent.object_id == str(decided_id)),
        sa.and_(AuditEvent.object_type == "review_case", AuditEvent.object_id == str(case_id))))).all()
    mails = [m for m in db.session.scalars(sa.select(OutboxMessage)).all()
             if m.task == "mail.send" and (m.payload["context"].get("case_id") == case_id
                                          or m.payload["context"].get("proposal_id") == decided_id)]
    stored = texts_of_rows(decided, *versions, *comments, decision, *rows, *mails)
    for secret in ("Ada Example", "Wei Zhang", SECRET_TITLE, owner_email, chair_email):
        assert secret not in stored
    assert mails, "the case's mails should have been looked at"
    assert decided.title.startswith("RSC-") and comments[0].body == REMOVED and decision.reasoning == REMOVED
    # What proves the decision stays: outcome, chair, date, status, partner organisation.
    assert decision.outcome == "approved" and decision.decided_by_id == w["chair"].id
    assert decided.status == "decided" and versions[-1].proposal_json["partners"][0]["name"] == HARBIN[0]["name"]
    assert not db.session.scalars(sa.select(SentMail).where(SentMail.recipient.in_([owner_email, chair_email])
                                                            )).first()

    # The audit chain verifies; the retention event counts, and names nobody.
    result = audit.verify(db.session)
    assert result.ok, result
    assert result.pseudonymised >= len(rows)
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "retention.applied")).one()
    assert event.details["deleted"] == {"drafts": 1}
    assert event.details["pseudonymised"] == {"withdrawn": 1, "decided": 2}
    assert "Ada" not in json.dumps(event.details)
    verified = app.test_cli_runner().invoke(audit_verify)
    assert verified.exit_code == 0 and "pseudonymised" in verified.output, verified.output

    # The letter still verifies by code and by upload, though its file is gone.
    letter = db.session.get(GeneratedDocument, letter_id)
    assert letter.sha256 and letter.storage_key is None
    assert not document_store(db.session, "file").exists(letter.sha256)
    by_code = client.get(f"/verify/{code}")
    assert by_code.status_code == 200 and 'data-verified="yes"' in by_code.text
    upload = client.post("/verify", data={"document": (io.BytesIO(w["pdf"]), "letter.pdf")},
                         content_type="multipart/form-data")
    assert upload.status_code == 200 and 'data-verified="yes"' in upload.text

    # A second run finds nothing more.
    assert retention.apply(db.session, None, months_later(24 + 121), w["inst"]) == []


def test_pseudonymised_case_pages_still_open(client, factory, world):
    retention.apply(db.session, None, months_later(24 + 121), world["inst"])
    db.session.commit()
    factory.login(client, world["chair"], world["inst"])
    case_id = routing.case_for_proposal(db.session, world["decided"]).id
    page = client.get(f"/review/cases/{case_id}")
    assert page.status_code == 200 and SECRET_TITLE not in page.text
    factory.login(client, world["owner"], world["inst"])
    assert client.get(f"/proposals/{world['decided'].id}").status_code == 200
    download = client.get(f"/documents/{world['letter'].id}")
    assert download.status_code == 404


def test_a_re_screen_leaves_pseudonymised_proposals_alone(world):
    from screening.portfolio import rescreens

    retention.apply(db.session, None, months_later(24 + 121), world["inst"])
    db.session.commit()
    candidates = db.session.scalars(sa.select(Proposal.id).where(rescreens._rescreened())).all()
    assert world["decided"].id not in candidates and world["fast"].id not in candidates


def test_dry_run_lists_per_category_and_changes_nothing(app, world, monkeypatch):
    monkeypatch.setattr("screening.core.database.utcnow", lambda: months_later(24 + 121))
    before = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
    runner = app.test_cli_runner()
    result = runner.invoke(retention_cli, ["run", "--dry-run", "--institution", world["inst"].slug])
    assert result.exit_code == 0, result.output
    assert "would remove: drafts 1, withdrawn 1, decided 2" in result.output
    assert f"decided\tRSC-{world['decided'].created_at.year}-{world['decided'].id:05d}" in result.output
    assert "Ada" not in result.output
    db.session.expire_all()
    assert db.session.get(Proposal, world["draft"].id) is not None
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == before


def test_the_command_sets_shows_and_runs(app, world):
    runner = app.test_cli_runner()
    slug = world["inst"].slug
    shown = runner.invoke(retention_cli, ["show", "--institution", slug])
    assert shown.output.strip() == f"{slug}: drafts 6m, withdrawn 2y, decided 10y (defaults)"
    changed = runner.invoke(retention_cli, ["set", "--institution", slug, "--drafts", "3m", "--decided", "12y"])
    assert changed.exit_code == 0, changed.output
    shown = runner.invoke(retention_cli, ["show", "--institution", slug])
    assert shown.output.strip() == f"{slug}: drafts 3m, withdrawn 2y, decided 12y"
    ran = runner.invoke(retention_cli, ["run", "--institution", slug])
    assert ran.exit_code == 0 and ran.output.strip() == "removed: drafts 0, withdrawn 0, decided 0"


@pytest.mark.parametrize("args, reason", [
    (["set", "--institution", "nowhere", "--drafts", "6m"], "no institution 'nowhere'"),
    (["set", "--institution", "{slug}"], "give at least one of"),
    (["run", "--institution", "nowhere"], "no institution 'nowhere'"),
    (["show", "--institution", "nowhere"], "no institution 'nowhere'"),
    (["run", "--dry-run", "--institution", "bad\x00slug"], "no institution 'bad\\x00slug'"),
])
def test_bad_command_input_is_refused_in_one_line(app, world, args, reason):
    runner = app.test_cli_runner()
    before = db.session.execute(sa.select(sa.func.count()).select_from(RetentionPolicy)).scalar_one()
    result = runner.invoke(retention_cli, [*[a.format(slug=world["inst"].slug) for a in args]])
    assert result.exit_code == 2, result.output
    assert reason in result.output and len(result.output.strip().splitlines()) == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(RetentionPolicy)).scalar_one() == before


@pytest.mark.parametrize("period", ["0m", "6", "six months", "1201m", "101y", "-3m", "6m\x00", "٦m", "1e3m", ""])
def test_bad_periods_are_refused(app, world, period):
    runner = app.test_cli_runner()
    result = runner.invoke(retention_cli, ["set", "--institution", world["inst"].slug, "--drafts", period])
    assert result.exit_code == 2
    assert db.session.get(RetentionPolicy, world["inst"].id) is None


def test_periods_parse_months_and_years():
    assert retention.parse_period("6m") == 6 and retention.parse_period("10Y") == 120
    assert retention.format_period(120) == "10y" and retention.format_period(18) == "18m"


def test_beat_runs_retention_daily(app):
    schedule = app.extensions["celery"].conf.beat_schedule
    assert schedule["privacy-retention"] == {"task": "screening.privacy.retention", "schedule": 24 * 3600.0}


def test_the_beat_task_applies_every_institution(world, monkeypatch):
    from screening.privacy import tasks

    draft_id = world["draft"].id
    monkeypatch.setattr(tasks, "utcnow", lambda: months_later(7))
    assert tasks.retention_task.apply().get() == {"drafts": 1, "withdrawn": 0, "decided": 0}
    db.session.expire_all()
    assert db.session.get(Proposal, draft_id) is None


def test_letter_files_go_only_after_commit(world):
    retention.apply(db.session, None, months_later(24 + 121), world["inst"])
    sha = world["letter"].sha256
    assert document_store(db.session, "file").exists(sha)  # not yet: the transaction may still roll back
    db.session.rollback()
    assert document_store(db.session, "file").exists(sha)
    assert not db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.task ==
                                                                 "privacy.discard_letter_files")).first()
    assert outbox.HANDLERS["privacy.discard_letter_files"]
