"""The JSON API, ``/api/v1``: stateless screening, researchers' proposals, lists and rule set,
committee cases.

Views are thin: authenticate the bearer token (``api_support.authenticate``), check the role with
the same ``roles_required`` the web pages use, parse and validate the body, call a service,
commit once. Every failure is an ``application/problem+json`` answer. Each route carries its
OpenAPI operation (``@operation``) right next to it; ``openapi()`` assembles the document and a
test checks that routes and document agree.
"""

import re
import secrets

import orjson
from flask import Blueprint, current_app, g, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError

from screening import workflow
from screening.countries import ISO_CODES
from screening.engine import get_screener
from screening.errors import ValidationFailed
from screening.extensions import csrf, db
from screening.models import ROLES
from screening.services import proposals as svc
from screening.services import review
from screening.web import api_support as api
from screening.web.api_support import ApiProblem
from screening.web.security import roles_required

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # token authentication only: no cookie is ever honoured, so there is nothing to forge

LANGUAGES = ("en", "de")
READERS = ("researcher", *svc.READER_ROLES)
PUBLIC_ENDPOINTS = frozenset({"api.ping", "api.openapi", "api.not_found"})
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FLAG_CATEGORIES = ("field", "partner", "funding", "data_transfer", "export_control", "country")

# (OpenAPI path, method) -> operation object; filled by @operation next to each route.
OPERATIONS: dict[tuple[str, str], dict] = {}


def init_app(app) -> None:
    """Register the API and the token pages; the per-token rate limit defaults to 600 a minute."""
    from screening.blueprints import api_portfolio, tokens  # noqa: F401 - api_portfolio adds its routes to bp
    from screening.config import is_production

    app.config.setdefault("API_RATE_LIMIT", api.DEFAULT_RATE_LIMIT)
    app.config.setdefault("API_AUTH_CACHE_SECONDS", 2 if is_production(app) else 0)
    app.register_blueprint(bp)
    app.register_blueprint(tokens.bp)


# ----------------------------------------------------------------- OpenAPI helpers

def _problem(description: str) -> dict:
    return {"description": description,
            "content": {api.PROBLEM_MIME: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _json(description: str, ref: str, headers: dict | None = None) -> dict:
    out = {"description": description,
           "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}
    if headers:
        out["headers"] = headers
    return out


AUTH_PROBLEMS = {
    "401": _problem("No token, or the token is unknown, expired or revoked"),
    "403": _problem("The token's scope or its owner's role does not allow this"),
    "429": _problem("Too many requests with this token"),
}
BODY_PROBLEMS = {
    "400": _problem("The body is not JSON, or a header or parameter is malformed"),
    "413": _problem("The body is too large"),
    "415": _problem("The body is not application/json"),
    "422": _problem("The body does not satisfy the contract (errors[] point at the fields)"),
}
PID = {"name": "pid", "in": "path", "required": True,
       "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "Repeat a request safely: the same key gives back what the first call made.",
               "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,40}$"}}
LANGUAGE = {"name": "Accept-Language", "in": "header", "required": False,
            "description": "Language of the explanations: en (default) or de.", "schema": {"type": "string"}}
LOCATION = {"Location": {"schema": {"type": "string"}, "description": "The new resource"}}


def operation(method: str, path: str, summary: str, responses: dict, *, tags=("screening",),
              parameters=(), body: str | None = None, public: bool = False, scope: str = "read",
              roles: tuple[str, ...] = ROLES):
    """Attach an OpenAPI operation to the route below it (``path`` in OpenAPI form)."""

    def decorator(view):
        op = {
            "operationId": view.__name__,
            "summary": summary,
            "tags": list(tags),
            "responses": dict(responses),
        }
        if parameters:
            op["parameters"] = list(parameters)
        if body:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
            op["responses"].update({k: v for k, v in BODY_PROBLEMS.items() if k not in responses})
        if public:
            op["security"] = []
        else:
            op["description"] = (f"Token scope: {scope}. Roles: {', '.join(roles)} "
                                 "(in the token's institution).")
            op["responses"].update({k: v for k, v in AUTH_PROBLEMS.items() if k not in responses})
        op["responses"].setdefault("default", _problem("Any other error"))
        OPERATIONS[(path, method.lower())] = op
        if scope == "write":
            view.api_write = True
        view.api_query = frozenset(p["name"] for p in parameters if p["in"] == "query")
        return view

    return decorator


# ----------------------------------------------------------------- request life cycle

MAX_ID = 2**31 - 1  # the database's INTEGER


@bp.before_request
def _authenticate():
    if any(isinstance(v, int) and v > MAX_ID for v in (request.view_args or {}).values()):
        raise ApiProblem(404, "There is nothing here, or it is not available to you.")
    view = current_app.view_functions.get(request.endpoint)
    unknown = sorted(set(request.args) - getattr(view, "api_query", frozenset(request.args)))
    if unknown:
        raise ApiProblem(400, "Unknown query parameters.",
                         errors=[{"parameter": name, "detail": "unknown parameter"} for name in unknown])
    if request.endpoint in PUBLIC_ENDPOINTS:
        g.user = None
        g.actor = None
        return
    api.authenticate(write=getattr(view, "api_write", False))


bp.register_error_handler(Exception, api.handle_error)


def _language() -> str:
    if "Accept-Language" not in request.headers:  # most clients send none: skip parsing it
        return "en"
    return request.accept_languages.best_match(LANGUAGES, "en") or "en"


def _iso(value):
    return value.isoformat() if value is not None else None


def _proposal_json(p) -> dict:
    return {
        "id": p.id, "title": p.title, "status": p.status, "tier": p.tier, "route": p.route,
        "created_at": _iso(p.created_at), "updated_at": _iso(p.updated_at),
        "proposal": dict(p.data),
    }


def _version_json(v) -> dict:
    return {
        "proposal_id": v.proposal_id, "number": v.number, "submitted_at": _iso(v.submitted_at),
        "tier": v.tier, "route": v.route, "language": v.language, "ruleset_version": v.ruleset_version,
        "proposal": v.proposal_json, "result": v.result_json,
    }


# ----------------------------------------------------------------- public

@bp.get("/ping")
@operation("get", "/ping", "Liveness of the API (no authentication)",
           {"200": _json("Alive", "Ping")}, tags=("meta",), public=True)
def ping():
    return {"status": "ok"}


@bp.get("/openapi.json")
@operation("get", "/openapi.json", "This OpenAPI 3.1 description", {"200": {
    "description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}},
    tags=("meta",), public=True)
def openapi():
    from screening.web.api_schema import document

    return jsonify(document(OPERATIONS))


# ----------------------------------------------------------------- screening, lists, rule set

@bp.post("/screen")
@operation("post", "/screen", "Screen a proposal without storing anything",
           {"200": _json("The screening result (contract screening-result.schema.json)", "ScreeningResult")},
           body="Proposal", parameters=(LANGUAGE,))
@roles_required(*ROLES)
def screen():
    proposal = api.json_body()
    result = get_screener().screen(proposal, language=_language())
    # The result is plain JSON data (str, int, float, list, dict): orjson writes it compact, keys
    # sorted like jsonify, in a tenth of the time of the json module (the largest body of the API).
    return current_app.response_class(orjson.dumps(result, option=orjson.OPT_SORT_KEYS),
                                      mimetype="application/json")


@bp.get("/lists")
@operation("get", "/lists", "The partner lists (versions) screening uses", {"200": _json("Lists", "ListPage")})
@roles_required(*ROLES)
def lists():
    items = [{"name": pl.name, "version": pl.version, "title": pl.title, "publisher": pl.publisher,
              "published": pl.published, "source": pl.source, "licence": pl.licence,
              "entries": len(pl.entries)}
             for pl in get_screener().lists]
    return {"items": items}


@bp.get("/ruleset")
@operation("get", "/ruleset", "The rule set version screening uses", {"200": _json("Rule set", "Ruleset")})
@roles_required(*ROLES)
def ruleset():
    rs = get_screener().ruleset
    return {"version": rs.version, "hash": rs.hash, "rules": len(rs.rules),
            "combinations": len(rs.combinations), "languages": list(LANGUAGES)}


# ----------------------------------------------------------------- proposals (researchers)

@bp.get("/proposals")
@operation("get", "/proposals", "Your own proposals, newest first (keyset pagination)",
           {"200": _json("One page", "ProposalPage"), "400": _problem("Bad limit or cursor")},
           tags=("proposals",), roles=("researcher",), parameters=(
               {"name": "limit", "in": "query", "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
               {"name": "cursor", "in": "query", "required": False,
                "description": "Opaque: next_cursor of the previous page", "schema": {"type": "string"}}))
@roles_required("researcher")
def list_proposals():
    limit = api.int_arg("limit", 20, 1, 100)
    before = api.decode_cursor("proposals")
    rows = svc.list_own_page(db.session, g.actor, before, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [_proposal_json(p) for p in rows],
            "next_cursor": api.encode_cursor("proposals", rows[-1].id) if more and rows else None}


@bp.post("/proposals")
@operation("post", "/proposals", "Create a draft from a contract proposal",
           {"201": _json("Created", "ProposalResource", LOCATION),
            "200": _json("Already created with this Idempotency-Key", "ProposalResource", LOCATION)},
           tags=("proposals",), body="Proposal", parameters=(IDEMPOTENCY,), scope="write",
           roles=("researcher",))
@roles_required("researcher")
def create_proposal():
    key = api.idempotency_key()
    data = api.proposal_body()
    token = f"api-{key}" if key else f"api-{secrets.token_urlsafe(18)}"
    status = 201
    existing = svc.find_by_creation_token(db.session, g.actor, token) if key else None
    if existing is not None:
        proposal, status = existing, 200
    else:
        try:
            proposal = svc.save_draft(db.session, g.actor, data, creation_token=token)
            db.session.commit()
        except IntegrityError:  # a concurrent call with the same key won
            db.session.rollback()
            proposal = svc.find_by_creation_token(db.session, g.actor, token)
            if proposal is None:
                raise
            status = 200
    return jsonify(_proposal_json(proposal)), status, {"Location": url_for(".get_proposal", pid=proposal.id)}


@bp.get("/proposals/<int:pid>")
@operation("get", "/proposals/{pid}", "A proposal (its owner, or a committee/office/admin reader)",
           {"200": _json("The proposal", "ProposalResource"), "404": _problem("Not found or not yours")},
           tags=("proposals",), parameters=(PID,), roles=READERS)
@roles_required(*READERS)
def get_proposal(pid: int):
    return _proposal_json(svc.get_readable(db.session, g.actor, pid))


@bp.put("/proposals/<int:pid>")
@operation("put", "/proposals/{pid}", "Replace a draft with a contract proposal",
           {"200": _json("Saved", "ProposalResource"), "404": _problem("Not found or not yours"),
            "409": _problem("Not a draft any more")},
           tags=("proposals",), body="Proposal", parameters=(PID,), scope="write", roles=("researcher",))
@roles_required("researcher")
def update_proposal(pid: int):
    proposal = svc.get_own(db.session, g.actor, pid, lock=True)
    data = api.proposal_body()
    proposal = svc.save_draft(db.session, g.actor, data, proposal=proposal)
    db.session.commit()
    return _proposal_json(proposal)


@bp.post("/proposals/<int:pid>/submit")
@operation("post", "/proposals/{pid}/submit", "Submit a draft: freeze, screen and route it",
           {"201": _json("Submitted; the frozen version with its screening", "ProposalVersion", LOCATION),
            "200": _json("Already submitted with this Idempotency-Key", "ProposalVersion", LOCATION),
            "400": _problem("Malformed Idempotency-Key"),
            "404": _problem("Not found or not yours"), "409": _problem("Not a draft"),
            "422": _problem("The draft does not satisfy the contract")},
           tags=("proposals",), parameters=(PID, IDEMPOTENCY, LANGUAGE), scope="write",
           roles=("researcher",))
@roles_required("researcher")
def submit_proposal(pid: int):
    key = api.idempotency_key()
    proposal = svc.get_own(db.session, g.actor, pid, lock=True)
    token = f"api-{g.user.id}-{key}" if key else f"api-{secrets.token_urlsafe(24)}"
    version = svc.version_for_token(db.session, proposal, token) if key else None
    status = 200
    if version is None:
        version = svc.submit(db.session, g.actor, proposal, token, get_screener(), language=_language())
        db.session.commit()
        status = 201
    location = url_for(".get_version", pid=pid, number=version.number)
    return jsonify(_version_json(version)), status, {"Location": location}


@bp.get("/proposals/<int:pid>/versions/<int:number>")
@operation("get", "/proposals/{pid}/versions/{number}", "A submitted version with its screening",
           {"200": _json("The version", "ProposalVersion"), "404": _problem("Not found or not yours")},
           tags=("proposals",), roles=READERS, parameters=(PID, {
               "name": "number", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}))
@roles_required(*READERS)
def get_version(pid: int, number: int):
    proposal = svc.get_readable(db.session, g.actor, pid)
    return _version_json(svc.get_version(db.session, proposal, number))


# ----------------------------------------------------------------- committee cases

# Through screening.services.review exactly as the /review pages: committee members of the case's
# committee only (others of the institution and other institutions: 404, logged), chair actions
# need the committee's chair, a recused member sees no deliberation and changes nothing (403).
CASE_ID = {"name": "case_id", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
FLAG_KEY = {"name": "flag_key", "in": "path", "required": True, "description": "The flag's key (see flags[].key)",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": True,
            "description": "The ETag of GET /cases/{case_id}: the decision is refused (412) if the case "
                           "changed since.", "schema": {"type": "string"}}
ETAG = {"ETag": {"schema": {"type": "string"}, "description": "The case's version (send it as If-Match)"}}
FLAG_KEY_RE = re.compile(r"^[0-9a-f]{16}$")
ASSIGNEE_RE = re.compile(r"^(me|none|[0-9]{1,9})$")
CASE_FILTERS = (
    {"name": "status", "in": "query", "required": False, "description": "Default: in review and information "
     "requested", "schema": {"enum": list(workflow.STATES)}},
    {"name": "tier", "in": "query", "required": False, "schema": {"enum": list(review.TIER_ORDER)}},
    {"name": "category", "in": "query", "required": False, "description": "A flag category",
     "schema": {"enum": list(FLAG_CATEGORIES)}},
    {"name": "country", "in": "query", "required": False, "description": "A partner country (ISO 3166-1 alpha-2)",
     "schema": {"enum": sorted(ISO_CODES)}},
    {"name": "min_age", "in": "query", "required": False, "description": "Open for at least this many days",
     "schema": {"type": "integer", "minimum": 0, "maximum": 3650}},
    {"name": "assignee", "in": "query", "required": False, "description": "me, none or a rapporteur's user id",
     "schema": {"type": "string", "pattern": ASSIGNEE_RE.pattern}},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    {"name": "cursor", "in": "query", "required": False,
     "description": "Opaque: next_cursor of the previous page", "schema": {"type": "string"}},
)


def _etag(case) -> str:
    return f'"case-{case.id}-v{case.version}"'


def _enum_arg(name: str, allowed) -> str | None:
    raw = request.args.get(name)
    if raw is not None and raw not in allowed:
        raise ApiProblem(400, f"{name}: not one of the allowed values.",
                         errors=[{"parameter": name, "detail": "not an allowed value"}])
    return raw


def _case_filters() -> dict:
    """The web queue's filters, but strict: a bad value is a 400 problem, not ignored."""
    filters: dict = {}
    for name, allowed in (("status", workflow.STATES), ("tier", review.TIER_ORDER),
                          ("category", FLAG_CATEGORIES), ("country", ISO_CODES)):
        if (value := _enum_arg(name, allowed)) is not None:
            filters[name] = value
    if request.args.get("min_age") is not None:
        filters["min_age"] = api.int_arg("min_age", 0, 0, 3650)
    assignee = request.args.get("assignee")
    if assignee is not None:
        if not ASSIGNEE_RE.match(assignee):
            raise ApiProblem(400, "assignee: me, none or a user id.",
                             errors=[{"parameter": "assignee", "detail": "me, none or a user id"}])
        filters["assignee"] = assignee if assignee in ("me", "none") else int(assignee)
    return filters


def _body(schema_name: str) -> dict:
    """A JSON body checked against its input schema (unknown fields refused) -> 422 with pointers."""
    from jsonschema import Draft202012Validator

    from screening.web.api_schema import components

    data = api.json_body()
    validator = Draft202012Validator(components()[schema_name])
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        problems.append((path, error.message if error.validator != "pattern"
                         else "contains control, zero-width or direction-override characters"))
    if problems:
        raise api.validation_problem(problems)
    return data


def _committee_json(c) -> dict:
    return {"id": c.id, "name": c.name}


def _case_summary_json(row) -> dict:
    case, proposal = row.case, row.proposal
    return {
        "id": case.id, "proposal_id": proposal.id, "title": proposal.title, "status": proposal.status,
        "tier": proposal.tier, "committee": _committee_json(row.committee), "rapporteur_id": case.rapporteur_id,
        "opened_at": _iso(case.opened_at), "due_at": _iso(case.due_at), "overdue": row.overdue,
        "version_number": row.version.number if row.version else None,
        "flag_categories": sorted(c for c in row.categories if c),
        "partner_countries": sorted(c for c in row.countries if c),
    }


def _disposition_json(d, user=None) -> dict:
    return {"id": d.id, "flag_key": d.flag_key, "disposition": d.disposition, "reason": d.reason,
            "version_number": d.version_number, "user_id": d.user_id, "user_name": user.name if user else None,
            "created_at": _iso(d.created_at)}


def _decision_json(d) -> dict:
    return {"id": d.id, "case_id": d.case_id, "proposal_id": d.proposal_id, "version_number": d.version_number,
            "outcome": d.outcome, "reasoning": d.reasoning, "conditions": list(d.conditions or []),
            "decided_by_id": d.decided_by_id, "decided_at": _iso(d.decided_at), "supersedes_id": d.supersedes_id,
            "superseded_at": _iso(d.superseded_at)}


def _case_json(access, page: dict) -> dict:
    case, proposal = access.case, access.proposal
    deliberation = page["deliberation"]
    dispositions = None
    if deliberation is not None:
        dispositions = [_disposition_json(d, user) for rows in deliberation["dispositions"].values()
                        for d, user in rows]
        dispositions.sort(key=lambda item: (item["created_at"], item["id"]))
    current = next((d for d in page["decisions"] if d.superseded_at is None), None)
    return {
        "id": case.id, "proposal_id": proposal.id, "title": proposal.title, "status": proposal.status,
        "tier": proposal.tier, "committee": _committee_json(access.committee), "role": access.role,
        "recused": access.recused, "rapporteur_id": case.rapporteur_id, "opened_at": _iso(case.opened_at),
        "due_at": _iso(case.due_at), "overdue": page["overdue"], "lock_version": case.version,
        "version": _version_json(page["version"]) if page["version"] else None,
        "versions": [v.number for v in page["versions"]],
        "flags": page["flags"],
        "dispositions": dispositions,
        "information_requests": [
            {"id": r.id, "questions": r.questions, "asked_at": _iso(r.asked_at), "version_asked": r.version_asked,
             "answered_version": r.answered_version, "answered_at": _iso(r.answered_at)}
            for r in page["requests"]],
        "decision": _decision_json(current) if current else None,
    }


@bp.get("/cases")
@operation("get", "/cases", "The committee queue: cases of your committees, newest first (keyset pagination)",
           {"200": _json("One page", "CasePage"), "400": _problem("Bad filter, limit or cursor")},
           tags=("cases",), roles=review.COMMITTEE_ROLES, parameters=CASE_FILTERS)
@roles_required(*review.COMMITTEE_ROLES)
def list_cases():
    filters = _case_filters()
    limit = api.int_arg("limit", 20, 1, 100)
    before = api.decode_cursor("cases")
    rows = [r for r in review.queue(db.session, g.actor, filters) if before is None or r.case.id < before]
    rows.sort(key=lambda r: r.case.id, reverse=True)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [_case_summary_json(r) for r in rows],
            "next_cursor": api.encode_cursor("cases", rows[-1].case.id) if more and rows else None}


@bp.get("/cases/<int:case_id>")
@operation("get", "/cases/{case_id}", "A case: the proposal as submitted, its flags, dispositions and decision",
           {"200": _json("The case; ETag is its version", "Case", ETAG),
            "404": _problem("Not found, or not a case of your committees")},
           tags=("cases",), roles=review.COMMITTEE_ROLES, parameters=(CASE_ID,))
@roles_required(*review.COMMITTEE_ROLES)
def get_case(case_id: int):
    access = review.get_case(db.session, g.actor, case_id)
    page = review.case_page(db.session, access)
    return jsonify(_case_json(access, page)), 200, {"ETag": _etag(access.case)}


@bp.put("/cases/<int:case_id>/flags/<flag_key>/disposition")
@operation("put", "/cases/{case_id}/flags/{flag_key}/disposition",
           "Record the committee's disposition of a flag (confirmed, dismissed as a false match, mitigated)",
           {"200": _json("Recorded (the case keeps every disposition as history)", "CaseDisposition"),
            "403": _problem("Not a committee member, you declared a conflict of interest, or read scope"),
            "404": _problem("No such case or flag"),
            "409": _problem("The case is not under review")},
           tags=("cases",), roles=review.COMMITTEE_ROLES, parameters=(CASE_ID, FLAG_KEY),
           body="CaseDispositionInput", scope="write")
@roles_required(*review.COMMITTEE_ROLES)
def put_disposition(case_id: int, flag_key: str):
    access = review.get_case(db.session, g.actor, case_id)
    if not FLAG_KEY_RE.match(flag_key):
        raise ApiProblem(404, "There is no such flag on the case's current version.")
    data = _body("CaseDispositionInput")
    try:
        row = review.record_disposition(db.session, access, flag_key, data["disposition"], data["reason"])
    except ValidationFailed as exc:
        if "flag" in exc.errors:
            raise ApiProblem(404, "There is no such flag on the case's current version.") from None
        raise
    db.session.commit()
    return _disposition_json(row, g.user)


@bp.post("/cases/<int:case_id>/decision")
@operation("post", "/cases/{case_id}/decision",
           "Issue the decision (chair); on a decided case, a correction that supersedes it",
           {"201": _json("Decided; ETag is the case's new version", "CaseDecision", {**ETAG, **LOCATION}),
            "403": _problem("Not the committee's chair, a conflict of interest, or read scope"),
            "404": _problem("Not found, or not a case of your committees"),
            "409": _problem("The case is not in review"),
            "412": _problem("If-Match does not match: the case changed since you read it"),
            "428": _problem("If-Match is missing")},
           tags=("cases",), roles=("committee_chair",), parameters=(CASE_ID, IF_MATCH),
           body="CaseDecisionInput", scope="write")
@roles_required("committee_chair")
def decide_case(case_id: int):
    access = review.get_case(db.session, g.actor, case_id)
    data = _body("CaseDecisionInput")
    if "If-Match" not in request.headers:
        raise ApiProblem(428, "Send If-Match with the ETag of GET /cases/{case_id}.",
                         type_=api.PROBLEM_BASE + "precondition-required",
                         errors=[{"parameter": "If-Match", "detail": "required"}])
    seen = access.case.version
    if request.if_match.star_tag or not request.if_match.contains(_etag(access.case).strip('"')):  # "*" too
        raise ApiProblem(412, "The case changed since you read it (If-Match does not match its ETag). "
                              "Read it again.", type_=api.PROBLEM_BASE + "stale",
                         errors=[{"parameter": "If-Match", "detail": "does not match the current ETag"}])
    try:
        decision = review.decide(db.session, access, seen, data["outcome"], data["reasoning"],
                                 list(data.get("conditions") or []), list(data.get("free_conditions") or []))
        db.session.commit()
    except review.StaleCase:  # a concurrent decision won between our read and our write
        db.session.rollback()
        raise ApiProblem(412, "Someone else changed this case in the meantime. Read it again.",
                         type_=api.PROBLEM_BASE + "stale",
                         errors=[{"parameter": "If-Match", "detail": "no longer current"}]) from None
    except IntegrityError:  # the unique (case, case version) of decisions backs the lock up
        db.session.rollback()
        raise ApiProblem(409, "Someone else decided this case at the same moment.") from None
    return jsonify(_decision_json(decision)), 201, {"ETag": _etag(access.case),  # version reloaded
                                                    "Location": url_for(".get_case", case_id=case_id)}


# ----------------------------------------------------------------- anything else under /api/v1

@bp.route("/<path:rest>", methods=list(METHODS))
def not_found(rest: str):
    """Unknown API paths and wrong methods answer with problem documents too (not HTML)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except Exception:  # noqa: S112 - no route for this method
            continue
        if endpoint != "api.not_found":
            allowed.append(method)
    if allowed:
        raise ApiProblem(405, f"Use {', '.join(allowed)}.", headers={"Allow": ", ".join(allowed)})
    raise ApiProblem(404, "There is nothing here, or it is not available to you.")
