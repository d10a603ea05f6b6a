"""Retention policies per institution and the record of proposals already pseudonymised.

Imported by ``migrations/env.py`` so that Alembic sees them. No ``from __future__ import
annotations`` here (SQLModel).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import UTCDateTime, utcnow

DEFAULT_MONTHS = {"drafts": 6, "withdrawn": 24, "decided": 120}
MAX_MONTHS = 1200  # a hundred years
CATEGORIES = tuple(DEFAULT_MONTHS)


def _months(category: str) -> sa.Column:
    return sa.Column(f"{category}_months", sa.Integer, nullable=False, server_default=str(DEFAULT_MONTHS[category]))


class RetentionPolicy(SQLModel, table=True):
    """How long an institution keeps drafts, withdrawn proposals and decided cases, in months.

    Without a row the defaults of ``DEFAULT_MONTHS`` apply. Decided cases count from the end of
    the collaboration (see ``screening.privacy.retention.collaboration_end``).
    """

    __tablename__ = "retention_policy"
    __table_args__ = tuple(
        sa.CheckConstraint(f"{c}_months BETWEEN 1 AND {MAX_MONTHS}", name=f"{c}_months_range") for c in CATEGORIES
    )

    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), primary_key=True)
    )
    drafts_months: int = Field(default=DEFAULT_MONTHS["drafts"], sa_column=_months("drafts"))
    withdrawn_months: int = Field(default=DEFAULT_MONTHS["withdrawn"], sa_column=_months("withdrawn"))
    decided_months: int = Field(default=DEFAULT_MONTHS["decided"], sa_column=_months("decided"))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class PseudonymisedProposal(SQLModel, table=True):
    """A withdrawn proposal or decided case whose personal data retention has removed."""

    __tablename__ = "pseudonymised_proposal"

    proposal_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("proposal.id"), primary_key=True))
    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=False, index=True)
    )
    category: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
