"""Append-only, hash-chained audit trail.

Each row's hash is SHA-256 over a canonical JSON of its fields and the previous row's hash, so
an edited, deleted or reordered row breaks the chain at a sequence number ``verify`` reports.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.core import bulk
from screening.core.database import utcnow
from screening.core.models import AuditEvent

GENESIS = "0" * 64
_LOCK_KEY = 0x5C12EE  # PostgreSQL advisory lock serialising appends to the chain


_HASHED = ("seq", "at", "actor_id", "actor", "action", "object_type", "object_id", "institution_id", "details",
           "prev_hash")


def _hash_of(fields: dict) -> str:
    """SHA-256 over the canonical JSON of an event's fields (``at`` in UTC to the microsecond)."""
    payload = {**fields, "at": fields["at"].astimezone(UTC).isoformat(timespec="microseconds")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
                          ).hexdigest()


def compute_hash(event: AuditEvent) -> str:
    return _hash_of({name: getattr(event, name) for name in _HASHED})


class Person(Protocol):
    """Who acted: a user row (``screening.accounts.models.User``); ``None`` stands for the system."""

    id: int | None
    email: str


@dataclass(frozen=True)
class Entry:
    """One event for :func:`record_many`."""

    action: str
    object_type: str
    object_id: Any
    institution_id: int | None
    details: dict | None = None


def _chain_tail(session: Session) -> tuple[int, str]:
    """(last sequence number, its hash), holding the lock that serialises appends on PostgreSQL."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


def _fields(seq: int, prev_hash: str, actor: Person | None, entry: Entry) -> dict:
    fields = {
        "seq": seq,
        "at": utcnow(),
        "actor_id": actor.id if actor else None,
        "actor": actor.email if actor else "system",
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": None if entry.object_id is None else str(entry.object_id),
        "institution_id": entry.institution_id,
        "details": json.loads(json.dumps(entry.details or {}, default=str)),
        "prev_hash": prev_hash,
    }
    fields["hash"] = _hash_of(fields)
    return fields


def record(session: Session, actor: Person | None, action: str, object_type: str, object_id,
           institution_id: int | None, details: dict | None = None) -> AuditEvent:
    """Append one event. Call inside the caller's transaction; flushes, never commits."""
    seq, prev_hash = _chain_tail(session)
    event = AuditEvent(**_fields(seq + 1, prev_hash, actor, Entry(action, object_type, object_id, institution_id,
                                                                 details)))
    session.add(event)
    session.flush()
    return event


def record_many(session: Session, actor: Person | None, entries: Sequence[Entry]) -> int:
    """Append ``entries`` in order with one multi-row INSERT: the same chain as :func:`record` one by one.

    For bulk work (an import chunk writes thousands); returns the last sequence number written.
    """
    seq, prev_hash = _chain_tail(session)
    rows = []
    for entry in entries:
        seq += 1
        rows.append(_fields(seq, prev_hash, actor, entry))
        prev_hash = rows[-1]["hash"]
    bulk.insert_rows(session, AuditEvent, rows)
    return seq


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
