"""Public verification: a letter looked up by its code, or a file checked against the recorded hashes."""

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from screening.accounts.models import Institution
from screening.documents.content import frozen_version
from screening.documents.letters import format_code, normalise_code, reference_for
from screening.documents.models import GeneratedDocument
from screening.documents.storage import check_sha256
from screening.proposals.models import Proposal
from screening.review.models import Decision


@dataclass
class Verified:
    reference: str
    kind: str
    issued_on: Any
    decision: str | None  # approved / approved_with_conditions / declined; None for a clearance
    institution: str
    superseded: bool
    code: str


def _verified(session: Session, doc: GeneratedDocument) -> Verified:
    proposal = session.get(Proposal, doc.proposal_id)
    decision = issued = None
    if doc.object_type == "decision":
        d = session.get(Decision, doc.object_id)
        decision, issued = d.outcome, d.decided_at
    else:
        issued = frozen_version(session, proposal.id).submitted_at
    return Verified(reference=reference_for(proposal), kind=doc.kind, issued_on=issued.date(), decision=decision,
                    institution=session.get(Institution, doc.institution_id).name, superseded=doc.superseded,
                    code=format_code(doc.verification_code))


def verify_code(session: Session, text: str) -> Verified | None:
    code = normalise_code(text)
    if code is None:
        return None
    doc = session.exec(select(GeneratedDocument).where(GeneratedDocument.verification_code == code,
                                                       GeneratedDocument.sha256.is_not(None))).first()
    return _verified(session, doc) if doc else None


def verify_hash(session: Session, sha256: str) -> Verified | None:
    try:
        check_sha256(sha256.strip().lower())
    except (ValueError, AttributeError):
        return None
    doc = session.exec(select(GeneratedDocument).where(GeneratedDocument.sha256 == sha256.strip().lower())
                       .order_by(GeneratedDocument.id)).first()
    return _verified(session, doc) if doc else None


def verify_bytes(session: Session, data: bytes) -> Verified | None:
    return verify_hash(session, hashlib.sha256(data).hexdigest())
