"""Database models (SQLModel table models).

Table models do not validate on construction: services validate input (forms or plain checks)
before building rows. No ``from __future__ import annotations`` here (relationships break).
"""

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.mutable import MutableDict
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDict = MutableDict.as_mutable(sa.JSON)


class Role(enum.StrEnum):
    researcher = "researcher"
    committee_member = "committee_member"
    committee_chair = "committee_chair"
    external_advisor = "external_advisor"
    international_office = "international_office"
    institution_admin = "institution_admin"


ROLES = tuple(r.value for r in Role)


class Institution(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    name: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=sa.Column(sa.String(254), nullable=False, unique=True))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    password_hash: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    is_active: bool = Field(default=True, nullable=False)
    # An institution admin may allow roles in more than one institution.
    multi_institution: bool = Field(default=False, nullable=False)
    language: str | None = Field(default=None, sa_column=sa.Column(sa.String(8), nullable=True))
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Membership(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("user_id", "institution_id", "role"),
        sa.CheckConstraint(
            "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="role_known"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"),
                            nullable=False, index=True)
    )
    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=False, index=True)
    )
    role: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))


class UserSession(SQLModel, table=True):
    """A server-side login session; the cookie carries only its random token.

    Deleting the row (logout, password change, account disabled) makes a copied cookie useless.
    """

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"),
                            nullable=False, index=True)
    )
    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Proposal(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("owner_id", "creation_token"),)

    id: int | None = Field(default=None, primary_key=True)
    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=False, index=True)
    )
    owner_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_account.id"), nullable=False, index=True)
    )
    title: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(32), nullable=False, index=True))
    # The working copy in contract shape (may be incomplete while a draft).
    data: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(JSONDict, nullable=False))
    # Random token of the form that created the proposal: a resent "create" POST finds it again.
    creation_token: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    tier: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    route: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    # Optional organisational unit, used to route the case to a faculty committee.
    faculty: str | None = Field(default=None, sa_column=sa.Column(sa.String(100), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ProposalVersion(SQLModel, table=True):
    """Immutable snapshot frozen at submission: the proposal as submitted and its screening."""

    __tablename__ = "proposal_version"
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("proposal.id"), nullable=False, index=True)
    )
    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=False)
    )
    number: int = Field(nullable=False)
    # Random token of the submitting form: a resent "submit" POST finds this version again.
    submission_token: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    submitted_by_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_account.id"), nullable=False)
    )
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    proposal_json: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    result_json: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    language: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    tier: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    route: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    ruleset_version: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    ruleset_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    lists_json: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained audit trail. Each hash covers the previous row's hash."""

    __tablename__ = "audit_event"

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_account.id"), nullable=True)
    )
    actor: str = Field(sa_column=sa.Column(sa.String(254), nullable=False))
    action: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    object_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    object_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    institution_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=True, index=True),
    )
    details: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    prev_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))


class OutboxMessage(SQLModel, table=True):
    """A side effect (task) written in the same transaction as the change that causes it.

    The relay publishes it to Celery only after commit; the task runs idempotently by this id;
    the sweeper republishes messages left pending too long (e.g. Redis was wiped or down).
    """

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    task: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    status: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False, index=True))
    attempts: int = Field(default=0, nullable=False)
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


from screening import review_models  # noqa: E402, F401 - committee review tables
from screening.api_models import ApiToken  # noqa: E402, F401 - the JSON API's tables
from screening.document_models import GeneratedDocument  # noqa: E402, F401 - letters (documents)
from screening.notification_models import SentMail  # noqa: E402, F401 - the notifications table
from screening.portfolio_models import ProposalScreening  # noqa: E402, F401 - portfolio tables
from screening.sso import models as sso_models  # noqa: E402, F401 - single sign-on tables
