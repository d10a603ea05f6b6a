"""The tables of the core: the hash-chained audit trail and the transactional outbox.

No ``from __future__ import annotations`` here (SQLModel).
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained audit trail. Each hash covers the previous row's hash (see core/audit.py)."""

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
    # SHA-256 over (actor, details): the hash chain covers this, so the two may be pseudonymised later.
    payload_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    # The later event that recorded replacing (actor, details) by a pseudonymised version.
    redacted_by: int | None = Field(default=None, nullable=True)
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
