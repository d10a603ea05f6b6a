"""The dashboard's numbers and charts: tiers, statuses, countries, fields, listed partners,
ageing of open cases, decisions, conditions and time to decision per committee."""

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.service import Actor
from screening.core.database import utcnow
from screening.portfolio import charts, counts
from screening.portfolio.index import TIERS
from screening.portfolio.office import require_office
from screening.proposals import workflow
from screening.proposals.models import ProposalVersion
from screening.review.models import Committee, Decision, ReviewCase

AGEING_BUCKETS = ((30, "< 30 days"), (90, "30–90 days"), (180, "90–180 days"), (None, "> 180 days"))


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def dashboard(session: Session, actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """Aggregates of the institution's portfolio (drafts left out)."""
    require_office(actor)
    return dashboard_for(session, actor.institution_id, now)


def dashboard_for(session: Session, inst: int, now: datetime | None = None) -> dict[str, Any]:
    """The counts come from ``portfolio_count`` (kept by triggers, :mod:`screening.portfolio.counts`):
    some hundred rows (and one per day with open cases filed) however large the portfolio.
    """
    now = now or utcnow()
    stored = counts.stored(session, inst)
    by_tier: Counter = Counter()
    by_status: Counter = Counter()
    for (status, tier), n in counts.dimension(stored, "status").items():
        if status != workflow.DRAFT:
            by_tier[tier or "pending"] += n
            by_status[status] += n
    total = sum(by_status.values())
    per_country: dict[str, Counter] = defaultdict(Counter)
    for (country, tier), n in counts.dimension(stored, "country").items():
        per_country[country][tier or "pending"] += n
    top_countries = sorted(per_country, key=lambda c: (-sum(per_country[c].values()), c))[:12]
    by_field = sorted(((code, n) for (code, _t), n in counts.dimension(stored, "field").items()),
                      key=lambda kv: (-kv[1], kv[0]))[:12]
    listed = sorted(((entry, n) for (entry, _t), n in counts.dimension(stored, "listed").items()),
                    key=lambda kv: (-kv[1], kv[0]))[:10]
    decisions, conditions, durations = _decisions(session, inst)
    return {
        "total": total,
        "by_tier": [(t, by_tier.get(t, 0)) for t in TIERS] + ([("pending", by_tier["pending"])]
                                                              if by_tier.get("pending") else []),
        "by_status": sorted(by_status.items(), key=lambda kv: workflow.STATES.index(kv[0])
                            if kv[0] in workflow.STATES else 99),
        "countries": top_countries,
        "country_tiers": [(t, [per_country[c].get(t, 0) for c in top_countries]) for t in TIERS],
        "by_country": [(c, sum(per_country[c].values())) for c in top_countries],
        "by_field": by_field,
        "listed_partners": listed,
        "ageing": _ageing(stored, now),
        "decisions": decisions,
        "conditions": conditions,
        "durations": durations,
    }


def _ageing(stored: dict[counts.Key, int], now: datetime) -> list[tuple[str, int]]:
    """Open cases by the day the proposal was filed (UTC), from the ``opened`` counts."""
    limits = [days for days, _label in AGEING_BUCKETS if days is not None]
    per_bucket: Counter = Counter()
    today = now.astimezone(UTC).date()
    for (day, _tier), n in counts.dimension(stored, "opened").items():
        age = (today - date.fromisoformat(day)).days
        per_bucket[next((i for i, days in enumerate(limits) if age < days), len(limits))] += n
    return [(label, per_bucket.get(i, 0)) for i, (_days, label) in enumerate(AGEING_BUCKETS)]


def _decisions(session: Session, inst: int):
    current = [Decision.institution_id == inst, Decision.superseded_at.is_(None)]
    decisions = session.execute(select(Decision.outcome, sa.func.count()).where(*current)
                                .group_by(Decision.outcome).order_by(Decision.outcome)).all()
    conditions: Counter = Counter()
    for (conds,) in session.execute(select(Decision.conditions).where(
            *current, Decision.outcome == "approved_with_conditions")):
        for c in conds or []:
            conditions[(c.get("key") or "free text")] += 1
    first = (select(ProposalVersion.proposal_id, sa.func.min(ProposalVersion.submitted_at).label("submitted"))
             .where(ProposalVersion.institution_id == inst).group_by(ProposalVersion.proposal_id).subquery())
    rows = session.execute(
        select(Committee.name, first.c.submitted, Decision.decided_at)
        .join(ReviewCase, ReviewCase.id == Decision.case_id)
        .join(Committee, Committee.id == ReviewCase.committee_id)
        .join(first, first.c.proposal_id == Decision.proposal_id)
        .where(*current)).all()
    per: dict[str, list[float]] = defaultdict(list)
    for name, submitted, decided in rows:
        if submitted.tzinfo is None:
            submitted = submitted.replace(tzinfo=UTC)
        if decided.tzinfo is None:
            decided = decided.replace(tzinfo=UTC)
        per[name].append((decided - submitted).total_seconds() / 86400)
    durations = [(name, len(v), statistics.median(v), _percentile(v, 0.9)) for name, v in sorted(per.items())]
    return list(decisions), conditions.most_common(10), durations


def chart_svgs(data: dict[str, Any], suppress: bool, labels: dict[str, dict[str, str]] | None = None
               ) -> dict[str, str]:
    """The dashboard's charts as SVG strings (``screening.portfolio.charts``)."""
    labels = labels or {}
    sb = 5 if suppress else None
    status_l, tier_l, field_l = labels.get("status", {}), labels.get("tier", {}), labels.get("field", {})
    return {
        "country": charts.stacked_bar_chart(
            labels.get("titles", {}).get("country", "Proposals by partner country and tier"),
            data["countries"], [(tier_l.get(t, t), v) for t, v in data["country_tiers"]],
            colours={tier_l.get(t, t): charts.TIER_COLOURS[t] for t in TIERS if t in charts.TIER_COLOURS},
            suppress_below=sb),
        "tier": charts.bar_chart(labels.get("titles", {}).get("tier", "Proposals by tier"),
                                 [(tier_l.get(t, t), n) for t, n in data["by_tier"]], suppress_below=sb),
        "status": charts.bar_chart(labels.get("titles", {}).get("status", "Proposals by status"),
                                   [(status_l.get(s, s), n) for s, n in data["by_status"]], horizontal=True,
                                   suppress_below=sb),
        "field": charts.bar_chart(labels.get("titles", {}).get("field", "Proposals by research field"),
                                  [(f"{c} {field_l.get(c, '')}".strip(), n) for c, n in data["by_field"]],
                                  horizontal=True, height=360, suppress_below=sb),
        "listed": charts.bar_chart(labels.get("titles", {}).get("listed", "Top listed partners"),
                                   data["listed_partners"], horizontal=True, suppress_below=sb),
        "ageing": charts.bar_chart(labels.get("titles", {}).get("ageing", "Ageing of open cases"),
                                   data["ageing"], suppress_below=sb),
    }


def suppressed(value: int, suppress: bool) -> str:
    """A count as shown in a report: ``<5`` for 1–4 when suppression is on."""
    return "<5" if suppress and 0 < value < 5 else str(value)
