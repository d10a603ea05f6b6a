"""Institutions, users, their roles (memberships) and login sessions.

No ``from __future__ import annotations`` here (SQLModel).
"""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import UTCDateTime, utcnow


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
    # Manages the installation's institutions at /admin/installation; set only by the CLI
    # (``screening users grant-installation-admin``). Grants nothing inside any institution.
    is_installation_admin: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false()))
    language: str | None = Field(default=None, sa_column=sa.Column(sa.String(8), nullable=True))
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
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
