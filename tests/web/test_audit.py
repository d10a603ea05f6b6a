"""Scorecard 18: the hash-chained audit trail and `screening audit verify`."""

import pytest
import sqlalchemy as sa

from screening.core import audit
from screening.core.commands import audit_verify
from screening.core.extensions import db
from screening.core.models import AuditEvent


@pytest.fixture
def trail(factory):
    inst = factory.institution()
    user = factory.user(inst)
    factory.proposal(user, inst, submit=True)  # created, submitted, screened, routed
    seqs = [e.seq for e in db.session.exec(sa.select(AuditEvent).order_by(AuditEvent.seq)).scalars()]
    assert len(seqs) >= 5
    return seqs


def run_verify(app):
    runner = app.test_cli_runner()
    return runner.invoke(audit_verify, catch_exceptions=False)


def test_intact_trail_verifies(app, trail):
    result = run_verify(app)
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_every_state_change_is_audited(trail):
    actions = [e.action for e in db.session.exec(sa.select(AuditEvent)).scalars()]
    for action in ("proposal.created", "proposal.submitted", "proposal.screened", "proposal.fast_tracked"):
        assert action in actions


def test_edited_row_is_named(app, trail):
    target = trail[2]
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == target)
                       .values(details={"tampered": True}))
    db.session.commit()
    result = run_verify(app)
    assert result.exit_code == 1
    assert f"seq {target}" in result.output


def test_deleted_row_is_named(app, trail):
    target = trail[3]
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.seq == target))
    db.session.commit()
    result = run_verify(app)
    assert result.exit_code == 1
    assert f"seq {target}" in result.output


def test_reordered_rows_are_named(app, trail):
    a, b = trail[1], trail[2]
    query = sa.select(AuditEvent).where(AuditEvent.seq.in_([a, b]))
    rows = {e.seq: e for e in db.session.exec(query).scalars()}
    fields = ("at", "actor_id", "actor", "action", "object_type", "object_id", "institution_id", "details",
              "prev_hash", "hash")
    va = {f: getattr(rows[a], f) for f in fields}
    vb = {f: getattr(rows[b], f) for f in fields}
    db.session.expunge_all()
    # swap the contents of the two rows (hash is unique: park one value first)
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == a).values(hash="parked"))
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == b).values(**va))
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == a).values(**vb))
    db.session.commit()
    result = run_verify(app)
    assert result.exit_code == 1
    assert f"seq {a}" in result.output


def test_verify_function_reports_first_break(trail):
    assert audit.verify(db.session).ok
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == trail[-1]).values(actor="someone else"))
    res = audit.verify(db.session)
    assert not res.ok and res.broken_seq == trail[-1]
