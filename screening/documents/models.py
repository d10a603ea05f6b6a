"""Generated documents (letters) and the optional database blob store.

Imported by ``migrations/env.py`` so that Alembic sees them. No ``from __future__ import
annotations`` here (relationships break).

A :class:`GeneratedDocument` row is written together with the outbox message that asks for it
(``outbox_message_id`` is unique), so a page can say "PDF pending" at once; the worker fills in
``sha256``, ``size`` and ``storage_key`` when the letter is stored. Running the same message
again finds the row already filled and creates nothing.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import UTCDateTime, utcnow

DOCUMENT_KINDS = ("decision_letter", "fast_track_letter", "report", "certificate")
STORE_KINDS = ("file", "database")


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class GeneratedDocument(SQLModel, table=True):
    __tablename__ = "generated_document"
    __table_args__ = (
        sa.CheckConstraint(f"kind IN {_in(DOCUMENT_KINDS)}", name="kind_known"),
        sa.Index("ix_generated_document_object", "object_type", "object_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    object_type: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))  # "decision" / "proposal"
    object_id: int = Field(nullable=False)
    proposal_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.Integer, sa.ForeignKey("proposal.id"), nullable=True, index=True))
    institution_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=False,
                                                    index=True))
    outbox_message_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("outbox_message.id"),
                                                       nullable=False, unique=True))
    verification_code: str = Field(sa_column=sa.Column(sa.String(32), nullable=False, unique=True))
    language: str | None = Field(default=None, sa_column=sa.Column(sa.String(8), nullable=True))
    # Filled in by the worker once the letter is stored.
    sha256: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True, index=True))
    size: int | None = Field(default=None, nullable=True)
    store: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    storage_key: str | None = Field(default=None, sa_column=sa.Column(sa.String(200), nullable=True))
    signed: bool = Field(default=False, nullable=False)
    superseded: bool = Field(default=False, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    rendered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class DocumentBlob(SQLModel, table=True):
    """Bytes of a document kept in the database (``SCREENING_DOCUMENT_STORE = "database"``)."""

    __tablename__ = "document_blob"

    sha256: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    size: int = Field(nullable=False)
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
