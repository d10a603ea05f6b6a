"""The review case and who may see it: access, optimistic locking, versions and flags.

Plain functions taking a session and the acting user (an :class:`Actor`); they flush, never
commit. Every state change writes an audit row: status moves through
:func:`screening.proposals.workflow.transition`, everything else through :func:`audit_case`.

Access rules (enforced here, not only in the views):

- a case is visible to the members of the committee it is routed to, in its institution; anyone
  else of that institution gets 404, anyone of another institution 404 (logged);
- a member who declared a conflict of interest (recused) has no access to the case at all (403):
  the queue lists it as "recused" without anything of the proposal, and the chair sees who is
  recused;
- an external advisor sees only the proposal and flags of the cases they are invited to, until
  the invitation expires or is revoked (:mod:`screening.review.advisors`).
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from screening.accounts.models import User
from screening.accounts.service import Actor
from screening.core import audit
from screening.core.errors import Conflict, ExplainedForbidden, Forbidden, NotFound, ValidationFailed
from screening.proposals import service as proposal_service
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.models import Committee, CommitteeMember, ConflictDeclaration, Decision, ReviewCase

log = logging.getLogger(__name__)

COMMITTEE_ROLES = ("committee_member", "committee_chair")
MAX_TEXT = 20000


class StaleCase(Conflict):
    """The case changed since the page was rendered (optimistic locking)."""

    def __init__(self):
        super().__init__(_l("Someone else changed this case in the meantime (for example, a decision was "
                            "already issued). Reload the page to see the current state."))


def audit_case(session: Session, actor: User | None, action: str, case: ReviewCase, details: dict | None = None):
    return audit.record(session, actor, action, "review_case", case.id, case.institution_id, details or {})


def case_entry(action: str, case_id: int, institution_id: int, details: dict | None = None) -> audit.Entry:
    """The event :func:`audit_case` writes, for :func:`screening.core.audit.record_many`."""
    return audit.Entry(action, "review_case", case_id, institution_id, details or {})


def clean_text(value: str | None, name: str, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed({name: "required"})
    if len(value) > limit:
        raise ValidationFailed({name: f"at most {limit} characters"})
    return value


def flag_key(flag: dict[str, Any]) -> str:
    """A stable identity of a flag across versions and languages: the rule and what it is about.

    Match quality (score, band, method), list versions and the listings are left out, so that a
    flag whose severity changed between two versions keeps its key, and a partner flag stays the
    same finding when a list adds or drops the partner's entry: one finding per partner.
    """
    volatile = {"score", "band", "method", "list_version", "matched_name", "overlap", "overlap_areas",
                "risk_level", "listings", "entry", "entry_id", "list", "list_category", "unit", "unit_kind"}
    evidence = {k: v for k, v in (flag.get("evidence") or {}).items() if k not in volatile}
    raw = json.dumps([flag.get("rule"), evidence], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def bump_version(session: Session, case: ReviewCase, seen: int) -> None:
    """Optimistic lock: ``UPDATE ... SET version = seen + 1 WHERE id = :id AND version = :seen``.

    On PostgreSQL a concurrent writer waits for the row lock and then finds the version moved on;
    on SQLite ``BEGIN IMMEDIATE`` serialises writers and the check fails the same way.
    """
    result = session.execute(
        sa.update(ReviewCase)
        .where(ReviewCase.id == case.id, ReviewCase.version == seen)
        .values(version=seen + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise StaleCase()
    session.expire(case, ["version"])


@dataclass
class CaseAccess:
    case: ReviewCase
    proposal: Proposal
    committee: Committee
    role: str  # "member" or "chair" (committee role)
    actor: Actor

    @property
    def is_chair(self) -> bool:
        return self.role == "chair"

    @property
    def workflow_role(self) -> str:
        return workflow.CHAIR if self.is_chair else workflow.MEMBER


def deny(actor: Actor, what: str, why: str) -> NotFound:
    log.warning("access denied: user=%s institution=%s %s reason=%s", actor.user.id, actor.institution_id,
                what, why)
    return NotFound(what)


def committee_role(session: Session, committee_id: int, user_id: int) -> str | None:
    return session.exec(select(CommitteeMember.role).where(
        CommitteeMember.committee_id == committee_id, CommitteeMember.user_id == user_id
    )).first()


def recused_user_ids(session: Session, case_id: int) -> set[int]:
    """Who declared a conflict of interest on the case."""
    return set(session.exec(select(ConflictDeclaration.user_id).where(ConflictDeclaration.case_id == case_id)).all())


def is_recused(session: Session, case_id: int, user_id: int) -> bool:
    return user_id in recused_user_ids(session, case_id)


def recused_case_ids(session: Session, user_id: int, case_ids: list[int]) -> set[int]:
    """Which of ``case_ids`` the user declared a conflict of interest on."""
    if not case_ids:
        return set()
    return set(session.exec(select(ConflictDeclaration.case_id).where(
        ConflictDeclaration.user_id == user_id, ConflictDeclaration.case_id.in_(case_ids))).all())


def recused_from_proposal(session: Session, actor: Actor, proposal: Proposal) -> bool:
    """Whether the actor declared a conflict of interest on the proposal's case."""
    return session.exec(select(ConflictDeclaration.id).join(ReviewCase, ReviewCase.id == ConflictDeclaration.case_id)
                        .where(ReviewCase.proposal_id == proposal.id,
                               ConflictDeclaration.user_id == actor.user.id)).first() is not None


# A recused member cannot read the proposal through the proposal pages either.
proposal_service.READ_BARS.append(recused_from_proposal)


def get_case(session: Session, actor: Actor, case_id: int) -> CaseAccess:
    """The case if the actor sits on its committee and is not recused.

    Not on the committee (or another institution): NotFound, never says why. Recused: Forbidden,
    because the member knows of the case (the queue lists it) but may see nothing of it.
    """
    if not actor.has(*COMMITTEE_ROLES):
        raise Forbidden("committee members only")
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise NotFound(f"case {case_id}")
    if case.institution_id != actor.institution_id:
        raise deny(actor, f"case {case_id}", "other institution")
    role = committee_role(session, case.committee_id, actor.user.id)
    if role is None:
        raise deny(actor, f"case {case_id}", "not on the case's committee")
    if is_recused(session, case.id, actor.user.id):
        log.warning("recused member refused: user=%s case=%s", actor.user.id, case.id)
        raise ExplainedForbidden(_l("You declared a conflict of interest on this case, so you have no access "
                                    "to it."))
    return CaseAccess(case=case, proposal=session.get(Proposal, case.proposal_id),
                      committee=session.get(Committee, case.committee_id), role=role, actor=actor)


def require_chair(access: CaseAccess) -> None:
    if not access.is_chair or not access.actor.has("committee_chair"):
        raise Forbidden("only the committee's chair may do this")


def require_under_review(access: CaseAccess) -> None:
    if access.proposal.status not in workflow.UNDER_REVIEW:
        raise Conflict(_l("This case is not under review at the moment."))


def versions(session: Session, proposal: Proposal) -> list[ProposalVersion]:
    return list(session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)
                             .order_by(ProposalVersion.number)).all())


def latest_version(session: Session, proposal: Proposal) -> ProposalVersion | None:
    return session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)
                        .order_by(ProposalVersion.number.desc()).limit(1)).first()


def flags_of(version: ProposalVersion) -> list[dict[str, Any]]:
    return [{**flag, "key": flag_key(flag)} for flag in version.result_json.get("flags", [])]


def committee_members(session: Session, committee_id: int) -> list[tuple[User, str]]:
    return list(session.exec(
        select(User, CommitteeMember.role).join(CommitteeMember, CommitteeMember.user_id == User.id)
        .where(CommitteeMember.committee_id == committee_id).order_by(User.name)
    ).all())


def decisions(session: Session, case: ReviewCase) -> list[Decision]:
    return list(session.exec(select(Decision).where(Decision.case_id == case.id)
                             .order_by(Decision.decided_at.desc(), Decision.id.desc())).all())


def current_decision(session: Session, case: ReviewCase) -> Decision | None:
    return session.exec(select(Decision).where(Decision.case_id == case.id, Decision.superseded_at.is_(None))
                        .order_by(Decision.id.desc())).first()
