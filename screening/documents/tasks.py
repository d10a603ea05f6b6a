"""The outbox handlers that render, sign and store letters (``documents.render_*``).

The handler builds a plain context from the database, renders it in the researcher's language,
signs it when the institution has a key, stores it and records its SHA-256 and size in the same
transaction that marks the outbox message done. A second run of the same message finds the
document already filled and does nothing.
"""

import logging
import time
from typing import Any

from flask import current_app
from sqlmodel import Session, select

from screening.accounts.models import Institution
from screening.core.database import utcnow
from screening.core.errors import NotFound
from screening.core.models import OutboxMessage
from screening.core.outbox import outbox_task
from screening.documents.config import document_store, signing_paths
from screening.documents.content import decision_context, fast_track_context
from screening.documents.i18n import Translator
from screening.documents.letters import DECISION_TASK, FAST_TRACK_TASK, new_verification_code
from screening.documents.models import GeneratedDocument
from screening.documents.render import render_pdf
from screening.proposals.models import Proposal
from screening.review.models import Decision

log = logging.getLogger(__name__)


class InjectedFailure(RuntimeError):
    """Raised by the test-only fault injection (``LETTERS_FAULT_INJECTION``)."""

def _fault_injection(message: OutboxMessage) -> None:
    """Test-only knobs, honoured only when ``LETTERS_FAULT_INJECTION`` is on (never in production)."""
    cfg = current_app.config
    if not cfg.get("LETTERS_FAULT_INJECTION"):
        return
    delay = float(cfg.get("LETTERS_TEST_RENDER_DELAY") or 0)
    if delay:
        time.sleep(delay)
    if message.attempts < int(cfg.get("LETTERS_TEST_FAILURES") or 0):
        raise InjectedFailure(f"injected failure (attempt {message.attempts + 1})")


def _document_for(session: Session, message: OutboxMessage, kind: str, object_type: str, object_id: int,
                  proposal: Proposal) -> GeneratedDocument:
    doc = session.exec(select(GeneratedDocument).where(GeneratedDocument.outbox_message_id == message.id)).first()
    if doc is None:  # a message written without its row (older data): make it now, same transaction
        doc = GeneratedDocument(kind=kind, object_type=object_type, object_id=object_id, proposal_id=proposal.id,
                                institution_id=proposal.institution_id, outbox_message_id=message.id,
                                verification_code=new_verification_code())
        session.add(doc)
        session.flush()
    return doc


def _produce(session: Session, doc: GeneratedDocument, template: str, context: dict, language: str,
             title_key: str, message: OutboxMessage) -> None:
    _fault_injection(message)
    inst = session.get(Institution, doc.institution_id)
    title = Translator(language)(title_key, reference=context["reference"])
    rendered = render_pdf(template, context, language=language, title=title, author=inst.name)
    data = rendered.data
    keys = signing_paths(inst.slug)
    if keys is not None:
        from screening.documents.signing import sign_pdf

        data = sign_pdf(data, keys[0], keys[1], reason=title, location=inst.name)
    store_kind = current_app.config.get("DOCUMENT_STORE") or "file"
    stored = document_store(session, store_kind).put(data)
    doc.sha256, doc.size, doc.storage_key, doc.store = stored.sha256, stored.size, stored.key, store_kind
    doc.language, doc.signed, doc.rendered_at = language, keys is not None, utcnow()
    session.add(doc)
    session.flush()
    log.info("%s %s stored: %s (%d bytes)", doc.kind, doc.id, doc.sha256, doc.size)


@outbox_task(DECISION_TASK)
def render_decision_letter(session: Session, payload: dict[str, Any], message: OutboxMessage) -> None:
    decision_id = payload.get("object_id", payload.get("decision_id"))
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(f"decision {decision_id}")
    proposal = session.get(Proposal, decision.proposal_id)
    doc = _document_for(session, message, "decision_letter", "decision", decision.id, proposal)
    if doc.sha256:
        return  # already rendered by an earlier run of this message
    context, language = decision_context(session, decision, doc)
    _produce(session, doc, "decision_letter.html", context, language, "title_decision", message)


@outbox_task(FAST_TRACK_TASK)
def render_fast_track_letter(session: Session, payload: dict[str, Any], message: OutboxMessage) -> None:
    proposal_id = payload.get("object_id", payload.get("proposal_id"))
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}")
    doc = _document_for(session, message, "fast_track_letter", "proposal", proposal.id, proposal)
    if doc.sha256:
        return
    context, language = fast_track_context(session, proposal, doc)
    _produce(session, doc, "fast_track_letter.html", context, language, "title_fast_track", message)
