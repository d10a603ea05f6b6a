"""The committee's queue and spot-check list, and the overdue notices."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.models import User
from screening.accounts.service import Actor
from screening.core.database import utcnow
from screening.core.errors import Forbidden
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.cases import COMMITTEE_ROLES, audit_case, recused_case_ids
from screening.review.models import Committee, CommitteeMember, ReviewCase
from screening.review.notifications import notify_case

TIER_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _my_committee_ids(session: Session, actor: Actor) -> list[int]:
    return list(session.exec(
        select(Committee.id).join(CommitteeMember, CommitteeMember.committee_id == Committee.id)
        .where(CommitteeMember.user_id == actor.user.id, Committee.institution_id == actor.institution_id)
    ).all())


@dataclass
class QueueRow:
    case: ReviewCase
    proposal: Proposal
    version: ProposalVersion | None
    committee: Committee
    rapporteur: User | None
    overdue: bool
    # The actor declared a conflict of interest: the row shows that and nothing of the proposal.
    recused: bool = False
    categories: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)

    @property
    def age_days(self) -> int:
        return (utcnow() - self.case.opened_at).days


QUEUE_SORTS = ("due", "opened", "tier", "title")


def _rows(session: Session, actor: Actor, statuses: set[str]) -> list[QueueRow]:
    committee_ids = _my_committee_ids(session, actor)
    if not committee_ids:
        return []
    pairs = session.exec(
        select(ReviewCase, Proposal).join(Proposal, Proposal.id == ReviewCase.proposal_id)
        .where(ReviewCase.committee_id.in_(committee_ids), ReviewCase.institution_id == actor.institution_id,
               Proposal.status.in_(statuses))
    ).all()
    if not pairs:
        return []
    latest = sa.select(ProposalVersion.proposal_id, sa.func.max(ProposalVersion.number).label("n")).where(
        ProposalVersion.proposal_id.in_([p.id for _c, p in pairs])).group_by(ProposalVersion.proposal_id).subquery()
    versions_by_pid = {v.proposal_id: v for v in session.exec(
        select(ProposalVersion).join(latest, sa.and_(ProposalVersion.proposal_id == latest.c.proposal_id,
                                                     ProposalVersion.number == latest.c.n))).all()}
    committees = {c.id: c for c in session.exec(select(Committee).where(Committee.id.in_(committee_ids))).all()}
    rapporteur_ids = {c.rapporteur_id for c, _p in pairs if c.rapporteur_id}
    users = {u.id: u for u in session.exec(select(User).where(User.id.in_(rapporteur_ids))).all()} \
        if rapporteur_ids else {}
    recused = recused_case_ids(session, actor.user.id, [c.id for c, _p in pairs])
    now = utcnow()
    rows = []
    for case, proposal in pairs:
        overdue = bool(case.due_at and case.due_at < now and proposal.status in workflow.UNDER_REVIEW)
        if case.id in recused:
            rows.append(QueueRow(case=case, proposal=proposal, version=None, committee=committees[case.committee_id],
                                 rapporteur=None, overdue=overdue, recused=True))
            continue
        version = versions_by_pid.get(proposal.id)
        flags = version.result_json.get("flags", []) if version else []
        partners = version.proposal_json.get("partners", []) if version else []
        rows.append(QueueRow(
            case=case, proposal=proposal, version=version, committee=committees[case.committee_id],
            rapporteur=users.get(case.rapporteur_id), overdue=overdue,
            categories={f.get("category") for f in flags},
            countries={p.get("country") for p in partners if p.get("country")},
        ))
    return rows


def queue(session: Session, actor: Actor, filters: dict[str, Any]) -> list[QueueRow]:
    """The committee's cases, filtered and sorted.

    ``filters``: status, tier, category, country, min_age (days), assignee ("me", "none" or a
    user id), sort (one of :data:`QUEUE_SORTS`).
    """
    if not actor.has(*COMMITTEE_ROLES):
        raise Forbidden("committee members only")
    status = filters.get("status")
    statuses = {status} if status in workflow.STATES else set(workflow.UNDER_REVIEW)
    rows = _rows(session, actor, statuses)
    if any(filters.get(name) for name in ("tier", "category", "country")):
        rows = [r for r in rows if not r.recused]  # matching them would tell what the proposal holds
    if tier := filters.get("tier"):
        rows = [r for r in rows if r.proposal.tier == tier]
    if category := filters.get("category"):
        rows = [r for r in rows if category in r.categories]
    if country := filters.get("country"):
        rows = [r for r in rows if country in r.countries]
    if (min_age := filters.get("min_age")) is not None:
        rows = [r for r in rows if r.age_days >= int(min_age)]
    assignee = filters.get("assignee")
    if assignee == "me":
        rows = [r for r in rows if r.case.rapporteur_id == actor.user.id]
    elif assignee == "none":
        rows = [r for r in rows if r.case.rapporteur_id is None]
    elif isinstance(assignee, int):
        rows = [r for r in rows if r.case.rapporteur_id == assignee]
    sort = filters.get("sort") or "due"
    far = datetime.max.replace(tzinfo=utcnow().tzinfo)
    keys = {
        "due": lambda r: (not r.overdue, r.case.due_at or far, r.case.id),
        "opened": lambda r: (r.case.opened_at, r.case.id),
        "tier": lambda r: (-TIER_ORDER.get(r.proposal.tier or "low", 0), r.case.opened_at),
        "title": lambda r: (r.proposal.title.casefold(), r.case.id),
    }
    rows.sort(key=keys.get(sort, keys["due"]))
    rows.sort(key=lambda r: r.recused)  # stable: recused cases last, so their place tells nothing either
    return rows


def fast_tracked(session: Session, actor: Actor) -> list[QueueRow]:
    """The spot-check list: fast-tracked cases of the actor's committees (not recused), newest first."""
    if not actor.has(*COMMITTEE_ROLES):
        raise Forbidden("committee members only")
    rows = [r for r in _rows(session, actor, {workflow.FAST_TRACKED}) if not r.recused]
    rows.sort(key=lambda r: r.case.opened_at, reverse=True)
    return rows


def notify_overdue(session: Session, now: datetime | None = None) -> list[int]:
    """Notify the committee once about each case past its due date; returns the case ids.

    Two runs at once (beat and the command) do not both notify: on PostgreSQL each locks the
    cases it takes and skips those another run holds; SQLite serialises writers anyway.
    """
    now = now or utcnow()
    rows = session.exec(select(ReviewCase, Proposal).join(Proposal, Proposal.id == ReviewCase.proposal_id).where(
        ReviewCase.due_at < now, ReviewCase.overdue_notified_at.is_(None),
        Proposal.status.in_(workflow.UNDER_REVIEW)).with_for_update(of=ReviewCase, skip_locked=True)).all()
    ids = []
    for case, proposal in rows:
        case.overdue_notified_at = now
        session.add(case)
        session.flush()
        audit_case(session, None, "case.overdue", case, {"due_at": case.due_at.isoformat()})
        notify_case(session, "case_overdue", proposal, case, due_date=case.due_at.date().isoformat())
        ids.append(case.id)
    return ids
