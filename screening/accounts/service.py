"""Institutions, users, memberships, passwords and login sessions."""

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, delete, select

from screening.accounts.models import ROLES, Institution, Membership, User, UserSession
from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

_hasher = PasswordHasher()
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
MIN_PASSWORD = 12


@dataclass(frozen=True)
class Actor:
    """The acting user within one institution, with their roles there."""

    user: User
    institution_id: int
    roles: frozenset[str] = field(default_factory=frozenset)

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (verifies against a dummy hash)."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_institution(session: Session, actor: User | None, slug: str, name: str) -> Institution:
    slug = slug.strip().lower()
    if not _SLUG_RE.match(slug):
        raise ValidationFailed({"slug": "use 2-63 lower-case letters, digits and hyphens"})
    if not name.strip() or len(name) > 300:
        raise ValidationFailed({"name": "give a name of at most 300 characters"})
    if session.exec(select(Institution).where(Institution.slug == slug)).first():
        raise Conflict(f"institution {slug!r} exists")
    inst = Institution(slug=slug, name=name.strip())
    session.add(inst)
    session.flush()
    audit.record(session, actor, "institution.created", "institution", inst.id, inst.id, {"slug": slug})
    return inst


def _validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD or len(password) > 1024:
        raise ValidationFailed({"password": f"use {MIN_PASSWORD} to 1024 characters"})


def create_user(session: Session, actor: User | None, institution: Institution, email: str, name: str,
                password: str, roles: list[str] | tuple[str, ...]) -> User:
    email = normalise_email(email)
    if not _EMAIL_RE.match(email) or len(email) > 254:
        raise ValidationFailed({"email": "not a valid e-mail address"})
    if not name.strip() or len(name) > 200:
        raise ValidationFailed({"name": "give a name of at most 200 characters"})
    _validate_password(password)
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(f"user {email} exists")
    user = User(email=email, name=name.strip(), password_hash=hash_password(password),
                password_changed_at=utcnow())
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", "user", user.id, institution.id, {"email": email})
    for role in roles:
        grant_role(session, actor, user, institution, role)
    return user


def grant_role(session: Session, actor: User | None, user: User, institution: Institution,
               role: str) -> Membership:
    if role not in ROLES:
        raise ValidationFailed({"role": f"unknown role {role!r}; known: {', '.join(ROLES)}"})
    others = session.exec(
        select(Membership).where(Membership.user_id == user.id, Membership.institution_id != institution.id)
    ).first()
    if others and not user.multi_institution:
        raise Forbidden("this user holds roles in another institution; an administrator must allow it")
    existing = session.exec(select(Membership).where(
        Membership.user_id == user.id, Membership.institution_id == institution.id, Membership.role == role
    )).first()
    if existing:
        return existing
    membership = Membership(user_id=user.id, institution_id=institution.id, role=role)
    session.add(membership)
    session.flush()
    audit.record(session, actor, "membership.granted", "user", user.id, institution.id, {"role": role})
    return membership


def revoke_role(session: Session, actor: User | None, user: User, institution: Institution, role: str) -> bool:
    """Take ``role`` in ``institution`` away from ``user``; False when they did not hold it."""
    membership = session.exec(select(Membership).where(
        Membership.user_id == user.id, Membership.institution_id == institution.id, Membership.role == role
    )).first()
    if membership is None:
        return False
    session.delete(membership)
    session.flush()
    audit.record(session, actor, "membership.revoked", "user", user.id, institution.id, {"role": role})
    return True


def roles_in(session: Session, user: User, institution_id: int) -> frozenset[str]:
    rows = session.exec(select(Membership.role).where(
        Membership.user_id == user.id, Membership.institution_id == institution_id
    )).all()
    return frozenset(rows)


def institutions_of(session: Session, user: User) -> list[Institution]:
    """The institutions where the user holds a role, by name."""
    return list(session.exec(
        select(Institution).where(Institution.id.in_(
            select(Membership.institution_id).where(Membership.user_id == user.id)))
        .order_by(Institution.name, Institution.id)
    ).all())


def home_institution_id(session: Session, user: User) -> int | None:
    return session.exec(
        select(Membership.institution_id).where(Membership.user_id == user.id).order_by(Membership.id)
    ).first()


#: Checks that features add to password login (single sign-on switches it off per institution).
#: Each answers whether ``user`` may log in with a password at ``institution_id``.
PASSWORD_LOGIN_CHECKS: list[Callable[[Session, User, int], bool]] = []


def password_login_allowed(session: Session, user: User, institution_id: int) -> bool:
    return all(check(session, user, institution_id) for check in PASSWORD_LOGIN_CHECKS)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None (same work either way)."""
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    ok = check_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, institution_id: int) -> str:
    """Create a server-side session; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_token_hash(token), user_id=user.id, institution_id=institution_id))
    user.last_login_at = utcnow()
    session.add(user)
    session.flush()
    audit.record(session, user, "user.login", "user", user.id, institution_id, {})
    return token


def resolve_session(session: Session, token: str, max_age_seconds: int) -> tuple[User, int] | None:
    row = session.exec(select(UserSession).where(UserSession.token_hash == _token_hash(token))).first()
    if row is None:
        return None
    if (utcnow() - row.created_at).total_seconds() > max_age_seconds:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return user, row.institution_id


def switch_institution(session: Session, actor: Actor, token: str, institution_id: int) -> Institution:
    """Let the login session ``token`` act for ``institution_id``, where the user must hold a role.

    Audited in both institutions' trails, each row naming only its own institution (the trail of
    one institution tells nothing of the other).
    """
    if not roles_in(session, actor.user, institution_id):
        raise Forbidden("you hold no role in that institution")
    row = session.exec(select(UserSession).where(UserSession.token_hash == _token_hash(token),
                                                 UserSession.user_id == actor.user.id)).first()
    if row is None:
        raise NotFound("login session")
    institution = session.get(Institution, institution_id)
    if row.institution_id != institution_id:
        row.institution_id = institution_id
        session.add(row)
        session.flush()
        audit.record(session, actor.user, "user.institution_left", "user", actor.user.id, actor.institution_id, {})
        audit.record(session, actor.user, "user.institution_entered", "user", actor.user.id, institution_id, {})
    return institution


def end_session(session: Session, token: str) -> None:
    session.exec(delete(UserSession).where(UserSession.token_hash == _token_hash(token)))


def end_all_sessions(session: Session, user: User) -> None:
    session.exec(delete(UserSession).where(UserSession.user_id == user.id))


def change_password(session: Session, actor: Actor, current: str, new: str) -> None:
    """The acting user changes their own password (audited in the institution they act for)."""
    if not check_password(actor.user.password_hash, current):
        raise ValidationFailed({"current_password": "the current password is wrong"})
    set_password(session, actor.user, actor.user, new, actor.institution_id)


def set_password(session: Session, actor: User | None, user: User, new: str, institution_id: int | None = None
                 ) -> None:
    """Set a password and end every session of the user; audited in ``institution_id`` (default: the user's
    first institution)."""
    _validate_password(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    session.add(user)
    end_all_sessions(session, user)
    session.flush()
    audit.record(session, actor, "user.password_changed", "user", user.id,
                 institution_id or home_institution_id(session, user), {})


def set_active(session: Session, actor: User | None, user: User, active: bool, institution_id: int | None = None
               ) -> None:
    """Enable or disable an account (disabling ends its sessions); audited in ``institution_id`` (the acting
    administrator's institution; default: the user's first institution)."""
    user.is_active = active
    session.add(user)
    if not active:
        end_all_sessions(session, user)
    session.flush()
    audit.record(session, actor, "user.enabled" if active else "user.disabled", "user", user.id,
                 institution_id or home_institution_id(session, user), {})


def set_installation_admin(session: Session, email: str, grant: bool) -> User:
    """Make the account installation administrator, or no longer (screening.admin.installation).

    Only the CLI calls this; no web page changes the flag. Audited, without an institution (no
    institution's log shows it); a grant or revoke that changes nothing records nothing.
    """
    user = get_user_by_email(session, email)
    if user.is_installation_admin != grant:
        user.is_installation_admin = grant
        session.add(user)
        session.flush()
        audit.record(session, None, "user.installation_admin_granted" if grant else "user.installation_admin_revoked",
                     "user", user.id, None, {"email": user.email})
    return user


def get_user_by_email(session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        raise NotFound(email)
    return user


def get_institution(session: Session, slug: str) -> Institution:
    inst = session.exec(select(Institution).where(Institution.slug == slug)).first()
    if inst is None:
        raise NotFound(slug)
    return inst
