"""Committee review tables: committees, routing, cases, deliberation, advisors and decisions.

Imported by ``migrations/env.py`` so that Alembic sees them. No ``from __future__ import
annotations`` here (relationships break).
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import UTCDateTime, utcnow

COMMITTEE_ROLES = ("member", "chair")
ROUTING_KINDS = ("faculty", "field_prefix")
DISPOSITIONS = ("confirmed", "dismissed", "mitigated")
COMMENT_KINDS = ("internal", "message")
RECOMMENDATIONS = ("approve", "approve_with_conditions", "decline")
OUTCOMES = ("approved", "approved_with_conditions", "declined")


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _fk(target: str, nullable: bool = False, index: bool = True, ondelete: str | None = None) -> sa.Column:
    return sa.Column(sa.Integer, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)


class Committee(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    institution_id: int = Field(sa_column=_fk("institution.id"))
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    is_default: bool = Field(default=False, nullable=False)
    due_days: int = Field(default=30, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class CommitteeMember(SQLModel, table=True):
    __tablename__ = "committee_member"
    __table_args__ = (
        sa.UniqueConstraint("committee_id", "user_id"),
        sa.CheckConstraint(f"role IN {_in(COMMITTEE_ROLES)}", name="role_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(sa_column=_fk("committee.id", ondelete="CASCADE"))
    user_id: int = Field(sa_column=_fk("user_account.id", ondelete="CASCADE"))
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))


class RoutingRule(SQLModel, table=True):
    """Sends a case to a committee by the proposal's faculty or a FORD field prefix."""

    __tablename__ = "routing_rule"
    __table_args__ = (
        sa.UniqueConstraint("institution_id", "kind", "value"),
        sa.CheckConstraint(f"kind IN {_in(ROUTING_KINDS)}", name="kind_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    institution_id: int = Field(sa_column=_fk("institution.id"))
    committee_id: int = Field(sa_column=_fk("committee.id", ondelete="CASCADE"))
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    value: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))


class ReviewCase(SQLModel, table=True):
    """The committee's file on one proposal. ``version`` is the optimistic-locking counter."""

    __tablename__ = "review_case"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("proposal.id"), nullable=False,
                                                 unique=True))
    institution_id: int = Field(sa_column=_fk("institution.id"))
    committee_id: int = Field(sa_column=_fk("committee.id"))
    rapporteur_id: int | None = Field(default=None, sa_column=_fk("user_account.id", nullable=True,
                                                                    index=False))
    routed_by: str = Field(sa_column=sa.Column(sa.String(120), nullable=False))
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    fast_track_rationale: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    overdue_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    version: int = Field(default=1, nullable=False)


class FlagDisposition(SQLModel, table=True):
    __tablename__ = "flag_disposition"
    __table_args__ = (sa.CheckConstraint(f"disposition IN {_in(DISPOSITIONS)}", name="disposition_known"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_fk("review_case.id"))
    version_number: int = Field(nullable=False)
    flag_key: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    disposition: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    reason: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    user_id: int = Field(sa_column=_fk("user_account.id", index=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class CaseComment(SQLModel, table=True):
    """``internal`` comments stay with the committee; ``message`` ones are shown to the researcher."""

    __tablename__ = "case_comment"
    __table_args__ = (sa.CheckConstraint(f"kind IN {_in(COMMENT_KINDS)}", name="kind_known"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_fk("review_case.id"))
    author_id: int = Field(sa_column=_fk("user_account.id", index=False))
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class InformationRequest(SQLModel, table=True):
    __tablename__ = "information_request"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_fk("review_case.id"))
    asked_by_id: int = Field(sa_column=_fk("user_account.id", index=False))
    questions: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    asked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    version_asked: int = Field(nullable=False)
    answered_version: int | None = Field(default=None, nullable=True)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ConflictDeclaration(SQLModel, table=True):
    __tablename__ = "conflict_declaration"
    __table_args__ = (sa.UniqueConstraint("case_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_fk("review_case.id"))
    user_id: int = Field(sa_column=_fk("user_account.id", index=False))
    reason: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    declared_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AdvisorInvitation(SQLModel, table=True):
    """Access of one external advisor to one case until ``expires_at`` or revocation.

    For a new account, ``token_hash`` holds the SHA-256 of a one-time set-password token sent in
    the invitation (valid until it is used or the invitation ends).
    """

    __tablename__ = "advisor_invitation"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_fk("review_case.id"))
    advisor_id: int = Field(sa_column=_fk("user_account.id"))
    invited_by_id: int = Field(sa_column=_fk("user_account.id", index=False))
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    token_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True, unique=True))
    token_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AdvisorOpinion(SQLModel, table=True):
    __tablename__ = "advisor_opinion"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_fk("review_case.id"))
    invitation_id: int = Field(sa_column=_fk("advisor_invitation.id", index=False))
    advisor_id: int = Field(sa_column=_fk("user_account.id", index=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Vote(SQLModel, table=True):
    """A member's recommendation; a new vote by the same member replaces the earlier one."""

    __table_args__ = (
        sa.UniqueConstraint("case_id", "user_id"),
        sa.CheckConstraint(f"recommendation IN {_in(RECOMMENDATIONS)}", name="recommendation_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_fk("review_case.id"))
    user_id: int = Field(sa_column=_fk("user_account.id", index=False))
    recommendation: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ConditionTemplate(SQLModel, table=True):
    __tablename__ = "condition_template"
    __table_args__ = (sa.UniqueConstraint("institution_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    institution_id: int = Field(sa_column=_fk("institution.id"))
    key: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    text_en: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    text_de: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    active: bool = Field(default=True, nullable=False)


class Decision(SQLModel, table=True):
    """The chair's decision. Final: a correction is a new row that supersedes this one.

    ``case_version`` is the case version the decision was made against; the unique constraint
    makes a second decision against the same version impossible even if the lock were bypassed.
    """

    __table_args__ = (
        sa.UniqueConstraint("case_id", "case_version"),
        sa.CheckConstraint(f"outcome IN {_in(OUTCOMES)}", name="outcome_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_fk("review_case.id"))
    proposal_id: int = Field(sa_column=_fk("proposal.id"))
    institution_id: int = Field(sa_column=_fk("institution.id"))
    version_number: int = Field(nullable=False)
    case_version: int = Field(nullable=False)
    outcome: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    reasoning: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # [{"template_id": int | None, "key": str | None, "text_en": str, "text_de": str}]
    conditions: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    decided_by_id: int = Field(sa_column=_fk("user_account.id", index=False))
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    supersedes_id: int | None = Field(default=None, sa_column=_fk("decision.id", nullable=True, index=False))
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
