"""The portfolio list: filters from the query string, pages, keyset walks for the API, exports.

Plain functions taking a session and the acting :class:`Actor`; they read only.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, select

from screening.accounts.service import Actor
from screening.core.countries import ISO_CODES
from screening.core.errors import ValidationFailed
from screening.core.i18n import CATEGORY_ORDER
from screening.portfolio import counts
from screening.portfolio.index import TIERS
from screening.portfolio.models import PartnerName, ProposalField, ProposalFlag, ProposalPartner, ProposalText
from screening.portfolio.office import require_office
from screening.proposals import workflow
from screening.proposals.models import Proposal
from screening.review.models import Committee, ReviewCase

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
# The list counts at most this many matches of a filter the stored counts cannot answer.
COUNT_LIMIT = 1_000


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


# A search term is a run of letters and digits (any script); at most this many count.
_TERM = re.compile(r"[^\W_]+")
MAX_TERMS = 8


def search_terms(q: str) -> list[str]:
    """The words of a free-text query, lower-cased, without repeats."""
    return list(dict.fromkeys(t.lower() for t in _TERM.findall(q)))[:MAX_TERMS]


def _tsquery(config: str, text: str, prefix: bool = False):
    # The configuration as a constant in the SQL: a bound string would not resolve to a regconfig.
    function = sa.func.to_tsquery if prefix else sa.func.plainto_tsquery
    return function(sa.literal_column(f"'{config}'"), text + ":*" if prefix else text)


def _text_match(dialect: str, terms: list[str]):
    """Condition on ``proposal_text``: the title, partners, keywords or abstract contain every term,
    as a word or the start of one; on PostgreSQL also by its English or German stem, on SQLite by
    its Porter stem."""
    if dialect == "postgresql":
        query = None
        for term in terms:
            either = (_tsquery("simple", term, prefix=True).op("||")(_tsquery("english", term))
                      .op("||")(_tsquery("german", term)))
            query = either if query is None else query.op("&&")(either)
        return ProposalText.words.op("@@")(query)
    fts = sa.table("search_proposal_text", sa.column("rowid"))
    return ProposalText.proposal_id.in_(select(fts.c.rowid).where(sa.text("search_proposal_text MATCH :words")
                                                                  .bindparams(words=" AND ".join(f'"{term}"*'
                                                                                                 for term in terms))))


# How the list finds the proposals matching a free-text query. A word in at least 1 % of the newest
# proposals (20 of a sample of 2,000) is common: walking the newest proposals meets a page of
# matches soon, while the full-text index would have to list them all. A rarer word is looked up in
# the full-text index: up to 5,000 ids are sorted directly. (The planner's own guess of a word's
# frequency is poor, in both directions: 20 s at 1,000,000 proposals for a rare word walked.)
# The newest 250 are looked at first (the glance): a word with a page of matches among them (one
# text in five or more) is common without reading the other 1,750 texts of the sample, and a word
# with none is most likely rare, so the index is asked at once (a word in 1 % of the texts is
# missed by the glance one time in twelve; if it is not rare after all, the index says so).
TEXT_SAMPLE, TEXT_COMMON_IN_SAMPLE, TEXT_IDS_LIMIT = 2_000, 20, 5_000
TEXT_GLANCE, TEXT_COMMON_IN_GLANCE = 250, PER_PAGE


@dataclass
class TextMatches:
    """How a free-text query matches: ``ids`` of every matching proposal for a rare query (None
    for a common one), and ``newest``, the matches among the newest proposals (the glance or the
    sample), newest first: the head of the newest-first list of every match."""

    ids: list[int] | None
    newest: list[int]


def _newest_matches(session: Session, institution_id: int, terms: list[str], limit: int, skip: int = 0) -> list[int]:
    """The matching proposals among the institution's ``limit`` newest after the ``skip`` newest,
    newest first.

    Each of those texts is tested: the test is a column of a subquery that ``OFFSET 0`` keeps
    apart. As a join condition PostgreSQL may ask the full-text index instead, whose lists for a
    word in a few percent of the texts, or for a word start as common as ``collaboration``, are
    longer than the texts asked about, and grow with the portfolio.
    """
    newest = (select(Proposal.id, Proposal.created_at)
              .where(Proposal.institution_id == institution_id, Proposal.status != workflow.DRAFT)
              .order_by(Proposal.created_at.desc(), Proposal.id.desc()).offset(skip).limit(limit).subquery())
    tested = (select(newest.c.id, newest.c.created_at, _text_match(_dialect(session), terms).label("hit"))
              .join(ProposalText, ProposalText.proposal_id == newest.c.id).offset(0).subquery())
    return list(session.execute(select(tested.c.id).where(tested.c.hit)
                                .order_by(tested.c.created_at.desc(), tested.c.id.desc())).scalars())


def _text_matches(session: Session, institution_id: int, terms: list[str]) -> TextMatches:
    """The institution's proposals whose text matches: the newest ones, and all of them for a rare query."""
    newest = _newest_matches(session, institution_id, terms, TEXT_GLANCE)
    if len(newest) >= TEXT_COMMON_IN_GLANCE:
        return TextMatches(None, newest)
    if newest:
        newest += _newest_matches(session, institution_id, terms, TEXT_SAMPLE - TEXT_GLANCE, TEXT_GLANCE)
        if len(newest) >= TEXT_COMMON_IN_SAMPLE:
            return TextMatches(None, newest)
    dialect = _dialect(session)
    postgres = dialect == "postgresql"
    if postgres:  # a rare word: the GIN index, whatever the planner guesses
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    ids = session.execute(select(ProposalText.proposal_id).where(
        ProposalText.institution_id == institution_id, _text_match(dialect, terms))
        .limit(TEXT_IDS_LIMIT + 1)).scalars().all()
    if postgres:
        session.execute(sa.text("SET LOCAL enable_seqscan = on"))
    return TextMatches(None if len(ids) > TEXT_IDS_LIMIT else list(ids), newest)


def _id_in(session: Session, ids: list[int]):
    """``proposal.id`` among ``ids``: on PostgreSQL one array parameter (thousands of ids cost no
    more than one), elsewhere an IN list."""
    if not ids:
        return sa.false()
    if _dialect(session) == "postgresql":
        ids_parameter = sa.bindparam("proposal_ids", ids, type_=postgresql.ARRAY(sa.Integer), unique=True)
        return Proposal.id == sa.func.any(ids_parameter)
    return Proposal.id.in_(ids)


def _partner_names_containing(institution_id: int, text: str):
    """The institution's partner names that contain ``text`` in any case: a scan of its distinct
    names (``partner_name``), not of every partner row; the proposals are then found by exact name."""
    return select(PartnerName.name).where(PartnerName.institution_id == institution_id,
                                          PartnerName.name.ilike(_like(text), escape="\\"))


def _filtered(session: Session, institution_id: int, f: Filters) -> tuple[list[Any], TextMatches | None]:
    """WHERE conditions on ``proposal`` for the filters (EXISTS on the facet tables), and how the
    free text matched (see :func:`_text_matches`)."""
    conds: list[Any] = [Proposal.institution_id == institution_id]
    if f.tier:
        conds.append(Proposal.tier.in_(f.tier))
    if f.status:
        conds.append(Proposal.status.in_(f.status))
    else:
        conds.append(Proposal.status != workflow.DRAFT)  # drafts are the researcher's own business
    if f.date_from:
        conds.append(Proposal.created_at >= datetime.combine(f.date_from, time.min, tzinfo=UTC))
    if f.date_to:
        conds.append(Proposal.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min, tzinfo=UTC))
    pp = ProposalPartner

    def partner_exists(*where):
        return sa.exists().where(pp.proposal_id == Proposal.id, pp.institution_id == institution_id, *where)

    if f.country:
        conds.append(partner_exists(pp.country == f.country))
    if f.partner:
        # IN, not a correlated EXISTS: SQLite would probe every matching name once per proposal.
        conds.append(Proposal.id.in_(select(pp.proposal_id).where(
            pp.institution_id == institution_id, pp.name.in_(_partner_names_containing(institution_id, f.partner)))))
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
        conds.append(sa.exists().where(ReviewCase.proposal_id == Proposal.id,
                                       ReviewCase.committee_id == f.committee,
                                       ReviewCase.institution_id == institution_id))
    if f.q:
        terms = search_terms(f.q)
        if not terms:  # a query of punctuation only finds nothing rather than everything
            conds.append(sa.false())
            return conds, None
        matches = _text_matches(session, institution_id, terms)
        if matches.ids is None:
            conds.append(Proposal.id.in_(select(ProposalText.proposal_id).where(
                _text_match(_dialect(session), terms))))
        else:
            conds.append(_id_in(session, matches.ids))
        return conds, matches
    return conds, None


def _total(session: Session, institution_id: int, f: Filters, conds, limit: int | None = None) -> tuple[int, bool]:
    """How many proposals match, and whether that is only a lower bound.

    From ``portfolio_count`` when only tier, status and one country filter are set, or only a
    second-level research field (exact, a few rows read). Otherwise counted, stopping after
    ``limit`` matches: counting every match of a common word costs time in proportion to the
    portfolio, the first page does not.
    """
    facets = (f.q, f.partner, f.category, f.field, f.committee, f.listed, f.date_from, f.date_to)
    others = (f.q, f.partner, f.category, f.committee, f.listed, f.date_from, f.date_to, f.country, f.tier, f.status)
    if "." in f.field and not any(others):
        # A second-level FORD code (no proposal has both "2.2" and a code below it).
        stored = counts.stored(session, institution_id, "field")
        return sum(n for (code, _t), n in counts.dimension(stored, "field").items()
                   if code == f.field or code.startswith(f.field + ".")), False
    if not any(facets) and not (f.country and f.status):
        stored = counts.stored(session, institution_id, "country" if f.country else "status")
        if f.country:
            return sum(n for (country, tier), n in counts.dimension(stored, "country").items()
                       if country == f.country and (not f.tier or tier in f.tier)), False
        return sum(n for (status, tier), n in counts.dimension(stored, "status").items()
                   if (status in f.status if f.status else status != workflow.DRAFT)
                   and (not f.tier or tier in f.tier)), False
    matches = select(Proposal.id).where(*conds)
    if limit is not None:
        matches = matches.limit(limit + 1)
    total = session.execute(select(sa.func.count()).select_from(matches.subquery())).scalar_one()
    if limit is not None and total > limit:
        return limit, True
    return total, False


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


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
    total_is_lower_bound: bool = False  # more than ``total`` match (see :data:`COUNT_LIMIT`)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(session: Session, actor: Actor, f: Filters, page: int = 1, per_page: int = PER_PAGE) -> PortfolioPage:
    """One page of the institution's proposals (offset pagination, at most 2,000 pages)."""
    require_office(actor)
    page = max(1, min(page, 2000))
    conds, text = _filtered(session, actor.institution_id, f)
    text_only = text is not None and Filters(q=f.q, sort=f.sort).query_args() == f.query_args()
    if text_only and text.ids is None:
        total, more = COUNT_LIMIT, True  # only drafts lack texts: more than the limit match
    else:
        total, more = _total(session, actor.institution_id, f, conds, COUNT_LIMIT)
    columns = (Proposal.id, Proposal.title, Proposal.status, Proposal.tier, Proposal.created_at)
    end = page * per_page
    if text_only and f.sort == "newest" and len(text.newest) >= end:
        # The page is the head of the sample's matches (they are the newest of all matches): read
        # those rows by id instead of walking the proposals to them a second time.
        stmt = select(*columns).where(Proposal.id.in_(text.newest[end - per_page:end])).order_by(*SORTS[f.sort])
    else:
        stmt = select(*columns).where(*conds).order_by(*SORTS[f.sort]).offset(end - per_page).limit(per_page)
    return PortfolioPage(_rows(session, session.execute(stmt).all()), page, per_page, total, more)


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


_TIER_RANK = sa.case({"critical": 0, "high": 1, "medium": 2, "low": 3}, value=Proposal.tier, else_=4)


# Keyset pagination (the API): each sort order as (expression, descending) pairs ending in the id,
# so that a walk is stable while proposals are added.
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
    conds, _text = _filtered(session, actor.institution_id, f)
    total, _more = _total(session, actor.institution_id, f, conds)
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
    conds, _text = _filtered(session, actor.institution_id, f)
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


COUNTRY_CHOICES: tuple[str, ...] = tuple(sorted(ISO_CODES))


def filter_choices(session: Session, actor: Actor) -> dict[str, Any]:
    """Values for the filter form's drop-downs: categories and the institution's committees (the
    countries are :data:`COUNTRY_CHOICES`)."""
    # Fixed lists: a DISTINCT over the facet tables would cost a scan on every page view.
    committees = [(c.id, c.name) for c in session.exec(
        select(Committee).where(Committee.institution_id == actor.institution_id).order_by(Committee.name)).all()]
    return {"categories": list(CATEGORY_ORDER), "committees": committees}
