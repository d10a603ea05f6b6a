"""Letters: requested in the caller's transaction through the outbox, rendered by workers.

``request_decision_letter`` / ``request_fast_track_letter`` write an outbox message and a pending
:class:`GeneratedDocument` (with its random verification code) in the caller's transaction; the
handlers (``documents.render_decision_letter`` / ``documents.render_fast_track_letter``) build a
plain context from the database, render it in the researcher's language, optionally sign it,
store it and record its SHA-256 and size in the same transaction that marks the message done.
A second run of the same message finds the document already filled and does nothing.

Everything here takes a session and, where a person acts, the acting :class:`Actor`; nothing
commits (the outbox runner or the view does).
"""

import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import update
from sqlmodel import Session, select

from screening.accounts.models import Institution, User
from screening.core import audit
from screening.core.countries import country_name
from screening.core.database import utcnow
from screening.core.errors import Conflict, NotFound
from screening.core.models import OutboxMessage
from screening.core.outbox import FAILED, PENDING, enqueue, outbox_task
from screening.document_models import GeneratedDocument
from screening.proposals import signals as proposal_signals
from screening.proposals.models import Proposal, ProposalVersion
from screening.review import signals as review_signals

from .assets import default_registry
from .dbstore import DatabaseDocumentStore
from .i18n import Translator
from .render import render_pdf
from .storage import DocumentStore, FileDocumentStore, check_sha256

log = logging.getLogger(__name__)

DECISION_TASK = "documents.render_decision_letter"
FAST_TRACK_TASK = "documents.render_fast_track_letter"
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 16  # 80 bits
MAX_SOURCES_PER_FLAG = 8
MAX_SOURCE_CHARS = 300
LANGUAGES = ("de", "en")


class InjectedFailure(RuntimeError):
    """Raised by the test-only fault injection (``LETTERS_FAULT_INJECTION``)."""


# ---------------------------------------------------------------- codes and references


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


# ---------------------------------------------------------------- requests (caller's transaction)


def _documents_of(session: Session, object_type: str, object_ids: list[int], kind: str | None = None):
    stmt = select(GeneratedDocument).where(GeneratedDocument.object_type == object_type,
                                           GeneratedDocument.object_id.in_(object_ids))
    if kind:
        stmt = stmt.where(GeneratedDocument.kind == kind)
    return list(session.exec(stmt).all())


def _request(session: Session, kind: str, task: str, object_type: str, object_id: int, proposal_id: int,
             institution_id: int) -> OutboxMessage:
    existing = _documents_of(session, object_type, [object_id], kind)
    if existing:  # asked twice in one workflow (a resent form): one letter
        return session.get(OutboxMessage, existing[0].outbox_message_id)
    message = enqueue(session, task, {"object_id": object_id})
    session.add(GeneratedDocument(kind=kind, object_type=object_type, object_id=object_id, proposal_id=proposal_id,
                                  institution_id=institution_id, outbox_message_id=message.id,
                                  verification_code=new_verification_code()))
    session.flush()
    return message


def request_decision_letter(session: Session, decision) -> OutboxMessage:
    """Ask for the letter of ``decision``; it commits with the caller's transaction.

    Letters of decisions this one supersedes, and the fast-track letter of the proposal, are
    marked superseded (they stay downloadable and verifiable, with that remark).
    """
    if decision.id is None:
        session.flush()
    from screening.review.models import Decision

    older = [d.id for d in session.exec(select(Decision).where(Decision.case_id == decision.case_id,
                                                                Decision.id != decision.id)).all()]
    superseded = _documents_of(session, "decision", older) + _documents_of(
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
def _clearance_letter(proposal: Proposal, *, session: Session) -> None:
    request_fast_track_letter(session, proposal)


@review_signals.decided.connect
def _decision_letter(decision, *, session: Session) -> None:
    request_decision_letter(session, decision)


# ---------------------------------------------------------------- storage and signing


def document_store(session: Session, kind: str | None = None) -> DocumentStore:
    """The configured store (``DOCUMENT_STORE``: ``file`` or ``database``), or the one named."""
    kind = kind or current_app.config.get("DOCUMENT_STORE") or "file"
    if kind == "database":
        return DatabaseDocumentStore(session)
    if kind != "file":
        raise ValueError(f"unknown DOCUMENT_STORE {kind!r}")
    root = current_app.config.get("DOCUMENT_STORE_DIR") or Path(current_app.instance_path) / "documents"
    return FileDocumentStore(root)


def signing_paths(slug: str) -> tuple[Path, Path] | None:
    """(key, certificate) for the institution: ``SIGNING_KEYS[slug]`` or ``SIGNING_KEY_DIR/slug/``."""
    configured = (current_app.config.get("SIGNING_KEYS") or {}).get(slug)
    if configured:
        return Path(configured["key"]), Path(configured["cert"])
    root = current_app.config.get("SIGNING_KEY_DIR") or Path(current_app.instance_path) / "signing"
    key, cert = Path(root) / slug / "signing-key.pem", Path(root) / slug / "signing-cert.pem"
    if key.is_file() and cert.is_file():
        return key, cert
    return None


def create_demo_signing_keys(session: Session | None, institutions: list[tuple[str, str]] | None = None
                             ) -> list[Path]:
    """Self-signed demo keys under ``SIGNING_KEY_DIR/<slug>/`` for institutions that have none.

    ``institutions`` is a list of (slug, name); by default every institution in the database.
    """
    from .signing import create_demo_signing_key

    if institutions is None:
        institutions = [(i.slug, i.name) for i in session.exec(select(Institution).order_by(Institution.id)).all()]
    root = Path(current_app.config.get("SIGNING_KEY_DIR") or Path(current_app.instance_path) / "signing")
    made = []
    for slug, name in institutions:
        if signing_paths(slug) is None:
            create_demo_signing_key(root / slug, f"{name} (demo)")
            made.append(root / slug)
    return made


def request_missing_letters(session: Session) -> list[int]:
    """Request letters for current decisions and fast-tracked proposals that have none (demo, upgrades)."""
    from screening.proposals import workflow
    from screening.review.models import Decision

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


# ---------------------------------------------------------------- context (plain values only)


def _language(owner: User | None, version: ProposalVersion | None) -> str:
    for candidate in (owner.language if owner else None, version.language if version else None):
        if candidate in LANGUAGES:
            return candidate
    return "en"


def _institution(inst: Institution) -> dict[str, Any]:
    letterhead = (current_app.config.get("LETTERHEADS") or {}).get(inst.slug, {})
    logo = letterhead.get("logo") or f"logo-{inst.slug}.svg"
    if logo not in default_registry():  # not a registered asset: a letter without logo
        logo = None
    return {"name": inst.name, "office": letterhead.get("office"),
            "address_lines": list(letterhead.get("address_lines") or []), "logo": logo}


def _latest_version(session: Session, proposal_id: int, number: int | None = None) -> ProposalVersion:
    stmt = select(ProposalVersion).where(ProposalVersion.proposal_id == proposal_id)
    if number is not None:
        stmt = stmt.where(ProposalVersion.number == number)
    version = session.exec(stmt.order_by(ProposalVersion.number.desc())).first()
    if version is None:
        raise NotFound(f"no submitted version of proposal {proposal_id}")
    return version


def _common(session: Session, proposal: Proposal, version: ProposalVersion, doc: GeneratedDocument,
            language: str) -> dict[str, Any]:
    owner = session.get(User, proposal.owner_id)
    data = version.proposal_json or {}
    return {
        "institution": _institution(session.get(Institution, proposal.institution_id)),
        "reference": reference_for(proposal),
        "researcher": {"name": owner.name, "department": proposal.faculty or None},
        "project": {"title": str(data.get("title") or proposal.title)},
        "partners": [{"name": str(p.get("name", "")), "country": country_name(str(p.get("country", "")), language)}
                     for p in data.get("partners") or []],
        "rule_set": {"version": version.ruleset_version or "", "hash": version.ruleset_hash or ""},
        "lists": [{"name": str(x.get("name", "")), "version": str(x.get("version", ""))}
                  for x in version.lists_json or []],
        "verification_code": format_code(doc.verification_code),
        "verification_url": verification_url(doc.verification_code),
    }


def decision_context(session: Session, decision, doc: GeneratedDocument) -> tuple[dict[str, Any], str]:
    """(context, language) of a decision letter, from the frozen version the decision was made on."""
    from screening.review.models import Committee, ReviewCase

    proposal = session.get(Proposal, decision.proposal_id)
    version = _latest_version(session, proposal.id, decision.version_number)
    language = _language(session.get(User, proposal.owner_id), version)
    case = session.get(ReviewCase, decision.case_id)
    committee = session.get(Committee, case.committee_id)
    chair = session.get(User, decision.decided_by_id)
    flags = [{"title": str(f.get("title", "")), "severity": str(f.get("severity", "info")),
              "sources": [str(s)[:MAX_SOURCE_CHARS] for s in (f.get("sources") or [])[:MAX_SOURCES_PER_FLAG]]}
             for f in (version.result_json or {}).get("flags") or []]
    context = _common(session, proposal, version, doc, language)
    context.update({
        "issued_on": decision.decided_at.date(),
        "decision": decision.outcome,
        "conditions": [str(c.get("text_de" if language == "de" else "text_en") or c.get("text_en") or "")
                       for c in decision.conditions or []],
        "reasoning": decision.reasoning,
        "flags": flags,
        "committee": {"name": committee.name, "chair": chair.name},
    })
    return context, language


def fast_track_context(session: Session, proposal: Proposal, doc: GeneratedDocument) -> tuple[dict[str, Any], str]:
    version = _latest_version(session, proposal.id)
    language = _language(session.get(User, proposal.owner_id), version)
    context = _common(session, proposal, version, doc, language)
    context.update({"issued_on": version.submitted_at.date(), "tier": version.tier or "low"})
    return context, language


# ---------------------------------------------------------------- the outbox handlers


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
        from .signing import sign_pdf

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
    from screening.review.models import Decision

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


# ---------------------------------------------------------------- reading, access, status


def state_of(session: Session, doc: GeneratedDocument) -> str:
    """``ready``, ``pending`` or ``failed``."""
    if doc.sha256:
        return "ready"
    message = session.get(OutboxMessage, doc.outbox_message_id)
    return FAILED if message is not None and message.status == FAILED else PENDING


def read_bytes(session: Session, doc: GeneratedDocument) -> bytes:
    if not doc.sha256:
        raise Conflict("the document is not ready yet")
    return document_store(session, doc.store).get(doc.sha256)


def _committee_access(session: Session, actor, doc: GeneratedDocument) -> str | None:
    """``chair``/``member`` if the actor sits (not recused) on the committee of the document's case."""
    from screening.review.cases import committee_role
    from screening.review.models import ConflictDeclaration, ReviewCase

    if not actor.has("committee_member", "committee_chair") or doc.proposal_id is None:
        return None
    case = session.exec(select(ReviewCase).where(ReviewCase.proposal_id == doc.proposal_id)).first()
    if case is None:
        return None
    role = committee_role(session, case.committee_id, actor.user.id)
    if role is None:
        return None
    recused = session.exec(select(ConflictDeclaration.id).where(
        ConflictDeclaration.case_id == case.id, ConflictDeclaration.user_id == actor.user.id)).first()
    return None if recused is not None else role


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
        from screening.core.errors import Forbidden

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


# ---------------------------------------------------------------- verification (public)


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
        from screening.review.models import Decision

        d = session.get(Decision, doc.object_id)
        decision, issued = d.outcome, d.decided_at
    else:
        issued = _latest_version(session, proposal.id).submitted_at
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
