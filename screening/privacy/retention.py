"""Retention: each institution's periods, which records have expired, and removing them.

Categories (docs/operations.md, "Retention"):

- ``drafts``: proposals still in draft and never submitted, counted from their last change;
  deleted.
- ``withdrawn``: withdrawn proposals, counted from the withdrawal; pseudonymised.
- ``decided``: decided and fast-tracked cases, counted from the end of the collaboration
  (:func:`collaboration_end`); pseudonymised, the decision and its letter's record kept.

:func:`expired` lists what would go (the dry run); :func:`apply` removes it and writes one audit
event per institution with the counts per category (never names or titles).
"""

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.models import Institution, User
from screening.core import audit, outbox
from screening.core.database import utcnow
from screening.core.errors import ValidationFailed
from screening.documents.letters import reference_for
from screening.privacy.models import CATEGORIES, MAX_MONTHS, PseudonymisedProposal, RetentionPolicy
from screening.privacy.records import DISCARD_FILES_TASK, delete_draft, pseudonymise_proposal
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.models import Decision

_LOCK_KEY = 0x5C12EF  # PostgreSQL advisory lock: one retention run at a time (beat and the command)
_PERIOD = re.compile(r"^ *([0-9]{1,4}) *([my]) *$", re.IGNORECASE)
DECIDED_STATES = (workflow.DECIDED, workflow.FAST_TRACKED)


def parse_period(text: str) -> int:
    """``6m`` or ``2y`` as a number of months, 1 to ``MAX_MONTHS``; ValueError otherwise."""
    match = _PERIOD.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a period: write months or years, e.g. 6m or 10y")
    months = int(match.group(1)) * (12 if match.group(2).lower() == "y" else 1)
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"{text!r} is out of range: 1 month to {MAX_MONTHS // 12} years")
    return months


def format_period(months: int) -> str:
    return f"{months // 12}y" if months % 12 == 0 else f"{months}m"


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole calendar months (31 March + 1 month is 30 April)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def policy_of(session: Session, institution_id: int) -> RetentionPolicy:
    """The institution's stored policy, or the defaults (not added to the session)."""
    return session.get(RetentionPolicy, institution_id) or RetentionPolicy(institution_id=institution_id)


def set_policy(session: Session, actor: User | None, institution: Institution, months: dict[str, int]
               ) -> RetentionPolicy:
    """Change some of the institution's periods (``{"drafts": 6, ...}`` in months); audited."""
    unknown = set(months) - set(CATEGORIES)
    bad = {c: f"1 to {MAX_MONTHS} months" for c, m in months.items()
           if c in CATEGORIES and not (type(m) is int and 1 <= m <= MAX_MONTHS)}
    if unknown or bad or not months:
        raise ValidationFailed({**{c: "unknown category" for c in unknown}, **bad} or {"period": "nothing to set"})
    policy = session.get(RetentionPolicy, institution.id) or RetentionPolicy(institution_id=institution.id)
    before = {c: getattr(policy, f"{c}_months") for c in CATEGORIES}
    for category, value in months.items():
        setattr(policy, f"{category}_months", value)
    policy.updated_at = utcnow()
    session.add(policy)
    session.flush()
    audit.record(session, actor, "retention.policy_set", "institution", institution.id, institution.id,
                 {"before": before, "after": {c: getattr(policy, f"{c}_months") for c in CATEGORIES}})
    return policy


def _parse_date(text) -> date | None:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return None


def collaboration_end(version: ProposalVersion | None, decided_at: datetime) -> datetime:
    """When the collaboration ends: its start date plus its duration as submitted.

    A proposal without a start date or a duration counts from ``decided_at`` (the decision, or
    for a fast-tracked proposal its clearance at submission).
    """
    data = version.proposal_json if version is not None else {}
    start, months = _parse_date(data.get("start_date")), data.get("duration_months")
    if start is None or not isinstance(months, int) or isinstance(months, bool) or months < 1:
        return decided_at
    return add_months(datetime(start.year, start.month, start.day, tzinfo=UTC), months)


@dataclass(frozen=True)
class Expired:
    """A record whose retention period is over: what it is, not what it says."""

    proposal_id: int
    institution_id: int
    category: str
    reference: str
    since: datetime  # the moment its period started counting


def _latest_versions(session: Session, ids: list[int]) -> dict[int, ProposalVersion]:
    latest: dict[int, ProposalVersion] = {}
    for version in session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id.in_(ids))
                                .order_by(ProposalVersion.number)):
        latest[version.proposal_id] = version
    return latest


def _decision_dates(session: Session, ids: list[int]) -> dict[int, datetime]:
    rows = session.exec(select(Decision.proposal_id, sa.func.max(Decision.decided_at))
                        .where(Decision.proposal_id.in_(ids)).group_by(Decision.proposal_id))
    return {pid: at if at.tzinfo else at.replace(tzinfo=UTC) for pid, at in rows}


def _expired_in(session: Session, institution_id: int, now: datetime) -> list[Expired]:
    policy = policy_of(session, institution_id)
    cutoff = {c: add_months(now, -getattr(policy, f"{c}_months")) for c in CATEGORIES}
    done = select(PseudonymisedProposal.proposal_id)
    submitted = select(ProposalVersion.proposal_id)
    mine = (Proposal.institution_id == institution_id, Proposal.id.not_in(done))
    found: list[Expired] = []
    drafts = session.exec(select(Proposal).where(*mine, Proposal.status == workflow.DRAFT,
                                                 Proposal.id.not_in(submitted),
                                                 Proposal.updated_at <= cutoff["drafts"]).order_by(Proposal.id))
    found += [Expired(p.id, institution_id, "drafts", reference_for(p), p.updated_at) for p in drafts]
    withdrawn = session.exec(select(Proposal).where(*mine, Proposal.status == workflow.WITHDRAWN,
                                                    Proposal.updated_at <= cutoff["withdrawn"]).order_by(Proposal.id))
    found += [Expired(p.id, institution_id, "withdrawn", reference_for(p), p.updated_at) for p in withdrawn]
    decided = list(session.exec(select(Proposal).where(*mine, Proposal.status.in_(DECIDED_STATES))
                                .order_by(Proposal.id)))
    versions = _latest_versions(session, [p.id for p in decided])
    decisions = _decision_dates(session, [p.id for p in decided])
    for proposal in decided:
        version = versions.get(proposal.id)
        decided_at = decisions.get(proposal.id) or (version.submitted_at if version else proposal.updated_at)
        end = collaboration_end(version, decided_at)
        if end <= cutoff["decided"]:
            found.append(Expired(proposal.id, institution_id, "decided", reference_for(proposal), end))
    return found


def expired(session: Session, now: datetime, institution: Institution | None = None) -> list[Expired]:
    """Every record whose period is over at ``now``, per institution (all, or the one given)."""
    institutions = [institution] if institution else session.exec(select(Institution).order_by(Institution.id))
    return [item for inst in institutions for item in _expired_in(session, inst.id, now)]


def counts(items: list[Expired]) -> dict[str, int]:
    return {category: sum(1 for item in items if item.category == category) for category in CATEGORIES}


def apply(session: Session, actor: User | None, now: datetime, institution: Institution | None = None
          ) -> list[Expired]:
    """Delete or pseudonymise every expired record; one audit event per institution. Flushes only.

    Letter files are removed after commit by an outbox task; database-stored letters go now.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    items = expired(session, now, institution)
    for institution_id in sorted({item.institution_id for item in items}):
        mine = [item for item in items if item.institution_id == institution_id]
        rewrites: dict[int, audit.Rewrite] = {}
        files: list[str] = []
        for item in mine:
            proposal = session.get(Proposal, item.proposal_id)
            if item.category == "drafts":
                rewrites.update(delete_draft(session, proposal))
            else:
                proposal_rewrites, proposal_files = pseudonymise_proposal(session, proposal, item.category)
                rewrites.update(proposal_rewrites)
                files += proposal_files
        audit.pseudonymise(session, actor, "retention.applied", "institution", institution_id, institution_id,
                           {"deleted": {"drafts": counts(mine)["drafts"]},
                            "pseudonymised": {c: counts(mine)[c] for c in ("withdrawn", "decided")},
                            "letter_files": len(files), "as_of": now.isoformat()},
                           rewrites)
        if files:
            outbox.enqueue(session, DISCARD_FILES_TASK, {"sha256": files})
    return items

