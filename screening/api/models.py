"""Tables of the JSON API: personal API tokens.

Only the SHA-256 of a token is stored; the token itself is shown once, when it is made.
No ``from __future__ import annotations`` here (relationships break).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import UTCDateTime, utcnow

SCOPES = ("read", "write")


class ApiToken(SQLModel, table=True):
    """A personal token: acts as its user, within one institution, for a scope, until it expires."""

    __tablename__ = "api_token"
    __table_args__ = (
        sa.CheckConstraint("scope IN ('read', 'write')", name="scope_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"),
                            nullable=False, index=True)
    )
    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=False)
    )
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    # The first characters of the token (not secret on their own), so the user can tell tokens apart.
    prefix: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    # "read": GET and stateless screening; "write": also creates and changes objects.
    scope: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
