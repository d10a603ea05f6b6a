"""Researcher intake: drafts, submission (freeze + screen), withdrawal.

Submitting announces the new version on :mod:`screening.proposals.signals`: the portfolio indexes
it, the review files the case and documents asks for the clearance letter.
"""

import copy
import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.service import Actor
from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import Forbidden, NotFound, ValidationFailed
from screening.proposals import signals, workflow
from screening.proposals.models import Proposal, ProposalVersion

log = logging.getLogger(__name__)

# Roles that may read (not change) proposals of their own institution.
READER_ROLES = ("committee_member", "committee_chair", "international_office", "institution_admin")

#: Checks that features above add to reading a proposal; each answers whether ``actor`` is barred
#: from it although their role would let them read it (the review bars a recused committee member).
READ_BARS: list[Callable[[Session, Actor, Proposal], bool]] = []


def _require_researcher(actor: Actor) -> None:
    if not actor.has("researcher"):
        raise Forbidden("only researchers file proposals")


def list_own(session: Session, actor: Actor) -> list[Proposal]:
    _require_researcher(actor)
    return list(session.exec(
        select(Proposal)
        .where(Proposal.owner_id == actor.user.id, Proposal.institution_id == actor.institution_id)
        .order_by(Proposal.updated_at.desc(), Proposal.id.desc())
    ).all())


def _deny(actor: Actor, proposal_id, why: str):
    log.warning("access denied: user=%s institution=%s proposal=%s reason=%s",
                actor.user.id, actor.institution_id, proposal_id, why)
    return NotFound(f"proposal {proposal_id}")


def get_readable(session: Session, actor: Actor, proposal_id: int) -> Proposal:
    """The proposal if the actor may read it; otherwise NotFound (never says why)."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}")
    if proposal.institution_id != actor.institution_id:
        raise _deny(actor, proposal_id, "other institution")
    if proposal.owner_id != actor.user.id:
        if not actor.has(*READER_ROLES):
            raise _deny(actor, proposal_id, "not owner")
        if any(barred(session, actor, proposal) for barred in READ_BARS):
            raise _deny(actor, proposal_id, "barred (recused)")
    return proposal


def get_own(session: Session, actor: Actor, proposal_id: int, lock: bool = False) -> Proposal:
    """The proposal if the actor owns it (for changes); otherwise NotFound or Forbidden."""
    _require_researcher(actor)
    stmt = select(Proposal).where(Proposal.id == proposal_id)
    if lock:
        stmt = stmt.with_for_update()
    proposal = session.exec(stmt).first()
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}")
    if proposal.institution_id != actor.institution_id or proposal.owner_id != actor.user.id:
        raise _deny(actor, proposal_id, "not owner or other institution")
    return proposal


def versions(session: Session, proposal: Proposal) -> list[ProposalVersion]:
    return list(session.exec(
        select(ProposalVersion)
        .where(ProposalVersion.proposal_id == proposal.id)
        .order_by(ProposalVersion.number)
    ).all())


def get_version(session: Session, proposal: Proposal, number: int) -> ProposalVersion:
    version = session.exec(select(ProposalVersion).where(
        ProposalVersion.proposal_id == proposal.id, ProposalVersion.number == number
    )).first()
    if version is None:
        raise NotFound(f"version {number}")
    return version


_UNCHANGED = object()


def save_draft(session: Session, actor: Actor, data: dict, proposal: Proposal | None = None,
               creation_token: str | None = None, faculty=_UNCHANGED) -> Proposal:
    """Create or update a draft from validated form data (contract shape, maybe incomplete).

    ``faculty`` (optional organisational unit, used for routing) is kept unless given.
    """
    _require_researcher(actor)
    if proposal is None and creation_token:
        proposal = session.exec(select(Proposal).where(
            Proposal.owner_id == actor.user.id, Proposal.creation_token == creation_token
        )).first()
        if proposal is not None and proposal.institution_id != actor.institution_id:
            raise NotFound("proposal")
    if proposal is None:
        proposal = Proposal(institution_id=actor.institution_id, owner_id=actor.user.id,
                            title=data["title"], status=workflow.DRAFT, data=copy.deepcopy(data),
                            creation_token=creation_token,
                            faculty=None if faculty is _UNCHANGED else faculty)
        session.add(proposal)
        session.flush()
        audit.record(session, actor.user, "proposal.created", "proposal", proposal.id,
                     proposal.institution_id, {"title": proposal.title})
        return proposal
    if proposal.status not in workflow.EDITABLE:
        # A resent "save" of a proposal that has meanwhile been submitted changes nothing.
        from screening.core.errors import Conflict

        raise Conflict("only drafts can be changed")
    proposal.title = data["title"]
    proposal.data = copy.deepcopy(data)
    if faculty is not _UNCHANGED:
        proposal.faculty = faculty
    proposal.updated_at = utcnow()
    session.add(proposal)
    session.flush()
    audit.record(session, actor.user, "proposal.updated", "proposal", proposal.id,
                 proposal.institution_id, {})
    return proposal


def version_for_token(session: Session, proposal: Proposal, token: str) -> ProposalVersion | None:
    return session.exec(select(ProposalVersion).where(
        ProposalVersion.proposal_id == proposal.id, ProposalVersion.submission_token == token
    )).first()


def submit(session: Session, actor: Actor, proposal: Proposal, submission_token: str, screener,
           language: str = "en") -> ProposalVersion:
    """Freeze the draft as an immutable version, screen it and route it.

    Idempotent per ``submission_token``: a resent submission returns the version it made.
    Raises ValidationFailed (engine rejected the proposal) or IllegalTransition (not a draft).
    """
    _require_researcher(actor)
    existing = version_for_token(session, proposal, submission_token)
    if existing is not None:
        return existing
    data = copy.deepcopy(dict(proposal.data))
    from rules import ProposalError

    try:
        result = screener.screen(data, language=language)
    except ProposalError as exc:
        problems = getattr(exc, "problems", None) or [exc]
        errors: dict[str, str] = {}
        for problem in problems:
            path = str(getattr(problem, "path", "") or "proposal")
            errors.setdefault(path, str(getattr(problem, "reason", problem)))
        raise ValidationFailed(errors) from exc
    resubmission = proposal.status == workflow.INFORMATION_REQUESTED
    if not resubmission:
        workflow.transition(session, proposal, workflow.SUBMITTED, actor.user)
    number = (session.exec(
        select(sa.func.max(ProposalVersion.number)).where(ProposalVersion.proposal_id == proposal.id)
    ).first() or 0) + 1
    version = ProposalVersion(
        proposal_id=proposal.id, institution_id=proposal.institution_id, number=number,
        submission_token=submission_token, submitted_by_id=actor.user.id, proposal_json=data,
        result_json=result, language=language, tier=result["tier"], route=result["route"],
        ruleset_version=str(result.get("ruleset_version", "")), ruleset_hash=result.get("ruleset_hash"),
        lists_json=list(result.get("lists", [])),
    )
    session.add(version)
    session.flush()
    proposal.tier = version.tier
    proposal.route = version.route
    signals.screened.send(proposal, session=session, version=version)  # the portfolio's search facets
    screening_details = {"version": number, "tier": version.tier, "route": version.route,
                         "ruleset_version": version.ruleset_version, "ruleset_hash": version.ruleset_hash,
                         "lists": [{"name": x.get("name"), "version": x.get("version")}
                                   for x in version.lists_json]}
    if resubmission:
        # The answer to the committee's questions: screened again, back to the committee.
        workflow.transition(session, proposal, workflow.IN_REVIEW, actor.user,
                            {**screening_details, "resubmission": True})
        signals.routed.send(proposal, session=session, user=actor.user, version=version, resubmission=True)
        return version
    workflow.transition(session, proposal, workflow.SCREENED, actor.user, screening_details, as_system=True)
    nxt = workflow.FAST_TRACKED if version.route == "fast_track" else workflow.IN_REVIEW
    workflow.transition(session, proposal, nxt, actor.user, {"version": number}, as_system=True)
    signals.routed.send(proposal, session=session, user=actor.user, version=version, resubmission=False)
    if nxt == workflow.FAST_TRACKED:
        signals.fast_tracked.send(proposal, session=session)  # the clearance letter, rendered after commit
    return version


def withdraw(session: Session, actor: Actor, proposal: Proposal) -> None:
    _require_researcher(actor)
    workflow.transition(session, proposal, workflow.WITHDRAWN, actor.user)


def find_by_creation_token(session: Session, actor: Actor, token: str) -> Proposal | None:
    return session.exec(select(Proposal).where(
        Proposal.owner_id == actor.user.id, Proposal.institution_id == actor.institution_id,
        Proposal.creation_token == token,
    )).first()


def list_own_page(session: Session, actor: Actor, before_id: int | None, limit: int) -> list[Proposal]:
    """One page of the actor's own proposals, newest id first (keyset: ids below ``before_id``)."""
    _require_researcher(actor)
    stmt = select(Proposal).where(Proposal.owner_id == actor.user.id,
                                  Proposal.institution_id == actor.institution_id)
    if before_id is not None:
        stmt = stmt.where(Proposal.id < before_id)
    return list(session.exec(stmt.order_by(Proposal.id.desc()).limit(limit)).all())
