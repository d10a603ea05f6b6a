"""What retention does to one proposal: delete a draft, or pseudonymise a withdrawn or decided one.

Pseudonymising keeps everything that proves what was decided (the proposal row and its reference,
status, tier, route, research fields, partner organisations and countries; the frozen versions'
screening structure; the decisions with their outcome, conditions, date and chair; the letters'
records with SHA-256 and verification code) and removes what is about people or written by them:
the title, abstract, keywords and other free text of every version, the committee's comments,
votes, questions, dispositions, advisor opinions, conflict reasons and the decision's reasoning,
the letters' PDF files, and names and e-mail addresses copied into audit rows and mails. The
links to user accounts stay as ids; the accounts follow their own life (``rights.erase_person``).

Both functions return the audit rewrites for the caller's one ``audit.pseudonymise`` event.
"""

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.core.audit import Rewrite
from screening.core.models import AuditEvent, OutboxMessage
from screening.documents.letters import reference_for
from screening.documents.models import DocumentBlob, GeneratedDocument
from screening.notifications.models import SentMail
from screening.portfolio import rescreens
from screening.portfolio.models import (
    ImportItem,
    ProposalField,
    ProposalFlag,
    ProposalPartner,
    ProposalScreening,
    ScreeningEvent,
)
from screening.privacy.models import PseudonymisedProposal
from screening.privacy.scrub import (
    REMOVED,
    free_texts_of,
    pseudonym_email,
    pseudonym_name,
    scrub_proposal_data,
    without_texts,
)
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.models import (
    AdvisorOpinion,
    CaseComment,
    ConflictDeclaration,
    Decision,
    FlagDisposition,
    InformationRequest,
    ReviewCase,
    Vote,
)

DISCARD_FILES_TASK = "privacy.discard_letter_files"
# Free text written during the review, per table: removed when the case is pseudonymised.
REVIEW_TEXTS = ((CaseComment, "body"), (InformationRequest, "questions"), (ConflictDeclaration, "reason"),
                (AdvisorOpinion, "body"), (Vote, "text"), (FlagDisposition, "reason"), (Decision, "reasoning"))
_INDEX_TABLES = (ProposalPartner, ProposalField, ProposalFlag, ProposalScreening, ScreeningEvent, ImportItem)


def _not_pseudonymised() -> sa.ColumnElement[bool]:
    return Proposal.id.not_in(select(PseudonymisedProposal.proposal_id))


# A pseudonymised proposal keeps its last screening: its text is gone, re-screening it would mislead.
rescreens.RESCREEN_FILTERS.append(_not_pseudonymised)


def _case_of(session: Session, proposal: Proposal) -> ReviewCase | None:
    return session.exec(select(ReviewCase).where(ReviewCase.proposal_id == proposal.id)).first()


def _documents_of(session: Session, proposal: Proposal) -> list[GeneratedDocument]:
    return list(session.exec(select(GeneratedDocument).where(GeneratedDocument.proposal_id == proposal.id)))


def audit_rows_of(session: Session, proposal: Proposal) -> list[AuditEvent]:
    """The audit rows about the proposal, its case and its letters."""
    case = _case_of(session, proposal)
    about = [sa.and_(AuditEvent.object_type == "proposal", AuditEvent.object_id == str(proposal.id))]
    if case is not None:
        about.append(sa.and_(AuditEvent.object_type == "review_case", AuditEvent.object_id == str(case.id)))
    doc_ids = [str(doc.id) for doc in _documents_of(session, proposal)]
    if doc_ids:
        about.append(sa.and_(AuditEvent.object_type == "generated_document", AuditEvent.object_id.in_(doc_ids)))
    return list(session.exec(select(AuditEvent).where(sa.or_(*about)).order_by(AuditEvent.seq)))


def _audit_rewrites(rows: list[AuditEvent], texts: list[str]) -> dict[int, Rewrite]:
    return {row.seq: Rewrite(actor=row.actor if row.actor_id is None else pseudonym_email(row.actor_id),
                             details=without_texts(row.details, texts)) for row in rows}


def delete_draft(session: Session, proposal: Proposal) -> dict[int, Rewrite]:
    """Delete a draft that was never submitted, with its index rows; returns its audit rewrites."""
    if session.exec(select(ProposalVersion.id).where(ProposalVersion.proposal_id == proposal.id)).first():
        raise ValueError(f"proposal {proposal.id} was submitted: pseudonymise it instead")
    rewrites = _audit_rewrites(audit_rows_of(session, proposal), [proposal.title, *free_texts_of(proposal.data)])
    for table in _INDEX_TABLES:
        session.execute(sa.delete(table).where(table.proposal_id == proposal.id))
    session.delete(proposal)
    session.flush()
    return rewrites


def _mails_about(session: Session, proposal: Proposal, case: ReviewCase | None) -> list[OutboxMessage]:
    """Outbox mails whose context names the proposal or its case (sent or not)."""
    found = []
    for message in session.exec(select(OutboxMessage).where(OutboxMessage.task == "mail.send")):
        context = (message.payload or {}).get("context") or {}
        if context.get("proposal_id") == proposal.id or (case is not None and context.get("case_id") == case.id):
            found.append(message)
    return found


def pseudonymise_mail(session: Session, message: OutboxMessage, texts: list[str]) -> None:
    """Replace the recipient's address and name in a mail's outbox row and send log; drop ``texts``."""
    payload: dict[str, Any] = without_texts(dict(message.payload), texts)
    user_id = payload.get("user_id")
    payload["to"], payload["name"] = pseudonym_email(user_id), pseudonym_name(user_id)
    message.payload = payload
    session.add(message)
    session.execute(sa.update(SentMail).where(SentMail.outbox_message_id == message.id)
                    .values(recipient=pseudonym_email(user_id)))


def discard_letter_file(session: Session, doc: GeneratedDocument) -> str | None:
    """Forget a letter's bytes, keep its record (SHA-256, code) so that it still verifies.

    Bytes in the database go in this transaction; a file's SHA-256 is returned so that the caller
    removes it after commit (``DISCARD_FILES_TASK``).
    """
    if doc.sha256 is None or doc.storage_key is None:
        return None
    doc.storage_key = None
    session.add(doc)
    if doc.store == "database":
        session.execute(sa.delete(DocumentBlob).where(DocumentBlob.sha256 == doc.sha256))
        return None
    return doc.sha256


def pseudonymise_proposal(session: Session, proposal: Proposal, category: str) -> tuple[dict[int, Rewrite], list[str]]:
    """Remove the personal data of a submitted proposal and its case (see the module's docstring).

    Returns the audit rewrites and the SHA-256 of letter files to remove after commit.
    """
    reference = reference_for(proposal)
    versions = list(session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)))
    texts = [proposal.title, *free_texts_of(proposal.data)]
    for version in versions:
        texts += free_texts_of(version.proposal_json)
    case = _case_of(session, proposal)
    if case is not None:
        for table, column in REVIEW_TEXTS:
            for row in session.exec(select(table).where(table.case_id == case.id)):
                texts.append(getattr(row, column))
                setattr(row, column, REMOVED)
                session.add(row)
        if case.fast_track_rationale:
            case.fast_track_rationale = without_texts(case.fast_track_rationale, texts)
            session.add(case)
    proposal.title = reference
    proposal.data = scrub_proposal_data(proposal.data, reference)
    session.add(proposal)
    for version in versions:
        version.proposal_json = scrub_proposal_data(version.proposal_json, reference)
        version.result_json = without_texts(version.result_json, texts)
        session.add(version)
    screening = session.get(ProposalScreening, proposal.id)
    if screening is not None:
        screening.flags = without_texts(screening.flags, texts)
        session.add(screening)
    for event in session.exec(select(ScreeningEvent).where(ScreeningEvent.proposal_id == proposal.id)):
        event.before_flags = without_texts(event.before_flags, texts)
        event.after_flags = without_texts(event.after_flags, texts)
        session.add(event)
    for message in _mails_about(session, proposal, case):
        pseudonymise_mail(session, message, texts)
    rewrites = _audit_rewrites(audit_rows_of(session, proposal), texts)
    files = [sha for sha in (discard_letter_file(session, doc) for doc in _documents_of(session, proposal)) if sha]
    session.add(PseudonymisedProposal(proposal_id=proposal.id, institution_id=proposal.institution_id,
                                      category=category))
    session.flush()
    return rewrites, files
