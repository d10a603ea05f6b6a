"""A person's rights: everything stored about them (access, GDPR Art. 15) and erasure (Art. 17).

An institution admin acts only on people of their own institution: people whose roles and
proposals are all there (anyone else is "not found", so the page tells nothing about other
institutions); the command line (``actor=None``) may act on anybody.

Erasure pseudonymises rather than deletes where a record must stay provable: the account row is
kept under a pseudonym (``user-<id>@pseudonymised.invalid``) so that decisions the person issued,
proposals they filed and audit rows they caused still point at it; their roles, sessions, tokens
and single-sign-on links are deleted, their drafts too; their address and name are replaced in
audit rows, mails and the mail log. Texts they wrote for cases stay with the case until its
retention period ends (docs/operations.md, "Rights requests").
"""

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, SQLModel, select

from screening.accounts.models import Membership, User, UserSession
from screening.accounts.service import Actor, normalise_email
from screening.api.models import ApiToken
from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import Conflict, Forbidden, NotFound
from screening.core.models import AuditEvent, OutboxMessage
from screening.documents.access import read_bytes
from screening.documents.models import GeneratedDocument
from screening.documents.storage import DocumentIntegrityError, DocumentNotFoundError
from screening.notifications.models import SentMail
from screening.privacy.records import delete_draft, pseudonymise_mail
from screening.privacy.scrub import pseudonym_email, pseudonym_name, replace_identity
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.models import (
    AdvisorInvitation,
    AdvisorOpinion,
    CaseComment,
    CommitteeMember,
    ConflictDeclaration,
    Decision,
    FlagDisposition,
    InformationRequest,
    Vote,
)
from screening.sso.models import ExternalIdentity

# Never exported: secrets that prove nothing to the person and would help an attacker.
SECRET_FIELDS = frozenset({"password_hash", "token_hash", "client_secret", "creation_token", "submission_token"})
ADMIN = "institution_admin"


def institutions_of(session: Session, person: User) -> set[int]:
    """Where the person has roles or proposals."""
    roles = session.exec(select(Membership.institution_id).where(Membership.user_id == person.id)).all()
    owned = session.exec(select(Proposal.institution_id).where(Proposal.owner_id == person.id)).all()
    return set(roles) | set(owned)


def find_person(session: Session, actor: Actor | None, email: str) -> User:
    """The person with this address whom ``actor`` may act on (``None``: the command line)."""
    if actor is not None and not actor.has(ADMIN):
        raise Forbidden("institution admins only")
    address = normalise_email(email or "")
    # An address with control characters (a NUL byte breaks PostgreSQL's text) names nobody.
    plausible = 0 < len(address) <= 254 and address.isprintable()
    person = session.exec(select(User).where(User.email == address)).first() if plausible else None
    if person is None or (actor is not None and institutions_of(session, person) != {actor.institution_id}):
        raise NotFound("no such person in this institution")
    return person


def _row(obj: SQLModel) -> dict[str, Any]:
    return {key: value for key, value in obj.model_dump(mode="json").items() if key not in SECRET_FIELDS}


def _rows(session: Session, statement) -> list[dict[str, Any]]:
    return [_row(obj) for obj in session.exec(statement)]


def _audit_about(person: User):
    return sa.or_(AuditEvent.actor_id == person.id,
                  sa.and_(AuditEvent.object_type == "user", AuditEvent.object_id == str(person.id)))


MAILS = select(OutboxMessage).where(OutboxMessage.task == "mail.send").order_by(OutboxMessage.id)


def _is_to(message: OutboxMessage, person: User) -> bool:
    payload = message.payload or {}
    return payload.get("user_id") == person.id or str(payload.get("to", "")).lower() == person.email.lower()


@dataclass
class Archive:
    data: bytes
    sections: dict[str, int] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in self.sections.items())


def person_record(session: Session, person: User) -> dict[str, Any]:
    """Everything stored about the person, as plain JSON values, one list per kind of record."""
    proposals = session.exec(select(Proposal).where(Proposal.owner_id == person.id).order_by(Proposal.id)).all()
    ids = [p.id for p in proposals]
    by = person.id
    return {
        "account": [_row(person)],
        "memberships": _rows(session, select(Membership).where(Membership.user_id == by)),
        "committee_memberships": _rows(session, select(CommitteeMember).where(CommitteeMember.user_id == by)),
        "sessions": _rows(session, select(UserSession).where(UserSession.user_id == by)),
        "api_tokens": _rows(session, select(ApiToken).where(ApiToken.user_id == by)),
        "single_sign_on": _rows(session, select(ExternalIdentity).where(ExternalIdentity.user_id == by)),
        "proposals": [_row(p) for p in proposals],
        "proposal_versions": _rows(session, select(ProposalVersion).where(ProposalVersion.proposal_id.in_(ids))
                                   .order_by(ProposalVersion.id)),
        "comments": _rows(session, select(CaseComment).where(CaseComment.author_id == by)),
        "votes": _rows(session, select(Vote).where(Vote.user_id == by)),
        "flag_dispositions": _rows(session, select(FlagDisposition).where(FlagDisposition.user_id == by)),
        "information_requests": _rows(session, select(InformationRequest).where(InformationRequest.asked_by_id == by)),
        "conflict_declarations": _rows(session, select(ConflictDeclaration).where(ConflictDeclaration.user_id == by)),
        "advisor_invitations": _rows(session, select(AdvisorInvitation).where(AdvisorInvitation.advisor_id == by)),
        "advisor_opinions": _rows(session, select(AdvisorOpinion).where(AdvisorOpinion.advisor_id == by)),
        "decisions_issued": _rows(session, select(Decision).where(Decision.decided_by_id == by)),
        "audit_events": _rows(session, select(AuditEvent).where(_audit_about(person)).order_by(AuditEvent.seq)),
        "notifications": [_row(m) for m in session.exec(MAILS) if _is_to(m, person)],
        "mail_log": _rows(session, select(SentMail).where(SentMail.recipient == person.email)),
        "letters": _rows(session, select(GeneratedDocument).where(GeneratedDocument.proposal_id.in_(ids))
                         .order_by(GeneratedDocument.id)),
    }


def _letter_files(session: Session, letters: list[dict[str, Any]]) -> dict[str, bytes]:
    files = {}
    for letter in letters:
        doc = session.get(GeneratedDocument, letter["id"])
        try:
            files[f"letters/{doc.kind}-{doc.id}.pdf"] = read_bytes(session, doc)
        except (Conflict, NotFound, DocumentNotFoundError, DocumentIntegrityError):
            continue  # pending, removed or damaged: the record in person.json says so
    return files


def export_person(session: Session, actor: Actor | None, person: User) -> Archive:
    """A ZIP with ``person.json`` and the person's letters; the export is audited (counts only)."""
    record = person_record(session, person)
    letters = _letter_files(session, record["letters"])
    sections = {name: len(rows) for name, rows in record.items()}
    sections["letter_files"] = len(letters)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        exported = {"exported_at": utcnow().isoformat(), "person_id": person.id, **record}
        archive.writestr("person.json", json.dumps(exported, indent=2, ensure_ascii=False, sort_keys=True))
        for name, data in letters.items():
            archive.writestr(name, data)
    audit.record(session, actor.user if actor else None, "person.exported", "user", person.id,
                 actor.institution_id if actor else None, {"sections": sections})
    return Archive(buffer.getvalue(), sections)


@dataclass
class _Erasure:
    """What erasing one person touches."""

    drafts: list[Proposal]
    audit_rows: list[AuditEvent]
    mails: list[OutboxMessage]
    mail_log: int
    deleted: dict[str, int]

    def counts(self) -> dict[str, int]:
        return {"account": 1, "drafts": len(self.drafts), "audit_events": len(self.audit_rows),
                "mails": len(self.mails), "mail_log": self.mail_log, **self.deleted}


_DELETED_WITH_THE_ACCOUNT = (("memberships", Membership, Membership.user_id),
                             ("committee_memberships", CommitteeMember, CommitteeMember.user_id),
                             ("sessions", UserSession, UserSession.user_id),
                             ("api_tokens", ApiToken, ApiToken.user_id),
                             ("single_sign_on", ExternalIdentity, ExternalIdentity.user_id))


def _count(session: Session, model, column, value) -> int:
    return session.execute(select(sa.func.count()).select_from(model).where(column == value)).scalar_one()


def _erasure(session: Session, person: User) -> _Erasure:
    mentions = sa.cast(AuditEvent.details, sa.Text).contains(person.email)
    return _Erasure(
        drafts=list(session.exec(select(Proposal).where(
            Proposal.owner_id == person.id, Proposal.status == workflow.DRAFT,
            Proposal.id.not_in(select(ProposalVersion.proposal_id))))),
        audit_rows=list(session.exec(select(AuditEvent).where(sa.or_(_audit_about(person), mentions))
                                     .order_by(AuditEvent.seq))),
        mails=[m for m in session.exec(MAILS) if _is_to(m, person)],
        mail_log=_count(session, SentMail, SentMail.recipient, person.email),
        deleted={name: _count(session, model, column, person.id) for name, model, column in _DELETED_WITH_THE_ACCOUNT},
    )


def erase_person(session: Session, actor: Actor | None, person: User, dry_run: bool = False) -> dict[str, int]:
    """Pseudonymise the person (see the module's docstring); returns the counts per kind of record.

    ``dry_run``: only count. Otherwise flushes, never commits; one audit event with the counts.
    """
    if actor is not None and actor.user.id == person.id:
        raise Conflict(_l("You cannot erase your own account."))
    if person.email == pseudonym_email(person.id):
        raise Conflict(_l("This person was erased already."))
    plan = _erasure(session, person)
    if dry_run:
        return plan.counts()
    identities, replacement = [person.email, person.name], pseudonym_email(person.id)
    rewrites: dict[int, audit.Rewrite] = {}
    for row in plan.audit_rows:
        rewrites[row.seq] = audit.Rewrite(actor=replacement if row.actor_id == person.id else row.actor,
                                          details=replace_identity(row.details, identities, replacement))
    for draft in plan.drafts:
        for seq, rewrite in delete_draft(session, draft).items():
            rewrites[seq] = rewrites.get(seq) or rewrite
    for message in plan.mails:
        pseudonymise_mail(session, message, [])
    session.execute(sa.update(SentMail).where(SentMail.recipient == person.email).values(recipient=replacement))
    for _name, model, column in _DELETED_WITH_THE_ACCOUNT:
        session.execute(sa.delete(model).where(column == person.id))
    session.execute(sa.update(AdvisorInvitation).where(AdvisorInvitation.advisor_id == person.id,
                                                       AdvisorInvitation.revoked_at.is_(None))
                    .values(revoked_at=utcnow(), token_hash=None))
    person.email, person.name = replacement, pseudonym_name(person.id)
    person.password_hash, person.is_active, person.language = "!erased", False, None
    person.multi_institution = False
    session.add(person)
    session.flush()
    counts = plan.counts()
    audit.pseudonymise(session, actor.user if actor else None, "person.erased", "user", person.id,
                       actor.institution_id if actor else None, {"counts": counts}, rewrites)
    return counts

