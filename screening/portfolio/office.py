"""Who may see the portfolio: the international office and the institution admin, of their own institution."""

import logging

from sqlmodel import Session, select

from screening.accounts.models import Membership, User
from screening.accounts.service import Actor
from screening.core.errors import Forbidden, NotFound
from screening.proposals.models import Proposal

log = logging.getLogger(__name__)

OFFICE_ROLES = ("international_office", "institution_admin")


def require_office(actor: Actor) -> None:
    if not actor.has(*OFFICE_ROLES):
        raise Forbidden("portfolio is for the international office")


def deny(actor: Actor, what: str, object_id) -> NotFound:
    log.warning("access denied: user=%s institution=%s %s=%s reason=other institution",
                actor.user.id, actor.institution_id, what, object_id)
    return NotFound(f"{what} {object_id}")


def get_proposal(session: Session, actor: Actor, proposal_id: int) -> Proposal:
    require_office(actor)
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}")
    if proposal.institution_id != actor.institution_id:
        raise deny(actor, "proposal", proposal_id)
    return proposal


def office_users(session: Session, institution_id: int) -> list[User]:
    return list(session.exec(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.institution_id == institution_id, Membership.role == "international_office",
               User.is_active.is_(True)).order_by(User.id)).all())
