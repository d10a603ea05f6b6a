"""External advisors: invitations with limited, expiring access, their opinions, the welcome link."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from screening.accounts import service as accounts
from screening.accounts.models import Institution, User
from screening.accounts.service import Actor
from screening.core.database import utcnow
from screening.core.errors import Forbidden, NotFound, ValidationFailed
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.cases import CaseAccess, audit_case, clean_text, deny, latest_version, require_chair
from screening.review.models import AdvisorInvitation, AdvisorOpinion, ReviewCase
from screening.review.notifications import notify_case


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_advisor(session: Session, access: CaseAccess, email: str, name: str, expires_at: datetime
                   ) -> tuple[AdvisorInvitation, str | None]:
    """Invite an external advisor to this case until ``expires_at``.

    An unknown address gets a new external-advisor account in the chair's institution with an
    unusable password and a one-time set-password token (returned, sent in the invitation); a
    known address must already be an external advisor of this institution.
    """
    require_chair(access)
    if expires_at <= utcnow():
        raise ValidationFailed({"expires_at": "must be in the future"})
    if expires_at > utcnow() + timedelta(days=366):
        raise ValidationFailed({"expires_at": "at most one year ahead"})
    email = accounts.normalise_email(email)
    inst = session.get(Institution, access.case.institution_id)
    user = session.exec(select(User).where(User.email == email)).first()
    token = None
    if user is None:
        user = accounts.create_user(session, access.actor.user, inst, email, clean_text(name, "name", limit=200),
                                    secrets.token_urlsafe(32), ["external_advisor"])
        token = secrets.token_urlsafe(32)
    else:
        roles = accounts.roles_in(session, user, inst.id)
        if roles != {"external_advisor"}:
            raise ValidationFailed({"email": "this address belongs to an account that is not an external "
                                             "advisor of this institution"})
    invitation = AdvisorInvitation(case_id=access.case.id, advisor_id=user.id, invited_by_id=access.actor.user.id,
                                   expires_at=expires_at, token_hash=_token_hash(token) if token else None)
    session.add(invitation)
    session.flush()
    audit_case(session, access.actor.user, "advisor.invited", access.case,
               {"invitation_id": invitation.id, "advisor_id": user.id, "expires_at": expires_at.isoformat()})
    notify_case(session, "advisor_invited", access.proposal, access.case, to=[user],
                path=f"/review/advisor/welcome/{token}" if token else f"/review/advisor/cases/{access.case.id}",
                inviter_name=access.actor.user.name, expires_at=expires_at.isoformat())
    return invitation, token


def revoke_advisor(session: Session, access: CaseAccess, invitation_id: int) -> None:
    require_chair(access)
    invitation = session.get(AdvisorInvitation, invitation_id)
    if invitation is None or invitation.case_id != access.case.id:
        raise NotFound("invitation")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        session.add(invitation)
        session.flush()
        audit_case(session, access.actor.user, "advisor.revoked", access.case, {"invitation_id": invitation.id})


def _active_invitations(session: Session, actor: Actor):
    return select(AdvisorInvitation).where(
        AdvisorInvitation.advisor_id == actor.user.id, AdvisorInvitation.revoked_at.is_(None),
        AdvisorInvitation.expires_at > utcnow())


def advisor_cases(session: Session, actor: Actor) -> list[tuple[AdvisorInvitation, Proposal]]:
    if not actor.has("external_advisor"):
        raise Forbidden("external advisors only")
    rows = []
    for inv in session.exec(_active_invitations(session, actor)).all():
        case = session.get(ReviewCase, inv.case_id)
        if case.institution_id == actor.institution_id:
            rows.append((inv, session.get(Proposal, case.proposal_id)))
    return rows


@dataclass
class AdvisorAccess:
    invitation: AdvisorInvitation
    case: ReviewCase
    proposal: Proposal
    version: ProposalVersion | None
    opinions: list[AdvisorOpinion]


def advisor_case(session: Session, actor: Actor, case_id: int) -> AdvisorAccess:
    """The case for an invited advisor while the invitation is valid; otherwise NotFound."""
    if not actor.has("external_advisor"):
        raise Forbidden("external advisors only")
    case = session.get(ReviewCase, case_id)
    if case is None or case.institution_id != actor.institution_id:
        raise deny(actor, f"case {case_id}", "advisor: missing or other institution")
    invitation = session.exec(_active_invitations(session, actor).where(AdvisorInvitation.case_id == case.id)
                              .order_by(AdvisorInvitation.expires_at.desc())).first()
    if invitation is None:
        raise deny(actor, f"case {case_id}", "advisor: no valid invitation")
    proposal = session.get(Proposal, case.proposal_id)
    opinions = list(session.exec(select(AdvisorOpinion).where(
        AdvisorOpinion.case_id == case.id, AdvisorOpinion.advisor_id == actor.user.id)
        .order_by(AdvisorOpinion.created_at)).all())
    return AdvisorAccess(invitation, case, proposal, latest_version(session, proposal), opinions)


def add_opinion(session: Session, actor: Actor, access: AdvisorAccess, body: str) -> AdvisorOpinion:
    opinion = AdvisorOpinion(case_id=access.case.id, invitation_id=access.invitation.id,
                             advisor_id=actor.user.id, body=clean_text(body, "body"))
    session.add(opinion)
    session.flush()
    audit_case(session, actor.user, "advisor.opinion", access.case, {"opinion_id": opinion.id})
    return opinion


def invitation_for_token(session: Session, token: str) -> AdvisorInvitation | None:
    if not token or len(token) > 200:
        return None
    invitation = session.exec(select(AdvisorInvitation).where(
        AdvisorInvitation.token_hash == _token_hash(token))).first()
    if invitation is None or invitation.token_used_at is not None or invitation.revoked_at is not None \
            or invitation.expires_at <= utcnow():
        return None
    return invitation


def accept_invitation(session: Session, token: str, password: str) -> User:
    """Use the one-time token of a new advisor account to set its password."""
    invitation = invitation_for_token(session, token)
    if invitation is None:
        raise NotFound("invitation")
    user = session.get(User, invitation.advisor_id)
    accounts.set_password(session, user, user, password)
    invitation.token_used_at = utcnow()
    session.add(invitation)
    session.flush()
    return user
