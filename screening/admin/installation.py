"""The installation's institutions, for installation administrators (``User.is_installation_admin``).

The flag, set only by the operator's CLI, lets its holder list every institution with its size,
create institutions and invite an institution's first administrator. It grants no role in any
institution: their proposals, cases and people stay out of reach, exactly as for anyone else
without a role there. To everyone without the flag these functions answer NotFound, so the pages
do not reveal that they exist.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts import service as accounts
from screening.accounts.models import Institution, Membership, User
from screening.admin import users
from screening.admin.access import ADMIN
from screening.core.errors import Conflict, NotFound, ValidationFailed
from screening.proposals.models import Proposal


@dataclass(frozen=True)
class InstitutionRow:
    institution: Institution
    #: people holding any role there
    users: int
    proposals: int
    #: administrators whose account is active
    administrators: int


def is_installation_admin(user: User | None) -> bool:
    return user is not None and user.is_active and user.is_installation_admin


def require_installation_admin(user: User | None) -> None:
    if not is_installation_admin(user):
        raise NotFound("page")


def _counts(session: Session, query) -> dict[int, int]:
    return dict(session.exec(query).all())


def _active_admins():
    return (select(Membership.institution_id, sa.func.count(sa.distinct(Membership.user_id)))
            .join(User, User.id == Membership.user_id)
            .where(Membership.role == ADMIN, User.is_active.is_(True)))


def institutions(session: Session, user: User) -> list[InstitutionRow]:
    """Every institution of the installation by name, with its number of people, proposals and active admins."""
    require_installation_admin(user)
    people = _counts(session, select(Membership.institution_id, sa.func.count(sa.distinct(Membership.user_id)))
                     .group_by(Membership.institution_id))
    proposals = _counts(session, select(Proposal.institution_id, sa.func.count(Proposal.id))
                        .group_by(Proposal.institution_id))
    admins = _counts(session, _active_admins().group_by(Membership.institution_id))
    rows = session.exec(select(Institution).order_by(Institution.name, Institution.id)).all()
    return [InstitutionRow(inst, people.get(inst.id, 0), proposals.get(inst.id, 0), admins.get(inst.id, 0))
            for inst in rows]


def create_institution(session: Session, user: User, slug: str, name: str) -> Institution:
    """A new, empty institution (audited ``institution.created`` with the installation admin as actor)."""
    require_installation_admin(user)
    try:
        return accounts.create_institution(session, user, slug, name)
    except Conflict as exc:
        raise ValidationFailed({"slug": "an institution with this short name exists"}) from exc


def invite_first_admin(session: Session, user: User, institution_id: int, email: str, name: str) -> users.Invited:
    """Invite the administrator of an institution that has none (with an active account).

    The same invitation as at /admin/users: a one-time link to choose a password, or, where the
    institution signs in by SSO only, the account waiting for its first sign-in. Once the
    institution has an administrator, they invite everybody else; the installation admin does not.
    """
    require_installation_admin(user)
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise ValidationFailed({"institution": "no such institution"})
    if _counts(session, _active_admins().where(Membership.institution_id == institution.id)
               .group_by(Membership.institution_id)):
        raise ValidationFailed({"institution": "this institution has an administrator; they invite further "
                                               "people at /admin/users"})
    if session.exec(select(User).where(User.email == accounts.normalise_email(email))).first():
        raise ValidationFailed({"email": "an account with this address exists; the operator grants it the role "
                                         "with 'screening users grant'"})
    return users.send_invitation(session, user, institution, email, name, [ADMIN],
                                 details={"by_installation_admin": True})

