"""Table of the notifications module: the log of e-mails handed to a mail transport.

Imported by ``migrations/env.py`` so that Alembic sees it.
No ``from __future__ import annotations`` here (SQLModel).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import UTCDateTime, utcnow


class SentMail(SQLModel, table=True):
    """One row per outbox message whose e-mail was accepted by the transport.

    Written in the same transaction that marks the outbox message done; the unique outbox id
    makes a second delivery of the same message impossible to record (see docs/web.md,
    "Notifications", for the at-least-once choice).
    """

    __tablename__ = "sent_mail"

    id: int | None = Field(default=None, primary_key=True)
    outbox_message_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("outbox_message.id", ondelete="CASCADE"),
                            nullable=False, unique=True)
    )
    event: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    recipient: str = Field(sa_column=sa.Column(sa.String(254), nullable=False))
    language: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    message_id: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    transport: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class FailedMail(SQLModel, table=True):
    """A notification that was given up: the mail server refused it for good (5xx), or every retry failed.

    Written with its audit row in the transaction that marks the outbox message failed, so that
    the institution's administrators can see who did not get which mail, and why.
    """

    __tablename__ = "failed_mail"

    id: int | None = Field(default=None, primary_key=True)
    outbox_message_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("outbox_message.id", ondelete="CASCADE"),
                            nullable=False, unique=True)
    )
    # The institution the mail was sent for; None for mails outside any institution.
    institution_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=True, index=True)
    )
    event: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    recipient: str = Field(sa_column=sa.Column(sa.String(254), nullable=False))
    # The SMTP reply code when the server answered (e.g. 550), else None (connection errors).
    smtp_code: int | None = Field(default=None, nullable=True)
    permanent: bool = Field(nullable=False)
    reason: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    failed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
