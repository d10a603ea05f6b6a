"""The audit chain over payload hashes (issue 15): pseudonymised payloads verify, forged ones do not,
and the migration re-hashes an intact chain of the previous release and refuses a broken one.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from screening import create_app
from screening.core import audit, migrations
from screening.core.extensions import db
from screening.core.models import AuditEvent
from tests.web.conftest import base_config, scratch_database

PRIVACY_REVISION = "c41f7a2e9b03"
PREVIOUS_REVISION = "708b8d5fb1ca"


@pytest.fixture
def trail(factory):
    inst = factory.institution()
    user = factory.user(inst, email="ada.example@example.org")
    factory.proposal(user, inst, submit=True, title="Ada Example's plan")
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.actor_id == user.id)
                              .order_by(AuditEvent.seq)).all()
    assert len(rows) >= 2
    return {"inst": inst, "user": user, "seqs": [row.seq for row in rows]}


def pseudonymise(trail, seqs) -> AuditEvent:
    rewrites = {seq: audit.Rewrite(actor="user-x@pseudonymised.invalid", details={"title": "[removed]"})
                for seq in seqs}
    event = audit.pseudonymise(db.session, None, "person.erased", "user", trail["user"].id, None, {}, rewrites)
    db.session.commit()
    return event


def test_pseudonymised_payloads_verify_and_are_counted(trail):
    event = pseudonymise(trail, trail["seqs"])
    result = audit.verify(db.session)
    assert result.ok and result.pseudonymised == len(trail["seqs"])
    assert event.details[audit.PSEUDONYMISED_ROWS]["count"] == len(trail["seqs"])
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.seq.in_(trail["seqs"]))).all()
    assert all(row.redacted_by == event.seq and "ada" not in row.actor for row in rows)


def test_a_second_pseudonymisation_keeps_the_first_record_exact(trail):
    first = pseudonymise(trail, trail["seqs"][:1])
    rewrites = {seq: audit.Rewrite(actor="someone@pseudonymised.invalid", details={}) for seq in trail["seqs"]}
    audit.pseudonymise(db.session, None, "person.erased", "user", trail["user"].id, None, {}, rewrites)
    db.session.commit()
    assert audit.verify(db.session).ok
    assert db.session.get(AuditEvent, trail["seqs"][0]).redacted_by == first.seq


def test_a_payload_replaced_without_a_record_is_named(trail):
    target = trail["seqs"][0]
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == target).values(actor="someone-else"))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok and result.broken_seq == target


def test_a_forged_pseudonymisation_mark_is_named(trail):
    event = pseudonymise(trail, trail["seqs"][:1])
    forged = trail["seqs"][1]
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == forged)
                       .values(details={"title": "changed"}, redacted_by=event.seq))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok and result.broken_seq == trail["seqs"][0]
    assert "records other rows" in result.reason


def test_a_mark_pointing_at_an_earlier_or_missing_event_is_named(trail):
    target = trail["seqs"][1]
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == target).values(redacted_by=1))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok and result.broken_seq == target


def test_an_unmarked_row_that_an_event_claims_is_named(trail):
    event = pseudonymise(trail, trail["seqs"][:1])
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == trail["seqs"][0]).values(redacted_by=None))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok and result.broken_seq in (trail["seqs"][0], event.seq)


def test_the_announcing_event_cannot_be_edited(trail):
    event = pseudonymise(trail, trail["seqs"])
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == event.seq)
                       .values(details={audit.PSEUDONYMISED_ROWS: {"count": 0, "sha256": "0"}}))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok and result.broken_seq == trail["seqs"][0]


# ---------------------------------------------------------------- the migration


def previous_release_hash(row: dict, prev_hash: str) -> str:
    """How the release before the privacy migration hashed a whole row."""
    payload = {**row, "prev_hash": prev_hash}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest()


@pytest.fixture
def old_release(tmp_path_factory, tmp_path):
    with scratch_database(tmp_path_factory, "auditmig") as url:
        app = create_app(base_config(url, tmp_path))
        migrations.upgrade(app, PREVIOUS_REVISION)
        yield app
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


def write_old_chain(app, count: int = 3) -> None:
    table = sa.table("audit_event", sa.column("details", sa.JSON), sa.column("at", sa.DateTime(timezone=True)),
                     *(sa.column(c) for c in ("seq", "actor_id", "actor", "action", "object_type", "object_id",
                                              "institution_id", "prev_hash", "hash")))
    prev = audit.GENESIS
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with app.app_context(), db.engine.begin() as conn:
        for seq in range(1, count + 1):
            at = start + timedelta(minutes=seq)
            row = {"seq": seq, "at": at.isoformat(timespec="microseconds"), "actor_id": None,
                   "actor": "ada.example@example.org", "action": "user.login", "object_type": "user",
                   "object_id": str(seq), "institution_id": None, "details": {"n": seq}}
            digest = previous_release_hash(row, prev)
            conn.execute(table.insert().values(**{**row, "at": at, "prev_hash": prev, "hash": digest}))
            prev = digest


def test_the_migration_rehashes_an_intact_chain(old_release):
    write_old_chain(old_release)
    migrations.upgrade(old_release)
    with old_release.app_context():
        result = audit.verify(db.session)
        assert result.ok and result.checked == 3
        db.session.rollback()


def test_the_migration_refuses_a_broken_chain(old_release):
    write_old_chain(old_release)
    with old_release.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 2"))
    with pytest.raises(RuntimeError, match="audit trail broken at seq 2"):
        migrations.upgrade(old_release)
    with old_release.app_context(), db.engine.connect() as conn:
        assert "retention_policy" not in sa.inspect(conn).get_table_names()  # refused before any change
