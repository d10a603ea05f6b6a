"""Tables of the administration pages.

Imported by migrations/env.py so that Alembic sees them. No
``from __future__ import annotations`` here (SQLModel).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import UTCDateTime, utcnow


class AccountInvitation(SQLModel, table=True):
    """The one-time link that lets an invited person choose their first password.

    Only the token's SHA-256 is stored; the link works once and until ``expires_at``.
    """

    __tablename__ = "account_invitation"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"),
                            nullable=False, index=True)
    )
    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=False, index=True)
    )
    invited_by_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    )
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
