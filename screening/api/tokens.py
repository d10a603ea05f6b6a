"""Personal API tokens: made and revoked by their user, stored hashed, scoped, expiring.

A token is ``scr_`` + 43 URL-safe characters (256 random bits). Only its SHA-256 is stored; the
lookup is by that hash and the match is confirmed with a constant-time comparison.
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.models import Membership, User
from screening.accounts.service import Actor
from screening.api.models import SCOPES, ApiToken
from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import Forbidden, NotFound, ValidationFailed
from screening.core.security import secret_digest as hash_token

PREFIX = "scr_"
EXPIRY_DAYS = (7, 30, 90, 365)
MAX_ACTIVE_PER_USER = 20


@dataclass(frozen=True)
class Resolved:
    token: ApiToken
    actor: Actor


def create(session: Session, actor: Actor, name: str, scope: str, days: int) -> tuple[ApiToken, str]:
    """Make a token for the acting user, bound to the institution they act for; returns (row, plaintext).

    The API takes the institution from the token, never from the request."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed({"name": "give a name of at most 100 characters"})
    if scope not in SCOPES:
        raise ValidationFailed({"scope": f"one of {', '.join(SCOPES)}"})
    if days not in EXPIRY_DAYS:
        raise ValidationFailed({"expires_in_days": f"one of {', '.join(map(str, EXPIRY_DAYS))}"})
    if len(list_active(session, actor.user)) >= MAX_ACTIVE_PER_USER:
        raise ValidationFailed({"name": f"at most {MAX_ACTIVE_PER_USER} active tokens; revoke one first"})
    plaintext = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=actor.user.id, institution_id=actor.institution_id, name=name,
                   prefix=plaintext[:8], token_hash=hash_token(plaintext), scope=scope,
                   expires_at=utcnow() + timedelta(days=days))
    session.add(row)
    session.flush()
    audit.record(session, actor.user, "api_token.created", "api_token", row.id, actor.institution_id,
                 {"name": name, "scope": scope, "expires_at": row.expires_at.isoformat()})
    return row, plaintext


def list_active(session: Session, user: User, institution_id: int | None = None) -> list[ApiToken]:
    """The user's live tokens; with ``institution_id``, only those bound to that institution."""
    query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                                   ApiToken.expires_at > utcnow())
    if institution_id is not None:
        query = query.where(ApiToken.institution_id == institution_id)
    return list(session.exec(query.order_by(ApiToken.id.desc())).all())


def revoke(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the acting user's own tokens; anybody else's is NotFound."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != actor.user.id:
        raise NotFound(f"token {token_id}")
    return _revoke(session, actor, row, {})


def _revoke(session: Session, actor: Actor, row: ApiToken, details: dict) -> ApiToken:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        audit.record(session, actor.user, "api_token.revoked", "api_token", row.id, row.institution_id,
                     {"name": row.name, **details})
    return row


def institution_tokens(session: Session, actor: Actor) -> list[tuple[ApiToken, User]]:
    """Every live token of the acting administrator's institution, with its owner."""
    _require_admin(actor)
    return list(session.exec(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.institution_id == actor.institution_id, ApiToken.revoked_at.is_(None),
               ApiToken.expires_at > utcnow())
        .order_by(ApiToken.id.desc())
    ).all())


def revoke_for_institution(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """An institution administrator revokes any token of their institution; another's is NotFound."""
    _require_admin(actor)
    row = session.get(ApiToken, token_id)
    if row is None or row.institution_id != actor.institution_id:
        raise NotFound(f"token {token_id}")
    return _revoke(session, actor, row, {"owner_id": row.user_id, "by": "institution_admin"})


def _require_admin(actor: Actor) -> None:
    if not actor.has("institution_admin"):
        raise Forbidden("institution administrators only")


def resolve(session: Session, plaintext: str) -> Resolved | None:
    """The live token and its acting user with current roles, or None (unknown, expired, revoked,
    user disabled, or no role left in the token's institution). Roles are read afresh each call, so
    a withdrawn role takes effect at once."""
    if not plaintext.startswith(PREFIX) or not 20 <= len(plaintext) <= 100:
        return None
    digest = hash_token(plaintext)
    # One round trip: the token, its user and the user's roles in the token's institution.
    rows = session.exec(
        select(ApiToken, User, Membership.role)
        .join(User, sa.and_(User.id == ApiToken.user_id))
        .outerjoin(Membership, sa.and_(Membership.user_id == ApiToken.user_id,
                                       Membership.institution_id == ApiToken.institution_id))
        .where(ApiToken.token_hash == digest)
    ).all()
    if not rows:
        return None
    token, user = rows[0][0], rows[0][1]
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or token.expires_at <= utcnow() or not user.is_active:
        return None
    roles = frozenset(role for _, _, role in rows if role is not None)
    if not roles:  # the membership the token was made in is gone: the token acts for nobody
        return None
    return Resolved(token=token, actor=Actor(user=user, institution_id=token.institution_id, roles=roles))
