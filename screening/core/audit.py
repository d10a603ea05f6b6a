"""Append-only, hash-chained audit trail whose personal parts can be pseudonymised.

Each row keeps its *payload* (who acted, as an e-mail address, and the free-form ``details``)
apart from its *header* (sequence number, time, actor id, action, object, institution). The
row's ``payload_hash`` is SHA-256 over the payload; the row's ``hash`` is SHA-256 over the header,
the payload hash and the previous row's hash. An edited, deleted or reordered row therefore
breaks the chain at a sequence number ``verify`` reports, while a payload may later be replaced by
a pseudonymised version (retention, erasure) without touching any hash: the kept payload hash
still proves what the original said to anyone holding a copy of it.

A replaced payload is only accepted when the row names (``redacted_by``) a later event that
recorded the pseudonymisation, and that event's ``details["pseudonymised_rows"]`` holds the
number and a SHA-256 of exactly the sequence numbers that name it. docs/operations.md, "Retention".
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlmodel import Session, select

from screening.core import bulk
from screening.core.database import utcnow
from screening.core.models import AuditEvent

GENESIS = "0" * 64
# PostgreSQL advisory lock serialising appends to the chain; the portfolio's counting triggers take
# it too, before they upsert counts (see screening.portfolio.counts).
_LOCK_KEY = 0x5C12EE
PSEUDONYMISED_ROWS = "pseudonymised_rows"


_CHAINED = ("seq", "at", "actor_id", "action", "object_type", "object_id", "institution_id", "payload_hash",
            "prev_hash")


def canonical_json(value: Any) -> bytes:
    """The bytes the hashes cover: ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` in UTF-8, which every chain so far was written with.

    orjson writes exactly these bytes for strings, 64-bit integers, booleans, None, and lists and
    dicts (string keys) of them, in a tenth of the time (every character and the key order are
    checked in tests/web/test_audit.py); an import chunk hashes thousands of events. Anything else
    (floats, whose exponents the two write differently; NaN; other types) goes through json.
    """
    if _orjson_writes_it_alike(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate: json's way (and its error) below
            pass
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _orjson_writes_it_alike(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -(2**63) <= value < 2**64
    if kind is dict:
        return all(type(key) is str and _orjson_writes_it_alike(item) for key, item in value.items())
    if kind is list:
        return all(_orjson_writes_it_alike(item) for item in value)
    return False


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def payload_hash(actor: str, details: dict) -> str:
    """SHA-256 over the pseudonymisable part of a row."""
    return _sha256_json({"actor": actor, "details": details})


def _hash_of(fields: dict) -> str:
    """SHA-256 over an event's chained fields (``at`` in UTC to the microsecond); the payload enters by its hash."""
    chained = {name: fields[name] for name in _CHAINED}
    return _sha256_json({**chained, "at": fields["at"].astimezone(UTC).isoformat(timespec="microseconds")})


def compute_hash(event: AuditEvent) -> str:
    return _hash_of({name: getattr(event, name) for name in _CHAINED})


def rows_digest(seqs: list[int]) -> dict[str, Any]:
    """What a pseudonymising event records about the rows it rewrote."""
    ordered = sorted(seqs)
    return {"count": len(ordered), "sha256": hashlib.sha256(",".join(map(str, ordered)).encode()).hexdigest()}


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


def _plain(details: dict | None) -> dict:
    """A JSON-plain copy of ``details`` (what the database will hand back)."""
    details = details or {}
    if _orjson_writes_it_alike(details):
        try:
            return orjson.loads(orjson.dumps(details))
        except orjson.JSONEncodeError:
            pass
    return json.loads(json.dumps(details, default=str))


def _fields(seq: int, prev_hash: str, actor: Person | None, entry: Entry) -> dict:
    actor_text = actor.email if actor else "system"
    details = _plain(entry.details)
    fields = {
        "seq": seq,
        "at": utcnow(),
        "actor_id": actor.id if actor else None,
        "actor": actor_text,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": None if entry.object_id is None else str(entry.object_id),
        "institution_id": entry.institution_id,
        "details": details,
        "payload_hash": payload_hash(actor_text, details),
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


@dataclass(frozen=True)
class Rewrite:
    """The pseudonymised payload that replaces a row's actor and details."""

    actor: str
    details: dict


def pseudonymise(session: Session, actor: Person | None, action: str, object_type: str, object_id,
                 institution_id: int | None, details: dict, rewrites: dict[int, Rewrite]) -> AuditEvent:
    """Record one event announcing the pseudonymisation, then replace the payloads in ``rewrites``.

    Rows already pseudonymised keep the event that first rewrote them (so that event's record
    stays exact); unchanged payloads are skipped. Flushes, never commits.
    """
    rows = session.exec(select(AuditEvent).where(AuditEvent.seq.in_(list(rewrites)))).all() if rewrites else []
    changed = [row for row in rows
               if (row.actor, row.details) != (rewrites[row.seq].actor, _plain(rewrites[row.seq].details))]
    first_time = [row.seq for row in changed if row.redacted_by is None]
    event = record(session, actor, action, object_type, object_id, institution_id,
                   {**details, PSEUDONYMISED_ROWS: rows_digest(first_time)})
    for row in changed:
        row.actor = rewrites[row.seq].actor
        row.details = _plain(rewrites[row.seq].details)
        if row.redacted_by is None:
            row.redacted_by = event.seq
        session.add(row)
    session.flush()
    return event


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None
    pseudonymised: int = 0


def _pseudonymisation_problems(events: dict[int, AuditEvent], pointing: dict[int, list[int]]) -> list[tuple[int, str]]:
    """Rows whose replaced payload no recorded pseudonymisation accounts for (sequence number, reason)."""
    problems = []
    for by_seq, seqs in pointing.items():
        announcing = events.get(by_seq)
        if announcing is None or any(seq >= by_seq for seq in seqs):
            problems.append((min(seqs), f"payload replaced, but event {by_seq} did not pseudonymise it"))
            continue
        if announcing.details.get(PSEUDONYMISED_ROWS) != rows_digest(seqs):
            problems.append((min(seqs), f"payload replaced, but event {by_seq} records other rows"))
    announced = [seq for seq, e in events.items()
                 if (e.details.get(PSEUDONYMISED_ROWS) or {}).get("count") and seq not in pointing]
    problems.extend((seq, "the rows this event pseudonymised no longer name it") for seq in announced)
    return problems


def _payload_fits(event: AuditEvent) -> bool:
    """The payload is the one hashed, or a recorded pseudonymisation replaced it (checked separately)."""
    return event.redacted_by is not None or payload_hash(event.actor, event.details) == event.payload_hash


def verify(session: Session) -> VerifyResult:
    """Walk the chain in sequence order; report the first row that does not fit."""
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    first_break: tuple[int, str] | None = None
    events: dict[int, AuditEvent] = {}
    pointing: dict[int, list[int]] = defaultdict(list)
    for event in session.exec(select(AuditEvent).order_by(AuditEvent.seq)):
        if event.seq != expected_seq:
            first_break = (expected_seq, f"sequence number {expected_seq} is missing")
        elif event.prev_hash != prev_hash:
            first_break = (event.seq, "previous-hash link does not match")
        elif compute_hash(event) != event.hash or not _payload_fits(event):
            first_break = (event.seq, "row content does not match its hash")
        if first_break:
            break
        if event.redacted_by is not None:
            pointing[event.redacted_by].append(event.seq)
        events[event.seq] = event
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    problems = _pseudonymisation_problems(events, pointing)
    if first_break:
        problems.append(first_break)
    if problems:
        seq, reason = min(problems)
        return VerifyResult(False, min(checked, seq - 1), seq, reason)
    return VerifyResult(True, checked, pseudonymised=sum(len(seqs) for seqs in pointing.values()))
