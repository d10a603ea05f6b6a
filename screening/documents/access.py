"""Who may read or retry a letter, its state, downloads (audited) and the admin's list."""

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import Conflict, Forbidden, NotFound
from screening.core.models import OutboxMessage
from screening.core.outbox import FAILED, PENDING
from screening.documents.config import document_store
from screening.documents.models import GeneratedDocument
from screening.proposals.models import Proposal
from screening.review.cases import committee_role, is_recused
from screening.review.models import ReviewCase

log = logging.getLogger(__name__)


def state_of(session: Session, doc: GeneratedDocument) -> str:
    """``ready``, ``pending`` or ``failed``."""
    if doc.sha256:
        return "ready"
    message = session.get(OutboxMessage, doc.outbox_message_id)
    return FAILED if message is not None and message.status == FAILED else PENDING


def read_bytes(session: Session, doc: GeneratedDocument) -> bytes:
    if not doc.sha256:
        raise Conflict("the document is not ready yet")
    if doc.storage_key is None:  # removed under the retention policy; its record still verifies
        raise NotFound(f"the file of document {doc.id} was removed")
    return document_store(session, doc.store).get(doc.sha256)


def _committee_access(session: Session, actor, doc: GeneratedDocument) -> str | None:
    """``chair``/``member`` if the actor sits (not recused) on the committee of the document's case."""
    if not actor.has("committee_member", "committee_chair") or doc.proposal_id is None:
        return None
    case = session.exec(select(ReviewCase).where(ReviewCase.proposal_id == doc.proposal_id)).first()
    if case is None:
        return None
    role = committee_role(session, case.committee_id, actor.user.id)
    if role is None:
        return None
    return None if is_recused(session, case.id, actor.user.id) else role


def may_read(session: Session, actor, doc: GeneratedDocument) -> bool:
    if doc.institution_id != actor.institution_id:
        return False
    proposal = session.get(Proposal, doc.proposal_id) if doc.proposal_id else None
    if proposal is not None and proposal.owner_id == actor.user.id:
        return True
    if actor.has("international_office", "institution_admin"):
        return True
    return _committee_access(session, actor, doc) is not None


def may_retry(session: Session, actor, doc: GeneratedDocument) -> bool:
    if doc.institution_id != actor.institution_id:
        return False
    if actor.has("institution_admin"):
        return True
    return actor.has("committee_chair") and _committee_access(session, actor, doc) == "chair"


def get_readable(session: Session, actor, document_id: int) -> GeneratedDocument:
    """The document if ``actor`` may read it; otherwise NotFound (never says why), logged."""
    doc = session.get(GeneratedDocument, document_id)
    if doc is None or not may_read(session, actor, doc):
        if doc is not None:
            log.warning("access denied: user=%s institution=%s document=%s", actor.user.id, actor.institution_id,
                        document_id)
        raise NotFound(f"document {document_id}")
    return doc


def download(session: Session, actor, document_id: int) -> tuple[GeneratedDocument, bytes]:
    """The bytes of a ready document the actor may read; the download is audited."""
    doc = get_readable(session, actor, document_id)
    data = read_bytes(session, doc)
    audit.record(session, actor.user, "document.downloaded", "generated_document", doc.id, doc.institution_id,
                 {"kind": doc.kind, "sha256": doc.sha256, "proposal_id": doc.proposal_id})
    return doc, data


def retry(session: Session, actor, document_id: int) -> OutboxMessage:
    """Put a failed document's outbox message back to pending; the caller publishes it after commit."""
    doc = get_readable(session, actor, document_id)
    if not may_retry(session, actor, doc):
        raise Forbidden("only the chair or an institution admin may retry a letter")
    message = session.get(OutboxMessage, doc.outbox_message_id)
    if doc.sha256 or message.status != FAILED:
        raise Conflict("only a failed letter can be retried")
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id)
                    .values(status=PENDING, attempts=0, published_at=utcnow()))
    audit.record(session, actor.user, "document.retried", "generated_document", doc.id, doc.institution_id,
                 {"outbox_message_id": message.id, "last_error": (message.last_error or "")[:200]})
    session.flush()
    session.expire(message)
    return message


@dataclass
class LetterStatus:
    id: int
    kind: str
    state: str  # ready / pending / failed
    superseded: bool
    created_at: Any
    can_retry: bool


def letters_for_proposal(session: Session, actor, proposal_id: int) -> list[LetterStatus]:
    """The letters of a proposal the actor may read, newest first, with their state."""
    if actor is None:
        return []
    docs = session.exec(select(GeneratedDocument).where(GeneratedDocument.proposal_id == proposal_id)
                        .order_by(GeneratedDocument.id.desc())).all()
    rows = []
    for doc in docs:
        if not may_read(session, actor, doc):
            continue
        state = state_of(session, doc)
        rows.append(LetterStatus(id=doc.id, kind=doc.kind, state=state, superseded=doc.superseded,
                                 created_at=doc.rendered_at or doc.created_at,
                                 can_retry=state == FAILED and may_retry(session, actor, doc)))
    return rows


def unfinished(session: Session, actor) -> list[tuple[GeneratedDocument, OutboxMessage]]:
    """Failed and pending letters of the actor's institution (for admins), failed first."""
    rows = session.exec(select(GeneratedDocument, OutboxMessage)
                        .join(OutboxMessage, OutboxMessage.id == GeneratedDocument.outbox_message_id)
                        .where(GeneratedDocument.institution_id == actor.institution_id,
                               GeneratedDocument.sha256.is_(None))
                        .order_by(OutboxMessage.status, GeneratedDocument.id.desc())).all()
    return sorted(rows, key=lambda r: (r[1].status != FAILED, -r[0].id))
