"""Portfolio tables: denormalised search facets, the current screening, imports, re-screens, reports.

Imported by ``migrations/env.py`` so that Alembic sees them. No ``from __future__ import
annotations`` here (relationships break).

The facet tables (``proposal_partner``, ``proposal_field``, ``proposal_flag``) and
``proposal_screening`` are maintained by :mod:`screening.portfolio.index` whenever a proposal
is screened (submission, import, re-screen): the portfolio filters and the dashboard never read
JSON columns.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

from screening.core.database import UTCDateTime, utcnow
from screening.proposals.models import Proposal

IMPORT_STATUSES = ("pending", "running", "done", "failed")
RESCREEN_STATUSES = ("pending", "running", "done", "failed")
REPORT_STATUSES = ("pending", "ready", "failed")


def _fk(target: str, nullable: bool = False, index: bool = True, ondelete: str | None = None) -> sa.Column:
    return sa.Column(sa.Integer, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)


# Portfolio filters and sorting on the proposal table itself.
sa.Index("ix_proposal_institution_tier", Proposal.__table__.c.institution_id, Proposal.__table__.c.tier)
# (institution, status, created_at): the dashboard's ageing of open cases reads only this index.
sa.Index("ix_proposal_institution_status", Proposal.__table__.c.institution_id, Proposal.__table__.c.status,
         Proposal.__table__.c.created_at)
sa.Index("ix_proposal_institution_created", Proposal.__table__.c.institution_id,
         Proposal.__table__.c.created_at, Proposal.__table__.c.id)
# Sorting by title or by last change walks these instead of sorting the whole portfolio.
sa.Index("ix_proposal_institution_title", Proposal.__table__.c.institution_id, Proposal.__table__.c.title,
         Proposal.__table__.c.id)
sa.Index("ix_proposal_institution_updated", Proposal.__table__.c.institution_id, Proposal.__table__.c.updated_at,
         Proposal.__table__.c.id)


class ProposalPartner(SQLModel, table=True):
    """One partner of a proposal's current version; ``listed_entry`` names the list entry it matched."""

    __tablename__ = "proposal_partner"
    __table_args__ = (
        sa.Index("ix_proposal_partner_inst_country", "institution_id", "country", "proposal_id"),
        sa.Index("ix_proposal_partner_inst_listed", "institution_id", "listed_entry"),
        # The partner-name filter's second step, and the triggers' check for a name's last row.
        sa.Index("ix_proposal_partner_inst_name", "institution_id", "name", "proposal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(sa_column=_fk("proposal.id", ondelete="CASCADE"))
    institution_id: int = Field(sa_column=_fk("institution.id", index=False))
    position: int = Field(nullable=False)
    name: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))
    country: str = Field(sa_column=sa.Column(sa.String(2), nullable=False))
    listed_entry: str | None = Field(default=None, sa_column=sa.Column(sa.String(300), nullable=True))


class PartnerName(SQLModel, table=True):
    """Each partner name that some proposal of the institution has, once: kept by database triggers.

    The partner-name filter (a name part in any case) reads these few thousand names instead of
    every partner row, then finds the proposals by the exact names through
    ``ix_proposal_partner_inst_name``. The triggers (made by the migration, see
    :mod:`screening.portfolio.counts`) add a name with its first partner row and remove it with
    its last, in the transaction that writes ``proposal_partner``, however it is written.
    """

    __tablename__ = "partner_name"

    institution_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), primary_key=True))
    name: str = Field(sa_column=sa.Column(sa.String(300), primary_key=True))


class ProposalField(SQLModel, table=True):
    """One OECD FORD code of a proposal."""

    __tablename__ = "proposal_field"
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "code"),
        sa.Index("ix_proposal_field_inst_code", "institution_id", "code", "proposal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(sa_column=_fk("proposal.id", ondelete="CASCADE", index=False))
    institution_id: int = Field(sa_column=_fk("institution.id", index=False))
    code: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))


class ProposalFlag(SQLModel, table=True):
    """Per proposal and flag category: the highest severity raised (current screening)."""

    __tablename__ = "proposal_flag"
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "category"),
        sa.Index("ix_proposal_flag_inst_category", "institution_id", "category", "proposal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(sa_column=_fk("proposal.id", ondelete="CASCADE", index=False))
    institution_id: int = Field(sa_column=_fk("institution.id", index=False))
    category: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    max_severity: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    count: int = Field(default=1, nullable=False)


class ProposalText(SQLModel, table=True):
    """The words a free-text search finds a proposal by: title, partner names, keywords and abstract.

    Written with the facets. The full-text index is dialect-specific and made by the migration:
    on PostgreSQL a trigger fills ``words`` (the 'simple', English and German text-search vectors
    of ``body``) and a GIN index covers it; on SQLite ``words`` stays empty and an FTS5 table
    (``search_proposal_text``) kept in step by triggers indexes ``body``.
    """

    __tablename__ = "proposal_text"

    proposal_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("proposal.id", ondelete="CASCADE"),
                                                 primary_key=True))
    institution_id: int = Field(sa_column=_fk("institution.id", index=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    words: str | None = Field(default=None, sa_column=sa.Column(
        sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=True))


class PortfolioCount(SQLModel, table=True):
    """Pre-computed dashboard counts of one institution, kept by database triggers.

    ``dimension`` ``status``: proposals per (status, tier) (drafts included; tier ``""`` until
    screened); ``country``: proposals per (partner country, tier), a proposal once per country;
    ``listed``: proposals per matched list entry; ``field``: proposals per FORD code. The triggers
    (:mod:`screening.portfolio.counts`) update these rows in the transaction that changes
    ``proposal``, ``proposal_partner`` or ``proposal_field``, however the change is written.
    """

    __tablename__ = "portfolio_count"

    institution_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), primary_key=True))
    dimension: str = Field(sa_column=sa.Column(sa.String(16), primary_key=True))
    key: str = Field(sa_column=sa.Column(sa.String(300), primary_key=True))
    tier: str = Field(sa_column=sa.Column(sa.String(16), primary_key=True))
    n: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class ProposalScreening(SQLModel, table=True):
    """The proposal's current screening: at submission, then after every re-screen that ran on it.

    The frozen :class:`~screening.proposals.models.ProposalVersion` keeps the screening made at submission;
    this row is what the certificate states and what the next re-screen compares against.
    """

    __tablename__ = "proposal_screening"

    proposal_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("proposal.id", ondelete="CASCADE"),
                                                 primary_key=True))
    institution_id: int = Field(sa_column=_fk("institution.id"))
    version_number: int = Field(nullable=False)
    screened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    tier: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    # Stable flag identities with their severity: "<flag_key>:<severity>", sorted.
    flag_keys: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    # Short readable summary of the flags: [{"rule", "category", "severity", "title"}].
    flags: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    lists: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    ruleset_version: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    ruleset_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    cause: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))


class ImportJob(SQLModel, table=True):
    """A bulk import: the rows are stored as proposals at upload; screening runs in the background."""

    __tablename__ = "import_job"
    __table_args__ = (sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="status_known"),)

    id: int | None = Field(default=None, primary_key=True)
    institution_id: int = Field(sa_column=_fk("institution.id"))
    created_by_id: int = Field(sa_column=_fk("user_account.id", index=False))
    owner_id: int = Field(sa_column=_fk("user_account.id", index=False))
    filename: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    total: int = Field(default=0, nullable=False)
    done: int = Field(default=0, nullable=False)
    skipped_rows: int = Field(default=0, nullable=False)
    last_item_id: int = Field(default=0, nullable=False)  # cursor: import items up to here are screened
    status: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ImportItem(SQLModel, table=True):
    """One imported row: its spreadsheet row number and the proposal made from it."""

    __tablename__ = "import_item"
    __table_args__ = (sa.UniqueConstraint("job_id", "proposal_id"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(sa_column=_fk("import_job.id", ondelete="CASCADE", index=False))
    proposal_id: int = Field(sa_column=_fk("proposal.id", ondelete="CASCADE"))
    row_number: int = Field(nullable=False)
    reference: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))


class RescreenJob(SQLModel, table=True):
    """A re-screen of every active and decided proposal after a list or rule-set change.

    Chunked and resumable: each chunk screens the proposals with ids above ``last_id`` and moves
    the cursor in the same transaction.
    """

    __tablename__ = "rescreen_job"
    __table_args__ = (sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="status_known"),)

    id: int | None = Field(default=None, primary_key=True)
    cause: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))
    # Identifies the rule set and list versions screened against; a new one starts a job.
    fingerprint: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, index=True))
    lists: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    status: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    total: int = Field(default=0, nullable=False)
    done: int = Field(default=0, nullable=False)
    changed: int = Field(default=0, nullable=False)
    last_id: int = Field(default=0, nullable=False)
    started_by_id: int | None = Field(default=None, sa_column=_fk("user_account.id", nullable=True, index=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ScreeningEvent(SQLModel, table=True):
    """A change of a proposal's screening result found by a re-screen."""

    __tablename__ = "screening_event"
    __table_args__ = (
        sa.UniqueConstraint("job_id", "proposal_id"),
        sa.Index("ix_screening_event_inst_at", "institution_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(sa_column=_fk("proposal.id", ondelete="CASCADE"))
    institution_id: int = Field(sa_column=_fk("institution.id", index=False))
    job_id: int | None = Field(default=None, sa_column=_fk("rescreen_job.id", nullable=True, index=False))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    before_tier: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    after_tier: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    before_flags: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    after_flags: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    cause: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))
    tier_rose: bool = Field(default=False, nullable=False)
    reopened: bool = Field(default=False, nullable=False)


class ReportJob(SQLModel, table=True):
    """A PDF of the dashboard, rendered by an outbox task and stored by its SHA-256."""

    __tablename__ = "report_job"
    __table_args__ = (sa.CheckConstraint("status IN ('pending', 'ready', 'failed')", name="status_known"),)

    id: int | None = Field(default=None, primary_key=True)
    institution_id: int = Field(sa_column=_fk("institution.id"))
    requested_by_id: int = Field(sa_column=_fk("user_account.id", index=False))
    suppress: bool = Field(default=False, nullable=False)
    language: str = Field(default="en", sa_column=sa.Column(sa.String(8), nullable=False))
    status: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    sha256: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    size: int | None = Field(default=None, nullable=True)
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
