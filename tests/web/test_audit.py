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


# ----------------------------------------------------------------- the hashed text never changes

def json_module_text(value) -> bytes:
    """How every chain so far was hashed."""
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_the_canonical_text_of_every_character_is_the_json_modules():
    characters = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for start in range(0, len(characters), 4096):
        chunk = characters[start:start + 4096]
        value = {chunk: [chunk, {"z" + chunk[:7]: chunk[::-1]}]}
        assert audit.canonical_json(value) == json_module_text(value)


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [None, True, False, -(2**63), 2**64 - 1], "ä": {"é": "x", "E": ""}, "": []},
    {"big": 2**64, "small": -(2**63) - 1},  # beyond 64 bits: the json module's text
    {"score": 0.875, "tiny": 1e-05, "huge": 1e16, "neg": -0.0, "nan": float("nan"), "inf": float("inf")},
    {"tuple": (1, "2"), "nested": [{"x": (None,)}]},
    {"keys": {"2": "a", "10": "b", "B": "c", "a": "d", "\u00e9": "e", "\U0001f600": "f"}},
])
def test_the_canonical_text_of_any_value_is_the_json_modules(value):
    assert audit.canonical_json(value) == json_module_text(value)


def test_a_lone_surrogate_is_refused_as_before():
    with pytest.raises(UnicodeEncodeError):
        audit.canonical_json({"actor": "bad \ud800 text"})
