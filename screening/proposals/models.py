"""Proposals and their frozen versions (the proposal as submitted with its screening result).

No ``from __future__ import annotations`` here (SQLModel).
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import JSONDict, UTCDateTime, utcnow


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
