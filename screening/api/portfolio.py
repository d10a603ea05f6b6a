"""The international office's portfolio in the JSON API: queries, aggregates and exports.

Routes are attached to the ``api`` blueprint of :mod:`screening.api.blueprint` (imported by
:mod:`screening.api.views` before the blueprint is registered), with their OpenAPI operations. Every
call is for the international office and the institution admin of the token's institution and
reads that institution's proposals only (the services scope every query by it): there are no
object ids to guess, and another institution's data is never part of an answer.

Query parameters are checked strictly against what the OpenAPI document declares (exact enum
values, patterns, lengths): a value the document does not allow is a 400 problem, never ignored.
"""

import re
from datetime import UTC, date, datetime

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from screening.accounts.access import roles_required
from screening.api import support as api
from screening.api.blueprint import bp
from screening.api.openapi import operation, problem
from screening.api.support import ApiProblem
from screening.core.countries import ISO_CODES
from screening.core.errors import ValidationFailed
from screening.core.extensions import db
from screening.core.i18n import CATEGORY_ORDER
from screening.portfolio import aggregates, exports, index, office, search
from screening.proposals import workflow

OFFICE = office.OFFICE_ROLES
TAGS = ("portfolio",)
STATUSES = tuple(s for s in workflow.STATES if s != workflow.DRAFT)  # drafts are the researcher's business
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FIELD_RE = re.compile(r"[0-9]{1,2}(\.[0-9]{1,2})?")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
INT_RE = re.compile(r"[0-9]{1,10}")
MAX_ID = 2**31 - 1


def _q(name: str, schema: dict, description: str = "", *, required: bool = False) -> dict:
    param = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        param["description"] = description
    if schema.get("type") == "array":
        param.update(style="form", explode=True)
    return param


FILTERS = (
    _q("q", {"type": "string", "maxLength": 200}, "Words in the title or a partner's name"),
    _q("partner", {"type": "string", "maxLength": 200}, "Part of a partner's name"),
    _q("country", {"enum": sorted(ISO_CODES)}, "A partner country (ISO 3166-1 alpha-2)"),
    _q("tier", {"type": "array", "items": {"enum": list(index.TIERS)}, "maxItems": len(index.TIERS)},
       "Risk tier (repeat for several)"),
    _q("status", {"type": "array", "items": {"enum": list(STATUSES)}, "maxItems": len(STATUSES)},
       "Status (repeat for several); default every status but draft"),
    _q("category", {"enum": list(CATEGORY_ORDER)}, "A flag category raised above info"),
    _q("field", {"type": "string", "pattern": "^[0-9]{1,2}(\\.[0-9]{1,2})?$"},
       "An OECD FORD code such as 2 or 2.2 (2 includes 2.x)"),
    _q("committee", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "A committee's id"),
    _q("listed", {"type": "boolean"}, "Only proposals with a partner on a list"),
    _q("date_from", {"type": "string", "format": "date"}, "Filed on or after (YYYY-MM-DD)"),
    _q("date_to", {"type": "string", "format": "date"}, "Filed on or before (YYYY-MM-DD)"),
    _q("sort", {"enum": list(search.SORTS), "default": "newest"}),
)
PAGING = (
    _q("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
    _q("cursor", {"type": "string"}, "Opaque: next_cursor of the previous page (same sort)"),
)
SUPPRESS = _q("suppress", {"type": "boolean", "default": False},
              "Show counts from 1 to 4 as \"<5\" (and no durations of fewer than 5 decisions)")
FORMAT = _q("format", {"enum": ["csv", "xlsx"]}, "csv (UTF-8 with BOM) or xlsx", required=True)

_COUNT = {"type": ["integer", "string"], "description": "A count, or \"<5\" when suppressed"}
_NULL_NUM = {"type": ["number", "null"]}
ROW_SCHEMA = {
    "type": "object", "required": ["id", "title", "status", "tier", "created_at", "partners", "flag_categories"],
    "properties": {
        "id": {"type": "integer"}, "title": {"type": "string"}, "status": {"type": "string"},
        "tier": {"type": ["string", "null"]}, "created_at": {"type": "string", "format": "date-time"},
        "partners": {"type": "array", "items": {
            "type": "object", "required": ["name", "country", "listed_entry"],
            "properties": {"name": {"type": "string"}, "country": {"type": "string"},
                           "listed_entry": {"type": ["string", "null"]}}}},
        "flag_categories": {"type": "array", "items": {
            "type": "object", "required": ["category", "max_severity"],
            "properties": {"category": {"type": "string"}, "max_severity": {"type": "string"}}}},
    },
}
PAGE_SCHEMA = {
    "type": "object", "required": ["items", "next_cursor", "total"],
    "properties": {"items": {"type": "array", "items": ROW_SCHEMA},
                   "total": {"type": "integer", "description": "Proposals matching the filters"},
                   "next_cursor": {"type": ["string", "null"],
                                   "description": "Pass as ?cursor= (same filters) for the next page; "
                                                  "null on the last page."}},
}


def _pairs(key: str) -> dict:
    return {"type": "array", "items": {"type": "object", "required": [key, "count"],
                                       "properties": {key: {"type": "string"}, "count": _COUNT}}}


AGGREGATES_SCHEMA = {
    "type": "object",
    "required": ["total", "suppressed", "by_tier", "by_status", "by_country", "by_field", "listed_partners",
                 "ageing", "decisions", "conditions", "durations"],
    "properties": {
        "total": _COUNT, "suppressed": {"type": "boolean"},
        "by_tier": _pairs("tier"), "by_status": _pairs("status"),
        "by_country": {"type": "array", "items": {
            "type": "object", "required": ["country", "count", "tiers"],
            "properties": {"country": {"type": "string"}, "count": _COUNT,
                           "tiers": {"type": "object", "additionalProperties": _COUNT}}}},
        "by_field": _pairs("field"), "listed_partners": _pairs("name"),
        "ageing": _pairs("bucket"), "decisions": _pairs("outcome"),
        "conditions": _pairs("key"),
        "durations": {"type": "array", "items": {
            "type": "object", "required": ["committee", "decided", "median_days", "p90_days"],
            "properties": {"committee": {"type": "string"}, "decided": _COUNT, "median_days": _NULL_NUM,
                           "p90_days": _NULL_NUM}}},
    },
}


# ----------------------------------------------------------------- strict query parameters

def _bad(name: str, detail: str) -> ApiProblem:
    return ApiProblem(400, f"{name}: {detail}.", errors=[{"parameter": name, "detail": detail}])


def _single(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise _bad(name, "give it once")
    return values[0] if values else None


def _enum(name: str, allowed) -> str | None:
    value = _single(name)
    if value is not None and value not in allowed:
        raise _bad(name, "not one of the allowed values")
    return value


def _bool(name: str) -> bool:
    value = _enum(name, ("true", "false"))
    return value == "true"


def _date(name: str) -> str | None:
    value = _single(name)
    if value is None:
        return None
    try:
        if not DATE_RE.fullmatch(value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        raise _bad(name, "a date as YYYY-MM-DD") from None
    return value


def _filters() -> search.Filters:
    """The page's filters from the query string, each checked against its OpenAPI schema first."""
    from werkzeug.datastructures import MultiDict

    args: MultiDict = MultiDict()
    for name in ("q", "partner"):
        value = _single(name)
        if value is not None:
            if len(value) > 200:
                raise _bad(name, "at most 200 characters")
            args[name] = value
    for name, allowed in (("country", ISO_CODES), ("category", CATEGORY_ORDER), ("sort", search.SORTS)):
        if (value := _enum(name, allowed)) is not None:
            args[name] = value
    for name, allowed in (("tier", index.TIERS), ("status", STATUSES)):
        values = request.args.getlist(name)
        if any(v not in allowed for v in values) or len(values) > len(allowed):
            raise _bad(name, "not one of the allowed values")
        args.setlist(name, values)
    field = _single("field")
    if field is not None:
        if not FIELD_RE.fullmatch(field):
            raise _bad("field", "an OECD FORD code such as 2.2")
        args["field"] = field
    committee = _single("committee")
    if committee is not None:
        if not INT_RE.fullmatch(committee) or not 1 <= int(committee) <= MAX_ID:
            raise _bad("committee", f"an integer from 1 to {MAX_ID}")
        args["committee"] = committee
    if _bool("listed"):
        args["listed"] = "1"
    for name in ("date_from", "date_to"):
        if (value := _date(name)) is not None:
            args[name] = value
    try:
        return search.parse_filters(args)
    except ValidationFailed as exc:
        raise ApiProblem(400, "Invalid filter.",
                         errors=[{"parameter": k, "detail": v} for k, v in exc.errors.items()]) from None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="api-cursor:portfolio")


def _encode_key(value):
    if isinstance(value, datetime):
        return ["d", value.isoformat()]
    if isinstance(value, int):
        return ["i", value]
    return ["s", str(value)]


def _decode_key(item):
    kind, value = item
    if kind == "d":
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if kind == "i" and isinstance(value, int):
        return value
    if kind == "s" and isinstance(value, str):
        return value
    raise ValueError(kind)


def _cursor(sort: str) -> list | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    try:
        data = _serializer().loads(raw)
        if data["sort"] != sort:
            raise ValueError("another sort order")
        return [_decode_key(item) for item in data["after"]]
    except (BadSignature, KeyError, TypeError, ValueError):
        raise _bad("cursor", "not a cursor this API gave out for this sort order") from None


def _row_json(row: search.PortfolioRow) -> dict:
    return {"id": row.id, "title": row.title, "status": row.status, "tier": row.tier,
            "created_at": row.created_at.isoformat(),
            "partners": [{"name": n, "country": c, "listed_entry": e} for n, c, e in row.partners],
            "flag_categories": [{"category": c, "max_severity": s} for c, s in row.categories]}


# ----------------------------------------------------------------- routes

@bp.get("/portfolio")
@operation("get", "/portfolio", "The institution's proposals with the portfolio page's filters (keyset pages)",
           {"200": {"description": "One page",
                    "content": {"application/json": {"schema": PAGE_SCHEMA}}},
            "400": problem("A filter, limit or cursor is not valid")},
           tags=TAGS, roles=OFFICE, parameters=FILTERS + PAGING)
@roles_required(*OFFICE)
def portfolio_list():
    filters = _filters()
    limit = api.int_arg("limit", 50, 1, 100)
    after = _cursor(filters.sort)
    try:
        rows, last, total = search.search_after(db.session, g.actor, filters, after, limit)
    except ValidationFailed:
        raise _bad("cursor", "not a cursor this API gave out for this sort order") from None
    cursor = _serializer().dumps({"sort": filters.sort, "after": [_encode_key(v) for v in last]}) if last else None
    return {"items": [_row_json(r) for r in rows], "total": total, "next_cursor": cursor}


def aggregates_json(data: dict, suppress: bool) -> dict:
    """The dashboard's numbers as JSON; with ``suppress`` every count from 1 to 4 reads "<5"."""

    def n(value):
        value = int(value)
        return "<5" if suppress and 0 < value < 5 else value

    def pairs(key, items):
        return [{key: str(name), "count": n(count)} for name, count in items]

    tiers = dict(data["country_tiers"])
    return {
        "total": n(data["total"]), "suppressed": suppress,
        "by_tier": pairs("tier", data["by_tier"]), "by_status": pairs("status", data["by_status"]),
        "by_country": [{"country": c, "count": n(count),
                        "tiers": {t: n(tiers[t][i]) for t in index.TIERS if t in tiers}}
                       for i, (c, count) in enumerate(data["by_country"])],
        "by_field": pairs("field", data["by_field"]), "listed_partners": pairs("name", data["listed_partners"]),
        "ageing": pairs("bucket", data["ageing"]), "decisions": pairs("outcome", data["decisions"]),
        "conditions": pairs("key", data["conditions"]),
        "durations": [{"committee": name, "decided": n(count),
                       "median_days": None if suppress and count < 5 else round(median, 2),
                       "p90_days": None if (suppress and count < 5) or p90 is None else round(p90, 2)}
                      for name, count, median, p90 in data["durations"]],
    }


@bp.get("/portfolio/aggregates")
@operation("get", "/portfolio/aggregates", "The portfolio dashboard's numbers (drafts left out)",
           {"200": {"description": "Counts by tier, status, partner country, research field, listed partner, "
                                   "ageing of open cases; decisions, conditions and durations per committee",
                    "content": {"application/json": {"schema": AGGREGATES_SCHEMA}}},
            "400": problem("suppress is not true or false")},
           tags=TAGS, roles=OFFICE, parameters=(SUPPRESS,))
@roles_required(*OFFICE)
def portfolio_aggregates():
    suppress = _bool("suppress")
    return aggregates_json(aggregates.dashboard(db.session, g.actor), suppress)


@bp.get("/portfolio/export")
@operation("get", "/portfolio/export", "Every proposal of the filtered portfolio as CSV or XLSX",
           {"200": {"description": "The export; text that a spreadsheet could take for a formula starts with "
                                   "an apostrophe, and XLSX holds no formula or hyperlink cells",
                    "content": {"text/csv": {"schema": {"type": "string"}},
                                XLSX: {"schema": {"type": "string", "contentMediaType": XLSX}}}},
            "400": problem("format is missing, or a filter is not valid")},
           tags=TAGS, roles=OFFICE, parameters=(FORMAT, *FILTERS))
@roles_required(*OFFICE)
def portfolio_export():
    fmt = _enum("format", ("csv", "xlsx"))
    if fmt is None:
        raise _bad("format", "required: csv or xlsx")
    filters = _filters()
    rows = list(search.export_rows(db.session, g.actor, filters))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        response = Response(b"".join(exports.iter_csv(search.EXPORT_COLUMNS, rows)),
                            headers={"Content-Type": "text/csv; charset=utf-8"})
    else:
        response = Response(exports.to_xlsx(search.EXPORT_COLUMNS, rows, sheet_title="Portfolio"), mimetype=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="portfolio-{stamp}.{fmt}"'
    return response
