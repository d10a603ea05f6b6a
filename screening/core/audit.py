"""Append-only, hash-chained audit trail.

Each row's hash is SHA-256 over a canonical JSON of its fields and the previous row's hash, so
an edited, deleted or reordered row breaks the chain at a sequence number ``verify`` reports.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.core.database import utcnow
from screening.core.models import AuditEvent

GENESIS = "0" * 64
_LOCK_KEY = 0x5C12EE  # PostgreSQL advisory lock serialising appends to the chain


def _canonical(event: AuditEvent) -> bytes:
    payload = {
        "seq": event.seq,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "institution_id": event.institution_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


class Person(Protocol):
    """Who acted: a user row (``screening.accounts.models.User``); ``None`` stands for the system."""

    id: int | None
    email: str


def record(session: Session, actor: Person | None, action: str, object_type: str, object_id,
           institution_id: int | None, details: dict | None = None) -> AuditEvent:
    """Append one event. Call inside the caller's transaction; flushes, never commits."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = session.exec(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).first()
    event = AuditEvent(
        seq=(last.seq + 1) if last else 1,
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor=actor.email if actor else "system",
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        institution_id=institution_id,
        details=json.loads(json.dumps(details or {}, default=str)),
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = compute_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None


def verify(session: Session) -> VerifyResult:
    """Walk the chain in sequence order; report the first row that does not fit."""
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    for event in session.exec(select(AuditEvent).order_by(AuditEvent.seq)):
        if event.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"sequence number {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return VerifyResult(False, checked, event.seq, "previous-hash link does not match")
        if compute_hash(event) != event.hash:
            return VerifyResult(False, checked, event.seq, "row content does not match its hash")
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked)
