"""The international office's portfolio: search facets, filters, bulk import, monitoring, dashboard.

Plain functions taking a session and (where a person acts) the acting :class:`Actor`; they
flush, never commit. Views commit once; background steps run as outbox tasks
(:mod:`screening.portfolio_tasks`).

Facets: whenever a proposal is screened (submission, import, re-screen), :func:`index_screening`
rewrites its rows in ``proposal_partner``, ``proposal_field``, ``proposal_flag`` and
``proposal_screening``. Filters and aggregates read only those tables and indexed columns of
``proposal``, never JSON.
"""

import copy
import hashlib
import logging
import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.models import Institution, Membership, User
from screening.accounts.service import Actor
from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import Forbidden, NotFound, ValidationFailed
from screening.portfolio_models import (
    ImportItem,
    ImportJob,
    ProposalField,
    ProposalFlag,
    ProposalPartner,
    ProposalScreening,
    RescreenJob,
    ScreeningEvent,
)
from screening.proposals import signals as proposal_signals
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion

log = logging.getLogger(__name__)

OFFICE_ROLES = ("international_office", "institution_admin")
SEVERITIES = ("info", "low", "medium", "high", "critical")
TIERS = ("low", "medium", "high", "critical")
# Proposals a re-screen looks at: with the committee, fast-tracked or decided.
ACTIVE_STATES = (workflow.SCREENED, workflow.FAST_TRACKED, workflow.IN_REVIEW, workflow.INFORMATION_REQUESTED,
                 workflow.DECIDED)
OPEN_STATES = (workflow.SUBMITTED, workflow.SCREENED, workflow.IN_REVIEW, workflow.INFORMATION_REQUESTED,
               workflow.IMPORTED)
REOPEN_FROM = (workflow.FAST_TRACKED, workflow.DECIDED)
CHUNK = 500


def require_office(actor: Actor) -> None:
    if not actor.has(*OFFICE_ROLES):
        raise Forbidden("portfolio is for the international office")


def _deny(actor: Actor, what: str, object_id) -> NotFound:
    log.warning("access denied: user=%s institution=%s %s=%s reason=other institution",
                actor.user.id, actor.institution_id, what, object_id)
    return NotFound(f"{what} {object_id}")


def get_proposal(session: Session, actor: Actor, proposal_id: int) -> Proposal:
    require_office(actor)
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}")
    if proposal.institution_id != actor.institution_id:
        raise _deny(actor, "proposal", proposal_id)
    return proposal


# ------------------------------------------------------------------------------ facets (index)

def _severity_rank(level: str) -> int:
    return SEVERITIES.index(level) if level in SEVERITIES else 0


def flag_key(flag: dict[str, Any]) -> str:
    """Stable identity of a flag (the rule and what it is about; match scores and list versions left out)."""
    from screening.review import cases

    return cases.flag_key(flag)


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """What a re-screen compares and the certificate states, from an engine result."""
    flags = result.get("flags") or []
    keys = sorted({f"{flag_key(f)}:{f.get('severity')}" for f in flags})
    short = [{"rule": f.get("rule"), "category": f.get("category"), "severity": f.get("severity"),
              "title": str(f.get("title") or "")[:300]} for f in flags]
    listed: dict[int, str] = {}
    for f in flags:
        ev = f.get("evidence") or {}
        if isinstance(ev, dict) and ev.get("entry") and isinstance(ev.get("partner_index"), int):
            listed.setdefault(ev["partner_index"], str(ev["entry"])[:300])
    categories: dict[str, tuple[str, int]] = {}
    for f in flags:
        cat, sev = str(f.get("category")), str(f.get("severity"))
        old = categories.get(cat)
        if old is None or _severity_rank(sev) > _severity_rank(old[0]):
            categories[cat] = (sev, (old[1] if old else 0) + 1)
        else:
            categories[cat] = (old[0], old[1] + 1)
    return {"tier": result.get("tier") or "low", "flag_keys": keys, "flags": short, "listed": listed,
            "categories": categories,
            "lists": [{"name": x.get("name"), "version": x.get("version"), "entries": x.get("entries")}
                      for x in result.get("lists") or []]}


def index_screening(session: Session, proposal: Proposal, data: dict[str, Any], result: dict[str, Any],
                    version_number: int, cause: str, *, facets: bool = True,
                    batch: dict[Any, list] | None = None) -> dict[str, Any]:
    """Rewrite the proposal's facet rows and current screening from ``data`` and its ``result``.

    ``batch``: the proposal has no rows yet (an import); the rows are collected there and written
    with one multi-row INSERT per table by :func:`flush_batch`.
    """
    summary = summarise(result)
    pid, inst = proposal.id, proposal.institution_id
    if batch is not None:
        _facet_rows(batch, pid, inst, data, summary)
        batch.setdefault(ProposalScreening, []).append(
            {"proposal_id": pid, **_screening_values(inst, version_number, result, summary, cause)})
        return summary
    if facets:
        for model in (ProposalPartner, ProposalField, ProposalFlag):
            session.execute(sa.delete(model).where(model.proposal_id == pid))
        partners = [{"proposal_id": pid, "institution_id": inst, "position": i,
                     "name": str(p.get("name") or "")[:300], "country": str(p.get("country") or "")[:2],
                     "listed_entry": summary["listed"].get(i)}
                    for i, p in enumerate(data.get("partners") or [])]
        fields = [{"proposal_id": pid, "institution_id": inst, "code": str(c)[:8]}
                  for c in dict.fromkeys(data.get("research_fields") or [])]
        flags = [{"proposal_id": pid, "institution_id": inst, "category": cat[:32], "max_severity": sev,
                  "count": n} for cat, (sev, n) in summary["categories"].items()]
        for model, rows in ((ProposalPartner, partners), (ProposalField, fields), (ProposalFlag, flags)):
            if rows:
                session.execute(sa.insert(model), rows)
    row = session.get(ProposalScreening, pid)
    values = _screening_values(inst, version_number, result, summary, cause)
    if row is None:
        session.add(ProposalScreening(proposal_id=pid, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
    session.flush()
    return summary


def _screening_values(inst: int, version_number: int, result: dict, summary: dict, cause: str) -> dict:
    return {"institution_id": inst, "version_number": version_number, "screened_at": utcnow(),
            "tier": summary["tier"], "flag_keys": summary["flag_keys"], "flags": summary["flags"],
            "lists": summary["lists"], "ruleset_version": str(result.get("ruleset_version") or "")[:64],
            "ruleset_hash": result.get("ruleset_hash"), "cause": cause[:300]}


def _facet_rows(batch: dict, pid: int, inst: int, data: dict, summary: dict) -> None:
    batch.setdefault(ProposalPartner, []).extend(
        {"proposal_id": pid, "institution_id": inst, "position": i, "name": str(p.get("name") or "")[:300],
         "country": str(p.get("country") or "")[:2], "listed_entry": summary["listed"].get(i)}
        for i, p in enumerate(data.get("partners") or []))
    batch.setdefault(ProposalField, []).extend(
        {"proposal_id": pid, "institution_id": inst, "code": str(c)[:8]}
        for c in dict.fromkeys(data.get("research_fields") or []))
    batch.setdefault(ProposalFlag, []).extend(
        {"proposal_id": pid, "institution_id": inst, "category": cat[:32], "max_severity": sev, "count": n}
        for cat, (sev, n) in summary["categories"].items())


def flush_batch(session: Session, batch: dict[Any, list]) -> None:
    for model in (ProposalPartner, ProposalField, ProposalFlag, ProposalScreening):
        rows = batch.pop(model, None)
        if rows:
            session.execute(sa.insert(model), rows)


def index_version(session: Session, proposal: Proposal, version: ProposalVersion, cause: str = "submission") -> None:
    """Called by the intake after a version is frozen and screened."""
    index_screening(session, proposal, version.proposal_json, version.result_json, version.number, cause)


@proposal_signals.screened.connect
def index_submission(proposal: Proposal, *, session: Session, version: ProposalVersion) -> None:
    """A submitted version was screened: its search facets."""
    index_version(session, proposal, version)


def reindex_all(session: Session, institution_id: int | None = None, limit: int | None = None) -> int:
    """Build the facets of proposals that have a version but no current screening yet (upgrades).

    ``limit``: at most that many proposals (lowest ids first); call again until it returns 0.
    """
    latest = (select(ProposalVersion.proposal_id, sa.func.max(ProposalVersion.number).label("n"))
              .group_by(ProposalVersion.proposal_id).subquery())
    stmt = (select(Proposal, ProposalVersion)
            .join(latest, latest.c.proposal_id == Proposal.id)
            .join(ProposalVersion, sa.and_(ProposalVersion.proposal_id == Proposal.id,
                                           ProposalVersion.number == latest.c.n))
            .outerjoin(ProposalScreening, ProposalScreening.proposal_id == Proposal.id)
            .where(ProposalScreening.proposal_id.is_(None)))
    if institution_id is not None:
        stmt = stmt.where(Proposal.institution_id == institution_id)
    if limit is not None:
        stmt = stmt.order_by(Proposal.id).limit(limit)
    count = 0
    for proposal, version in session.exec(stmt).all():
        index_version(session, proposal, version, cause="index")
        count += 1
    return count


# ------------------------------------------------------------------------------ filters

SORTS = {
    "newest": (Proposal.created_at.desc(), Proposal.id.desc()),
    "oldest": (Proposal.created_at.asc(), Proposal.id.asc()),
    "title": (Proposal.title.asc(), Proposal.id.asc()),
    "tier": (sa.case({"critical": 0, "high": 1, "medium": 2, "low": 3}, value=Proposal.tier, else_=4),
             Proposal.created_at.desc(), Proposal.id.desc()),
    "status": (Proposal.status.asc(), Proposal.id.desc()),
    "updated": (Proposal.updated_at.desc(), Proposal.id.desc()),
}
FILTER_KEYS = ("q", "country", "partner", "tier", "status", "category", "field", "committee", "listed",
               "date_from", "date_to", "sort")
PER_PAGE = 50


@dataclass
class Filters:
    q: str = ""
    country: str = ""
    partner: str = ""
    tier: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    category: str = ""
    field: str = ""
    committee: int | None = None
    listed: bool = False
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "newest"

    def query_args(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs (the saved-filter link)."""
        out: list[tuple[str, str]] = []
        for key in ("q", "country", "partner", "category", "field"):
            if getattr(self, key):
                out.append((key, getattr(self, key)))
        out += [("tier", t) for t in self.tier] + [("status", s) for s in self.status]
        if self.committee is not None:
            out.append(("committee", str(self.committee)))
        if self.listed:
            out.append(("listed", "1"))
        if self.date_from:
            out.append(("date_from", self.date_from.isoformat()))
        if self.date_to:
            out.append(("date_to", self.date_to.isoformat()))
        if self.sort != "newest":
            out.append(("sort", self.sort))
        return out

    @property
    def active(self) -> bool:
        return any(k != "sort" for k, _ in self.query_args())


def _text_arg(value: str | None, name: str, limit: int, errors: dict[str, str]) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        errors[name] = f"at most {limit} characters"
        return ""
    if any(ord(ch) < 32 for ch in value):
        errors[name] = "control characters are not allowed"
        return ""
    return value


def _date_arg(value: str | None, name: str, errors: dict[str, str]) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        errors[name] = "a date as YYYY-MM-DD"
        return None
    if not 1990 <= parsed.year <= 2200:
        errors[name] = "a date between 1990 and 2200"
        return None
    return parsed


def parse_filters(args) -> Filters:
    """Filters from the query string (a ``MultiDict``); raises ValidationFailed on bad values."""
    errors: dict[str, str] = {}
    f = Filters()
    f.q = _text_arg(args.get("q"), "q", 200, errors)
    f.partner = _text_arg(args.get("partner"), "partner", 200, errors)
    country = _text_arg(args.get("country"), "country", 2, errors).upper()
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        errors["country"] = "an ISO 3166-1 alpha-2 code"
    f.country = country if "country" not in errors else ""
    f.tier = [t for t in args.getlist("tier") if t]
    if any(t not in TIERS for t in f.tier):
        errors["tier"] = "unknown tier"
    f.status = [s for s in args.getlist("status") if s]
    if any(s not in workflow.STATES for s in f.status):
        errors["status"] = "unknown status"
    f.category = _text_arg(args.get("category"), "category", 32, errors)
    if f.category and not f.category.replace("_", "").isalpha():
        errors["category"] = "unknown category"
    f.field = _text_arg(args.get("field"), "field", 8, errors)
    if f.field and not all(part.isdigit() for part in f.field.split(".")):
        errors["field"] = "an OECD FORD code such as 2.2"
    committee = (args.get("committee") or "").strip()
    if committee:
        if not committee.isdigit() or len(committee) > 9:
            errors["committee"] = "unknown committee"
        else:
            f.committee = int(committee)
    f.listed = (args.get("listed") or "") in ("1", "on", "true", "yes")
    f.date_from = _date_arg(args.get("date_from"), "date_from", errors)
    f.date_to = _date_arg(args.get("date_to"), "date_to", errors)
    sort = (args.get("sort") or "newest").strip()
    if sort not in SORTS:
        errors["sort"] = "unknown sort order"
    else:
        f.sort = sort
    if errors:
        raise ValidationFailed(errors)
    return f


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filtered(institution_id: int, f: Filters):
    """WHERE conditions on ``proposal`` for the filters (EXISTS on the facet tables)."""
    conds: list[Any] = [Proposal.institution_id == institution_id]
    if f.tier:
        conds.append(Proposal.tier.in_(f.tier))
    if f.status:
        conds.append(Proposal.status.in_(f.status))
    else:
        conds.append(Proposal.status != workflow.DRAFT)  # drafts are the researcher's own business
    if f.date_from:
        conds.append(Proposal.created_at >= datetime.combine(f.date_from, time.min, tzinfo=_utc()))
    if f.date_to:
        conds.append(Proposal.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min, tzinfo=_utc()))
    pp = ProposalPartner

    def partner_exists(*where):
        return sa.exists().where(pp.proposal_id == Proposal.id, pp.institution_id == institution_id, *where)

    if f.country:
        conds.append(partner_exists(pp.country == f.country))
    if f.partner:
        conds.append(partner_exists(pp.name.ilike(_like(f.partner), escape="\\")))
    if f.listed:
        conds.append(partner_exists(pp.listed_entry.is_not(None)))
    if f.category:
        conds.append(sa.exists().where(ProposalFlag.proposal_id == Proposal.id,
                                       ProposalFlag.institution_id == institution_id,
                                       ProposalFlag.category == f.category,
                                       ProposalFlag.max_severity != "info"))
    if f.field:
        conds.append(sa.exists().where(
            ProposalField.proposal_id == Proposal.id, ProposalField.institution_id == institution_id,
            sa.or_(ProposalField.code == f.field, ProposalField.code.like(f.field + ".%"))))
    if f.committee is not None:
        from screening.review.models import ReviewCase

        conds.append(sa.exists().where(ReviewCase.proposal_id == Proposal.id,
                                       ReviewCase.committee_id == f.committee,
                                       ReviewCase.institution_id == institution_id))
    if f.q:
        pattern = _like(f.q)
        conds.append(sa.or_(Proposal.title.ilike(pattern, escape="\\"),
                            partner_exists(pp.name.ilike(pattern, escape="\\"))))
    return conds


def _utc():
    from datetime import UTC

    return UTC


@dataclass
class PortfolioRow:
    id: int
    title: str
    status: str
    tier: str | None
    created_at: datetime
    partners: list[tuple[str, str, str | None]]  # (name, country, listed entry)
    categories: list[tuple[str, str]]  # (category, max severity)


@dataclass
class PortfolioPage:
    rows: list[PortfolioRow]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(session: Session, actor: Actor, f: Filters, page: int = 1, per_page: int = PER_PAGE) -> PortfolioPage:
    """One page of the institution's proposals (offset pagination, at most 2,000 pages)."""
    require_office(actor)
    page = max(1, min(page, 2000))
    conds = _filtered(actor.institution_id, f)
    total = session.execute(select(sa.func.count()).select_from(Proposal).where(*conds)).scalar_one()
    stmt = (select(Proposal.id, Proposal.title, Proposal.status, Proposal.tier, Proposal.created_at)
            .where(*conds).order_by(*SORTS[f.sort]).offset((page - 1) * per_page).limit(per_page))
    return PortfolioPage(_rows(session, session.execute(stmt).all()), page, per_page, total)


def _rows(session: Session, base) -> list[PortfolioRow]:
    """Rows of ``proposal`` (id, title, status, tier, created_at) with their partners and flag
    categories: two more queries for the whole page, never one per row."""
    ids = [r.id for r in base]
    partners: dict[int, list] = defaultdict(list)
    cats: dict[int, list] = defaultdict(list)
    if ids:
        for r in session.execute(select(ProposalPartner.proposal_id, ProposalPartner.name, ProposalPartner.country,
                                        ProposalPartner.listed_entry)
                                 .where(ProposalPartner.proposal_id.in_(ids))
                                 .order_by(ProposalPartner.proposal_id, ProposalPartner.position)):
            partners[r.proposal_id].append((r.name, r.country, r.listed_entry))
        for r in session.execute(select(ProposalFlag.proposal_id, ProposalFlag.category, ProposalFlag.max_severity)
                                 .where(ProposalFlag.proposal_id.in_(ids)).order_by(ProposalFlag.category)):
            cats[r.proposal_id].append((r.category, r.max_severity))
    return [PortfolioRow(r.id, r.title, r.status, r.tier, r.created_at, partners[r.id], cats[r.id]) for r in base]


# Keyset pagination (the API): each sort order as (expression, descending) pairs ending in the id,
# so that a walk is stable while proposals are added.
_TIER_RANK = sa.case({"critical": 0, "high": 1, "medium": 2, "low": 3}, value=Proposal.tier, else_=4)
KEYSETS: dict[str, tuple[tuple[Any, bool], ...]] = {
    "newest": ((Proposal.created_at, True), (Proposal.id, True)),
    "oldest": ((Proposal.created_at, False), (Proposal.id, False)),
    "title": ((Proposal.title, False), (Proposal.id, False)),
    "tier": ((_TIER_RANK, False), (Proposal.created_at, True), (Proposal.id, True)),
    "status": ((Proposal.status, False), (Proposal.id, True)),
    "updated": ((Proposal.updated_at, True), (Proposal.id, True)),
}


def search_after(session: Session, actor: Actor, f: Filters, after: list | None,
                 limit: int) -> tuple[list[PortfolioRow], list | None, int]:
    """One keyset page: rows after the sort key ``after`` (None: the first page).

    Returns (rows, the sort key of the last row when more rows follow else None, total matching).
    """
    require_office(actor)
    keys = KEYSETS[f.sort]
    conds = _filtered(actor.institution_id, f)
    total = session.execute(select(sa.func.count()).select_from(Proposal).where(*conds)).scalar_one()
    if after is not None:
        if len(after) != len(keys):
            raise ValidationFailed({"cursor": "invalid cursor"})
        branches = []
        for i, (expr, desc) in enumerate(keys):
            equal = [k == v for (k, _d), v in zip(keys[:i], after[:i], strict=True)]
            branches.append(sa.and_(*equal, expr < after[i] if desc else expr > after[i]))
        conds.append(sa.or_(*branches))
    labelled = [expr.label(f"k{i}") for i, (expr, _desc) in enumerate(keys)]
    stmt = (select(Proposal.id, Proposal.title, Proposal.status, Proposal.tier, Proposal.created_at, *labelled)
            .where(*conds).order_by(*[expr.desc() if desc else expr.asc() for expr, desc in keys])
            .limit(limit + 1))
    base = session.execute(stmt).all()
    more = len(base) > limit
    base = base[:limit]
    last = [getattr(base[-1], f"k{i}") for i in range(len(keys))] if more and base else None
    return _rows(session, base), last, total


EXPORT_COLUMNS = ("id", "title", "status", "tier", "created_at", "partners", "partner_countries",
                  "listed_partners", "flag_categories", "research_fields")


def export_rows(session: Session, actor: Actor, f: Filters, batch: int = 1000):
    """Every row of the filtered view, for CSV/XLSX (yields in batches: memory stays bounded)."""
    require_office(actor)
    conds = _filtered(actor.institution_id, f)
    order = SORTS[f.sort]
    offset = 0
    while True:
        base = session.execute(select(Proposal.id, Proposal.title, Proposal.status, Proposal.tier,
                                      Proposal.created_at).where(*conds).order_by(*order)
                               .offset(offset).limit(batch)).all()
        if not base:
            return
        offset += len(base)
        ids = [r.id for r in base]
        partners: dict[int, list] = defaultdict(list)
        for r in session.execute(select(ProposalPartner.proposal_id, ProposalPartner.name, ProposalPartner.country,
                                        ProposalPartner.listed_entry)
                                 .where(ProposalPartner.proposal_id.in_(ids))
                                 .order_by(ProposalPartner.proposal_id, ProposalPartner.position)):
            partners[r.proposal_id].append(r)
        cats: dict[int, list] = defaultdict(list)
        for r in session.execute(select(ProposalFlag.proposal_id, ProposalFlag.category, ProposalFlag.max_severity)
                                 .where(ProposalFlag.proposal_id.in_(ids)).order_by(ProposalFlag.category)):
            cats[r.proposal_id].append(f"{r.category}:{r.max_severity}")
        fields: dict[int, list] = defaultdict(list)
        for r in session.execute(select(ProposalField.proposal_id, ProposalField.code)
                                 .where(ProposalField.proposal_id.in_(ids)).order_by(ProposalField.id)):
            fields[r.proposal_id].append(r.code)
        for r in base:
            ps = partners[r.id]
            yield (r.id, r.title, r.status, r.tier or "", r.created_at,
                   "; ".join(p.name for p in ps), "; ".join(dict.fromkeys(p.country for p in ps)),
                   "; ".join(p.listed_entry for p in ps if p.listed_entry), "; ".join(cats[r.id]),
                   "; ".join(fields[r.id]))
        if len(base) < batch:
            return


def filter_choices(session: Session, actor: Actor) -> dict[str, Any]:
    """Values for the filter form's drop-downs (countries, categories, committees of the institution)."""
    # Fixed lists: a DISTINCT over the facet tables would cost a scan on every page view.
    inst = actor.institution_id
    from screening.core.countries import ISO_CODES
    from screening.core.i18n import CATEGORY_ORDER

    countries = sorted(ISO_CODES)
    categories = list(CATEGORY_ORDER)
    committees = []
    try:
        from screening.review.models import Committee

        committees = [(c.id, c.name) for c in session.exec(
            select(Committee).where(Committee.institution_id == inst).order_by(Committee.name)).all()]
    except ImportError:  # pragma: no cover - review tables not there
        pass
    return {"countries": countries, "categories": categories, "committees": committees}


# ------------------------------------------------------------------------------ dashboard

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
    """One grouped query per chart; nothing but the grouped counts is loaded into Python.

    Tier, status, total and the ageing of open cases come from a single pass over the
    institution's proposals (grouped by tier, status and age bucket).
    """
    now = now or utcnow()
    base = [Proposal.institution_id == inst, Proposal.status != workflow.DRAFT]
    tier = sa.func.coalesce(Proposal.tier, sa.literal_column("'pending'"))
    limits = [days for days, _label in AGEING_BUCKETS if days is not None]
    bucket = sa.case((Proposal.status.not_in(OPEN_STATES), sa.literal(-1)),
                     *[(Proposal.created_at > now - timedelta(days=days), sa.literal(i))
                       for i, days in enumerate(limits)], else_=sa.literal(len(limits))).label("age_bucket")
    by_tier: Counter = Counter()
    by_status: Counter = Counter()
    ageing_n: Counter = Counter()
    grouped = (select(tier, Proposal.status, bucket, sa.func.count()).where(*base)
               .group_by(tier, Proposal.status, sa.literal_column("age_bucket")))
    for t, status, b, n in session.execute(grouped).all():
        by_tier[t] += n
        by_status[status] += n
        if b is not None and b >= 0:
            ageing_n[int(b)] += n
    total = sum(by_status.values())
    # Facet rows exist only for screened proposals, never for drafts (nothing goes back to draft):
    # the charts below read the facet tables' covering indexes and join ``proposal`` only for the tier.
    pp = ProposalPartner
    # (proposal, country) pairs first, then a plain count: a hash aggregate, no sort for DISTINCT.
    pairs = select(pp.proposal_id, pp.country).where(pp.institution_id == inst).distinct().subquery()
    country_tier = session.execute(
        select(pairs.c.country, Proposal.tier, sa.func.count())
        .join(Proposal, Proposal.id == pairs.c.proposal_id)
        .where(Proposal.institution_id == inst)
        .group_by(pairs.c.country, Proposal.tier)).all()
    per_country: dict[str, Counter] = defaultdict(Counter)
    for country, t, n in country_tier:
        per_country[country][t or "pending"] += n
    top_countries = sorted(per_country, key=lambda c: (-sum(per_country[c].values()), c))[:12]
    by_field = session.execute(
        select(ProposalField.code, sa.func.count())
        .where(ProposalField.institution_id == inst)
        .group_by(ProposalField.code).order_by(sa.func.count().desc(), ProposalField.code).limit(12)).all()
    listed = session.execute(
        select(pp.listed_entry, sa.func.count(sa.distinct(pp.proposal_id)))
        .where(pp.institution_id == inst, pp.listed_entry.is_not(None))
        .group_by(pp.listed_entry).order_by(sa.func.count(sa.distinct(pp.proposal_id)).desc(), pp.listed_entry)
        .limit(10)).all()
    # Ageing of open cases (by the date the proposal was filed).
    ageing = [(label, ageing_n.get(i, 0)) for i, (_days, label) in enumerate(AGEING_BUCKETS)]
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
        "by_field": [(code, n) for code, n in by_field],
        "listed_partners": [(name, n) for name, n in listed],
        "ageing": ageing,
        "decisions": decisions,
        "conditions": conditions,
        "durations": durations,
    }


def _decisions(session: Session, inst: int):
    try:
        from screening.review.models import Committee, Decision, ReviewCase
    except ImportError:  # pragma: no cover
        return [], [], []
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
            submitted = submitted.replace(tzinfo=_utc())
        if decided.tzinfo is None:
            decided = decided.replace(tzinfo=_utc())
        per[name].append((decided - submitted).total_seconds() / 86400)
    durations = [(name, len(v), statistics.median(v), _percentile(v, 0.9)) for name, v in sorted(per.items())]
    return list(decisions), conditions.most_common(10), durations


def chart_svgs(data: dict[str, Any], suppress: bool, labels: dict[str, dict[str, str]] | None = None
               ) -> dict[str, str]:
    """The dashboard's charts as SVG strings (``screening.portfolio.charts``)."""
    from screening.portfolio import charts

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


# ------------------------------------------------------------------------------ bulk import

def office_users(session: Session, institution_id: int) -> list[User]:
    return list(session.exec(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.institution_id == institution_id, Membership.role == "international_office",
               User.is_active.is_(True)).order_by(User.id)).all())


def owner_choices(session: Session, actor: Actor) -> list[User]:
    """Who may own imported collaborations: the importing user and the institution's researchers."""
    researchers = session.exec(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.institution_id == actor.institution_id, Membership.role == "researcher",
               User.is_active.is_(True)).order_by(User.name).limit(500)).all()
    return [actor.user, *[u for u in researchers if u.id != actor.user.id]]


def start_import(session: Session, actor: Actor, filename: str, proposals: list[tuple[int, dict]],
                 owner_id: int | None = None, skipped_rows: int = 0) -> ImportJob:
    """Store validated rows as proposals (status ``imported``) and a job that screens them.

    ``proposals`` are (spreadsheet row, contract proposal) pairs already checked by
    ``parse_upload``. The screening runs in the background (outbox task ``portfolio.import``).
    """
    require_office(actor)
    if not proposals:
        raise ValidationFailed({"file": "nothing to import"})
    owner_id = owner_id or actor.user.id
    if owner_id != actor.user.id and owner_id not in {u.id for u in owner_choices(session, actor)}:
        raise ValidationFailed({"owner": "choose a researcher of your institution"})
    job = ImportJob(institution_id=actor.institution_id, created_by_id=actor.user.id, owner_id=owner_id,
                    filename=filename[:255], total=len(proposals), skipped_rows=skipped_rows)
    session.add(job)
    session.flush()
    now = utcnow()
    rows = [{"institution_id": actor.institution_id, "owner_id": owner_id, "title": str(p["title"])[:300],
             "status": workflow.IMPORTED, "data": copy.deepcopy(p), "creation_token": f"import-{job.id}-{n}",
             "created_at": now, "updated_at": now} for n, p in proposals]
    ids = []
    for start in range(0, len(rows), 1000):
        part = rows[start:start + 1000]
        ids += list(session.execute(sa.insert(Proposal).returning(Proposal.id, sort_by_parameter_order=True),
                                    part).scalars())
    session.execute(sa.insert(ImportItem), [
        {"job_id": job.id, "proposal_id": pid, "row_number": n, "reference": (p.get("reference") or None)}
        for pid, (n, p) in zip(ids, proposals, strict=True)])
    audit.record(session, actor.user, "portfolio.import_started", "import_job", job.id, actor.institution_id,
                 {"filename": job.filename, "rows": len(proposals), "skipped_rows": skipped_rows,
                  "owner_id": owner_id, "first_proposal": ids[0], "last_proposal": ids[-1]})
    from screening.core import outbox

    outbox.enqueue(session, "portfolio.import", {"job_id": job.id})
    return job


def get_import(session: Session, actor: Actor, job_id: int) -> ImportJob:
    require_office(actor)
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"import {job_id}")
    if job.institution_id != actor.institution_id:
        raise _deny(actor, "import", job_id)
    return job


def run_import_chunk(session: Session, job_id: int, screener, chunk: int = CHUNK) -> bool:
    """Screen the next chunk of an import; returns True when items remain. Idempotent by cursor."""
    from screening.review import routing

    job = session.get(ImportJob, job_id)
    if job is None or job.status in ("done", "failed"):
        return False
    job.status = "running"
    items = session.execute(select(ImportItem.id, ImportItem.proposal_id).where(
        ImportItem.job_id == job.id, ImportItem.id > job.last_item_id).order_by(ImportItem.id).limit(chunk)).all()
    user = session.get(User, job.created_by_id)
    proposals = {p.id: p for p in session.exec(select(Proposal).where(
        Proposal.id.in_([i.proposal_id for i in items]))).all()} if items else {}
    batch: dict[Any, list] = {}
    for item in items:
        proposal = proposals.get(item.proposal_id)
        if proposal is not None and proposal.status == workflow.IMPORTED:
            data = copy.deepcopy(dict(proposal.data))
            result = screener.screen(data, language="en")
            version = ProposalVersion(
                proposal_id=proposal.id, institution_id=proposal.institution_id, number=1,
                submission_token=f"import-{job.id}-{proposal.id}-{uuid.uuid4().hex[:8]}", submitted_by_id=user.id,
                proposal_json=data, result_json=result, language="en", tier=result["tier"], route=result["route"],
                ruleset_version=str(result.get("ruleset_version", "")), ruleset_hash=result.get("ruleset_hash"),
                lists_json=list(result.get("lists", [])))
            session.add(version)
            proposal.tier, proposal.route = version.tier, version.route
            workflow.transition(session, proposal, workflow.SCREENED, user,
                                {"version": 1, "tier": version.tier, "route": version.route, "import_job": job.id},
                                as_system=True)
            nxt = workflow.FAST_TRACKED if version.route == "fast_track" else workflow.IN_REVIEW
            workflow.transition(session, proposal, nxt, user, {"version": 1}, as_system=True)
            routing.open_case(session, user, proposal, version)
            index_screening(session, proposal, data, result, 1, f"import {job.id}", batch=batch)
        job.last_item_id = item.id
        job.done += 1
    flush_batch(session, batch)
    more = len(items) == chunk
    if not more:
        job.status = "done"
        job.finished_at = utcnow()
        job.summary = import_summary(session, job)
        audit.record(session, user, "portfolio.import_screened", "import_job", job.id, job.institution_id,
                     {"tiers": job.summary.get("tiers")})
    session.add(job)
    session.flush()
    return more


def import_summary(session: Session, job: ImportJob) -> dict[str, Any]:
    in_job = select(ImportItem.proposal_id).where(ImportItem.job_id == job.id)
    tiers = dict(session.execute(select(Proposal.tier, sa.func.count()).where(Proposal.id.in_(in_job))
                                 .group_by(Proposal.tier)).all())
    listed = session.execute(
        select(ProposalPartner.listed_entry, sa.func.count(sa.distinct(ProposalPartner.proposal_id)))
        .where(ProposalPartner.proposal_id.in_(in_job), ProposalPartner.listed_entry.is_not(None))
        .group_by(ProposalPartner.listed_entry)
        .order_by(sa.func.count(sa.distinct(ProposalPartner.proposal_id)).desc(), ProposalPartner.listed_entry)
        .limit(25)).all()
    return {"tiers": {t: tiers.get(t, 0) for t in TIERS},
            "listed_partners": [[name, n] for name, n in listed]}


# ------------------------------------------------------------------------------ monitoring

def fingerprint(screener) -> str:
    lists = screener.list_summaries
    raw = repr((screener.ruleset.hash, sorted((x["name"], x["version"], x["entries"]) for x in lists)))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _lists_of(screener) -> list[dict[str, Any]]:
    return [dict(summary) for summary in screener.list_summaries] + \
        [{"name": "ruleset", "version": str(screener.ruleset.version), "hash": str(screener.ruleset.hash)}]


def list_changes() -> list[tuple[Any, Any]]:
    """Each list in use with what its current version changed (added, removed, changed entries)."""
    from rules.lists import ListError, stored_diff
    from screening.core.engine import get_screener

    changes = []
    for partner_list in get_screener().lists:
        try:
            changes.append((partner_list, stored_diff(partner_list)))
        except ListError:
            changes.append((partner_list, None))
    return changes


def describe_change(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """``list canada-named-research-organizations 2026-12-01`` (and/or the rule set) from two list summaries."""
    old = {x["name"]: x for x in before}
    parts = []
    for item in after:
        prev = old.get(item["name"])
        if item["name"] == "ruleset":
            if prev is None or prev.get("hash") != item.get("hash"):
                parts.append(f"rule set {item['version']}")
        elif prev is None or prev.get("version") != item.get("version") or prev.get("entries") != item.get("entries"):
            parts.append(f"list {item['name']} {item['version']}")
    return ", ".join(parts) or "periodic re-screen"


def check_for_changes(session: Session, screener_factory, current_screener, actor: User | None = None,
                      force: bool = False) -> RescreenJob | None:
    """Start a re-screen when the rule set or a list version differs from the last one screened against.

    ``screener_factory()`` builds a fresh screener from disk; ``current_screener`` is what this
    process has been screening with (the baseline when no re-screen ever ran). Returns the new
    job (its first chunk is enqueued) or None when nothing changed.
    """
    fresh = screener_factory()
    fp = fingerprint(fresh)
    last = session.exec(select(RescreenJob).order_by(RescreenJob.id.desc()).limit(1)).first()
    if last is None:
        before_lists, before_fp = _lists_of(current_screener), fingerprint(current_screener)
    else:
        before_lists, before_fp = last.lists, last.fingerprint
    if fp == before_fp and not force:
        if last is None:  # record the baseline, so that a later list version is noticed by every process
            session.add(RescreenJob(cause="baseline", fingerprint=fp, lists=_lists_of(fresh), status="done",
                                    finished_at=utcnow()))
            session.flush()
        return None
    if last is not None and last.status in ("pending", "running") and last.fingerprint == fp:
        return last
    cause = describe_change(before_lists, _lists_of(fresh)) if fp != before_fp else "periodic re-screen"
    total = session.execute(select(sa.func.count()).select_from(Proposal)
                            .where(Proposal.status.in_(ACTIVE_STATES))).scalar_one()
    job = RescreenJob(cause=cause[:300], fingerprint=fp, lists=_lists_of(fresh), total=total,
                      started_by_id=actor.id if actor else None)
    session.add(job)
    session.flush()
    audit.record(session, actor, "portfolio.rescreen_started", "rescreen_job", job.id, None,
                 {"cause": job.cause, "proposals": total})
    from screening.core import outbox

    outbox.enqueue(session, "portfolio.rescreen", {"job_id": job.id})
    return job


def _before_summary(session: Session, proposal: Proposal, version: ProposalVersion,
                    current: ProposalScreening | None) -> tuple[str, list[str], list[dict]]:
    if current is not None:
        return current.tier, list(current.flag_keys), list(current.flags)
    s = summarise(version.result_json)
    return s["tier"], s["flag_keys"], s["flags"]


def run_rescreen_chunk(session: Session, job_id: int, screener, chunk: int = CHUNK) -> bool:
    """Re-screen the next chunk of active and decided proposals (ids above the cursor)."""
    job = session.get(RescreenJob, job_id)
    if job is None or job.status in ("done", "failed"):
        return False
    if fingerprint(screener) != job.fingerprint:
        job.status, job.finished_at = "failed", utcnow()
        session.add(job)
        session.flush()
        log.warning("re-screen %s abandoned: the lists changed again; the next check starts a new one", job_id)
        return False
    job.status = "running"
    proposals = session.exec(select(Proposal).where(Proposal.status.in_(ACTIVE_STATES), Proposal.id > job.last_id)
                             .order_by(Proposal.id).limit(chunk)).all()
    ids = [p.id for p in proposals]
    versions: dict[int, ProposalVersion] = {}
    current: dict[int, ProposalScreening] = {}
    if ids:
        latest = (select(ProposalVersion.proposal_id, sa.func.max(ProposalVersion.number).label("n"))
                  .where(ProposalVersion.proposal_id.in_(ids)).group_by(ProposalVersion.proposal_id).subquery())
        for v in session.exec(select(ProposalVersion).join(latest, sa.and_(
                latest.c.proposal_id == ProposalVersion.proposal_id, latest.c.n == ProposalVersion.number))).all():
            versions[v.proposal_id] = v
        current = {s.proposal_id: s for s in session.exec(
            select(ProposalScreening).where(ProposalScreening.proposal_id.in_(ids))).all()}
    unchanged: list[int] = []
    for proposal in proposals:
        version = versions.get(proposal.id)
        if version is None:
            continue
        before_tier, before_keys, before_flags = _before_summary(session, proposal, version,
                                                                 current.get(proposal.id))
        data = copy.deepcopy(dict(version.proposal_json))
        try:
            result = screener.screen(data, language=version.language if version.language in ("en", "de") else "en")
        except Exception:  # a proposal the current rules cannot read: leave it, say so
            log.exception("re-screen %s: proposal %s could not be screened", job.id, proposal.id)
            continue
        after = summarise(result)
        if after["tier"] == before_tier and after["flag_keys"] == before_keys:
            unchanged.append(proposal.id)
            if proposal.id not in current:
                index_screening(session, proposal, data, result, version.number, job.cause)
            continue
        _record_change(session, job, proposal, version, data, result, after, before_tier, before_flags)
    if unchanged:
        session.execute(sa.update(ProposalScreening).where(ProposalScreening.proposal_id.in_(unchanged))
                        .values(screened_at=utcnow(), lists=[{k: v for k, v in x.items()} for x in
                                                             job.lists if x["name"] != "ruleset"],
                                cause=job.cause).execution_options(synchronize_session=False))
    job.done += len(proposals)
    if proposals:
        job.last_id = proposals[-1].id
    more = len(proposals) == chunk
    if not more:
        job.status, job.finished_at = "done", utcnow()
        _notify_offices(session, job)
    session.add(job)
    session.flush()
    return more


def _record_change(session, job, proposal, version, data, result, after, before_tier, before_flags) -> None:
    rose = TIERS.index(after["tier"]) > TIERS.index(before_tier) if before_tier in TIERS else False
    event = ScreeningEvent(proposal_id=proposal.id, institution_id=proposal.institution_id, job_id=job.id,
                           before_tier=before_tier, after_tier=after["tier"], before_flags=before_flags,
                           after_flags=after["flags"], cause=job.cause, tier_rose=rose)
    index_screening(session, proposal, data, result, version.number, job.cause)
    proposal.tier = after["tier"]
    proposal.route = result.get("route") or proposal.route
    session.add(proposal)
    audit.record(session, None, "proposal.rescreened", "proposal", proposal.id, proposal.institution_id,
                 {"job": job.id, "cause": job.cause, "before": before_tier, "after": after["tier"]})
    if rose and proposal.status in REOPEN_FROM:
        reopen_for_committee(session, proposal, job.cause)
        event.reopened = True
    session.add(event)
    job.changed += 1


def reopen_for_committee(session: Session, proposal: Proposal, cause: str) -> None:
    """A re-screen raised the tier of a fast-tracked or decided case: back to its committee."""
    workflow.transition(session, proposal, workflow.IN_REVIEW, None,
                        {"reason": f"re-screen: {cause}"[:300]}, as_system=True)
    try:
        from screening.review.models import Committee, ReviewCase
    except ImportError:  # pragma: no cover
        return
    case = session.exec(select(ReviewCase).where(ReviewCase.proposal_id == proposal.id)).first()
    if case is None:
        return
    committee = session.get(Committee, case.committee_id)
    now = utcnow()
    session.execute(sa.update(ReviewCase).where(ReviewCase.id == case.id)
                    .values(version=ReviewCase.version + 1, opened_at=now,
                            due_at=now + timedelta(days=committee.due_days if committee else 30),
                            overdue_notified_at=None).execution_options(synchronize_session=False))
    session.expire(case)
    audit.record(session, None, "case.reopened", "review_case", case.id, case.institution_id,
                 {"reason": f"re-screen: {cause}"[:300], "automatic": True})


def _notify_offices(session: Session, job: RescreenJob) -> None:
    from screening.notifications.service import notify

    per_inst = session.execute(
        select(ScreeningEvent.institution_id, sa.func.count(),
               sa.func.sum(sa.case((ScreeningEvent.tier_rose.is_(True), 1), else_=0)),
               sa.func.sum(sa.case((ScreeningEvent.reopened.is_(True), 1), else_=0)))
        .where(ScreeningEvent.job_id == job.id).group_by(ScreeningEvent.institution_id)).all()
    for inst_id, changed, rose, reopened in per_inst:
        recipients = office_users(session, inst_id)
        if not recipients:
            continue
        institution = session.get(Institution, inst_id)
        notify(session, "list_match_changed", recipients=recipients,
                             context={"cause": job.cause, "changed": int(changed), "tier_rose": int(rose or 0),
                                      "reopened": int(reopened or 0), "institution_name": institution.name})


def latest_change_job(session: Session) -> RescreenJob | None:
    """The most recent re-screen that was not just a baseline."""
    return session.exec(select(RescreenJob).where(RescreenJob.cause != "baseline")
                        .order_by(RescreenJob.id.desc()).limit(1)).first()


def changes(session: Session, actor: Actor, job: RescreenJob | None,
            limit: int = 500) -> list[tuple[ScreeningEvent, Proposal]]:
    require_office(actor)
    if job is None:
        return []
    return list(session.execute(
        select(ScreeningEvent, Proposal).join(Proposal, Proposal.id == ScreeningEvent.proposal_id)
        .where(ScreeningEvent.job_id == job.id, ScreeningEvent.institution_id == actor.institution_id)
        .order_by(ScreeningEvent.tier_rose.desc(), ScreeningEvent.id).limit(limit)).all())


def get_rescreen(session: Session, actor: Actor, job_id: int) -> RescreenJob:
    require_office(actor)
    job = session.get(RescreenJob, job_id)
    if job is None:
        raise NotFound(f"re-screen {job_id}")
    return job


def current_screening(session: Session, proposal: Proposal) -> ProposalScreening | None:
    row = session.get(ProposalScreening, proposal.id)
    if row is not None:
        return row
    version = session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)
                           .order_by(ProposalVersion.number.desc()).limit(1)).first()
    if version is None:
        return None
    s = summarise(version.result_json)
    return ProposalScreening(proposal_id=proposal.id, institution_id=proposal.institution_id,
                             version_number=version.number, screened_at=version.submitted_at, tier=s["tier"],
                             flag_keys=s["flag_keys"], flags=s["flags"], lists=s["lists"],
                             ruleset_version=version.ruleset_version, ruleset_hash=version.ruleset_hash,
                             cause="submission")
