"""Letters requested in the caller's transaction: an outbox message and a pending document.

``request_decision_letter`` / ``request_fast_track_letter`` write an outbox message and a pending
:class:`GeneratedDocument` (with its random verification code) in the caller's transaction; the
handlers in :mod:`screening.documents.tasks` render, sign and store the letter later. A decision
(``review.signals.decided``) and a fast-tracked proposal (``proposals.signals.fast_tracked``) ask
for their letters here. Nothing here commits.
"""

import re
import secrets

from flask import current_app
from sqlmodel import Session, select

from screening.core.models import OutboxMessage
from screening.core.outbox import enqueue
from screening.documents.models import GeneratedDocument
from screening.proposals import signals as proposal_signals
from screening.proposals import workflow
from screening.proposals.models import Proposal
from screening.review import signals as review_signals
from screening.review.models import Decision

DECISION_TASK = "documents.render_decision_letter"
FAST_TRACK_TASK = "documents.render_fast_track_letter"
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 16  # 80 bits


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """``7K4QM2XD9FJH3WPA`` -> ``7K4Q-M2XD-9FJH-3WPA`` (as printed)."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def normalise_code(text: str) -> str | None:
    """A typed or scanned code in canonical form, or None if it cannot be one."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    code = re.sub(r"[\s-]", "", text).upper().translate(str.maketrans("OIL", "011"))
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def reference_for(proposal: Proposal) -> str:
    """The case reference printed in letters and shown by the verification page."""
    return f"RSC-{proposal.created_at.year}-{proposal.id:05d}"


def verification_url(code: str) -> str:
    base = str(current_app.config.get("BASE_URL") or "").rstrip("/")
    return f"{base}/verify/{code}"


def documents_of(session: Session, object_type: str, object_ids: list[int], kind: str | None = None):
    stmt = select(GeneratedDocument).where(GeneratedDocument.object_type == object_type,
                                           GeneratedDocument.object_id.in_(object_ids))
    if kind:
        stmt = stmt.where(GeneratedDocument.kind == kind)
    return list(session.exec(stmt).all())


def _request(session: Session, kind: str, task: str, object_type: str, object_id: int, proposal_id: int,
             institution_id: int) -> OutboxMessage:
    existing = documents_of(session, object_type, [object_id], kind)
    if existing:  # asked twice in one workflow (a resent form): one letter
        return session.get(OutboxMessage, existing[0].outbox_message_id)
    message = enqueue(session, task, {"object_id": object_id})
    session.add(GeneratedDocument(kind=kind, object_type=object_type, object_id=object_id, proposal_id=proposal_id,
                                  institution_id=institution_id, outbox_message_id=message.id,
                                  verification_code=new_verification_code()))
    session.flush()
    return message


def request_decision_letter(session: Session, decision: Decision) -> OutboxMessage:
    """Ask for the letter of ``decision``; it commits with the caller's transaction.

    Letters of decisions this one supersedes, and the fast-track letter of the proposal, are
    marked superseded (they stay downloadable and verifiable, with that remark).
    """
    if decision.id is None:
        session.flush()
    older = [d.id for d in session.exec(select(Decision).where(Decision.case_id == decision.case_id,
                                                                Decision.id != decision.id)).all()]
    superseded = documents_of(session, "decision", older) + documents_of(
        session, "proposal", [decision.proposal_id], "fast_track_letter")
    for doc in superseded:
        doc.superseded = True
        session.add(doc)
    return _request(session, "decision_letter", DECISION_TASK, "decision", decision.id, decision.proposal_id,
                    decision.institution_id)


def request_fast_track_letter(session: Session, proposal: Proposal) -> OutboxMessage:
    """Ask for the clearance letter of a fast-tracked ``proposal`` (caller's transaction)."""
    if proposal.id is None:
        session.flush()
    return _request(session, "fast_track_letter", FAST_TRACK_TASK, "proposal", proposal.id, proposal.id,
                    proposal.institution_id)


@proposal_signals.fast_tracked.connect
def on_fast_tracked(proposal: Proposal, *, session: Session) -> None:
    """A proposal was cleared without committee review: its clearance letter."""
    request_fast_track_letter(session, proposal)


@review_signals.decided.connect
def on_decided(decision: Decision, *, session: Session) -> None:
    """A decision (or a correction) was issued: its letter."""
    request_decision_letter(session, decision)


def request_missing_letters(session: Session) -> list[int]:
    """Request letters for current decisions and fast-tracked proposals that have none (demo, upgrades)."""
    messages = []
    have = set(session.exec(select(GeneratedDocument.object_type, GeneratedDocument.object_id)).all())
    for decision in session.exec(select(Decision).where(Decision.superseded_at.is_(None))
                                 .order_by(Decision.id)).all():
        if ("decision", decision.id) not in have:
            messages.append(request_decision_letter(session, decision).id)
    for proposal in session.exec(select(Proposal).where(Proposal.status == workflow.FAST_TRACKED)
                                 .order_by(Proposal.id)).all():
        if ("proposal", proposal.id) not in have:
            messages.append(request_fast_track_letter(session, proposal).id)
    return messages
