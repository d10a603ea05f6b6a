"""People of the institution: search, invite, disable and enable, grant and revoke roles.

Every function acts for an institution administrator within their current institution; a
person without a role there does not exist for them (NotFound, the denial logged).
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts import service as accounts
from screening.accounts.models import ROLES, Institution, Membership, User
from screening.accounts.service import Actor
from screening.admin.access import ADMIN, require_admin
from screening.admin.models import AccountInvitation
from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import NotFound, ValidationFailed
from screening.core.security import secret_digest
from screening.notifications.service import notify
from screening.review.cases import deny
from screening.sso import service as sso

INVITATION_LIFETIME = timedelta(days=14)
SEARCH_LIMIT = 200


@dataclass(frozen=True)
class Person:
    """A user as the administrator sees them: their roles in this institution only."""

    user: User
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Invited:
    user: User
    #: the one-time password link's token; None where the institution signs people in by SSO
    token: str | None


def search_people(session: Session, actor: Actor, query: str = "") -> list[Person]:
    """The institution's people whose e-mail or name contains ``query`` (all of them when empty)."""
    require_admin(actor)
    rows = select(User, Membership.role).join(Membership, Membership.user_id == User.id).where(
        Membership.institution_id == actor.institution_id)
    query = (query or "").strip()[:200]
    if query:
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = rows.where(sa.or_(sa.func.lower(User.email).like(pattern, escape="\\"),
                                 sa.func.lower(User.name).like(pattern, escape="\\")))
    people: dict[int, tuple[User, list[str]]] = {}
    for user, role in session.exec(rows.order_by(User.name, User.id)).all():
        people.setdefault(user.id, (user, []))[1].append(role)
        if len(people) > SEARCH_LIMIT:
            break
    return [Person(user, tuple(r for r in ROLES if r in roles)) for user, roles in list(people.values())[:SEARCH_LIMIT]]


def own_person(session: Session, actor: Actor, user_id: int) -> User:
    """The user if they hold a role in the administrator's institution, else NotFound."""
    require_admin(actor)
    user = session.get(User, user_id)
    if user is None or not accounts.roles_in(session, user, actor.institution_id):
        raise deny(actor, f"user {user_id}", "not a member of this institution")
    return user


def _check_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValidationFailed({"roles": f"choose one or more of {', '.join(ROLES)}"})
    return list(dict.fromkeys(roles))


def signs_in_by_sso(session: Session, institution_id: int) -> bool:
    """The institution's people sign in through its identity provider, not with a password."""
    has_provider = any(p.enabled for p in sso.list_providers(session, institution_id))
    return has_provider and not sso.password_login_enabled(session, institution_id)


def invite(session: Session, actor: Actor, email: str, name: str, roles: list[str]) -> Invited:
    """Create the account with its roles here.

    With password login, the person gets an e-mail with a one-time link to choose a password
    (valid for 14 days); where the institution signs in by SSO only, the account and its roles
    are simply waiting for their first sign-in through the identity provider.
    """
    require_admin(actor)
    roles = _check_roles(roles)
    if session.exec(select(User).where(User.email == accounts.normalise_email(email))).first():
        # The same answer whether the account is here or in another institution: no enumeration.
        raise ValidationFailed({"email": "an account with this address exists; find it in the list and "
                                         "grant roles there, or ask the operator"})
    return send_invitation(session, actor.user, session.get(Institution, actor.institution_id), email, name, roles)


def send_invitation(session: Session, inviter: User, institution: Institution, email: str, name: str,
                    roles: list[str], details: dict | None = None) -> Invited:
    """The invitation itself, for a caller that has checked who may invite whom with which roles
    (and that the address is new): the account, then the one-time link or, SSO only, nothing more.
    ``details`` go into the audit record beside the roles."""
    user = accounts.create_user(session, inviter, institution, email, name, secrets.token_urlsafe(32), roles)
    if signs_in_by_sso(session, institution.id):
        audit.record(session, inviter, "user.invited", "user", user.id, institution.id,
                     {"roles": roles, "sign_in": "sso", **(details or {})})
        return Invited(user, None)
    token = secrets.token_urlsafe(32)
    invitation = AccountInvitation(user_id=user.id, institution_id=institution.id, invited_by_id=inviter.id,
                                   token_hash=secret_digest(token), expires_at=utcnow() + INVITATION_LIFETIME)
    session.add(invitation)
    session.flush()
    audit.record(session, inviter, "user.invited", "user", user.id, institution.id,
                 {"roles": roles, "sign_in": "password", "invitation_id": invitation.id,
                  "expires_at": invitation.expires_at.isoformat(), **(details or {})})
    notify(session, "account_invited", recipients=[user], path=f"/admin/welcome/{token}",
           context={"inviter_name": inviter.name, "institution_name": institution.name,
                    "expires_at": invitation.expires_at.isoformat()})
    return Invited(user, token)


def invitation_for_token(session: Session, token: str) -> AccountInvitation | None:
    """The unused, unexpired invitation of this link, else None."""
    if not token or len(token) > 200:
        return None
    invitation = session.exec(select(AccountInvitation).where(
        AccountInvitation.token_hash == secret_digest(token))).first()
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= utcnow():
        return None
    return invitation


def accept_invitation(session: Session, token: str, password: str) -> User:
    """Use the one-time link to set the first password; the link is spent."""
    invitation = invitation_for_token(session, token)
    if invitation is None:
        raise NotFound("invitation")
    user = session.get(User, invitation.user_id)
    accounts.set_password(session, user, user, password)
    invitation.used_at = utcnow()
    session.add(invitation)
    session.flush()
    audit.record(session, user, "user.invitation_accepted", "user", user.id, invitation.institution_id,
                 {"invitation_id": invitation.id})
    return user


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Disable (ending every session) or enable an account of this institution only."""
    user = own_person(session, actor, user_id)
    if user.id == actor.user.id:
        raise ValidationFailed({"user": "you cannot disable or enable your own account"})
    elsewhere = session.exec(select(Membership).where(Membership.user_id == user.id,
                                                      Membership.institution_id != actor.institution_id)).first()
    if elsewhere is not None:
        raise ValidationFailed({"user": "this person also belongs to another institution; revoke their roles "
                                        "here instead"})
    accounts.set_active(session, actor.user, user, active)
    return user


def change_role(session: Session, actor: Actor, user_id: int, role: str, grant: bool) -> User:
    """Grant or revoke one role in this institution."""
    user = own_person(session, actor, user_id)
    if role not in ROLES:
        raise ValidationFailed({"role": f"one of {', '.join(ROLES)}"})
    if not grant and role == ADMIN and user.id == actor.user.id:
        raise ValidationFailed({"role": "you cannot revoke your own administrator role"})
    institution = session.get(Institution, actor.institution_id)
    if grant:
        accounts.grant_role(session, actor.user, user, institution, role)
    else:
        accounts.revoke_role(session, actor.user, user, institution, role)
    return user
