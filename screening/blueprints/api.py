"""The JSON API, ``/api/v1``: stateless screening, researchers' proposals, lists and rule set.

Views are thin: authenticate the bearer token (``api_support.authenticate``), check the role with
the same ``roles_required`` the web pages use, parse and validate the body, call a service,
commit once. Every failure is an ``application/problem+json`` answer. Each route carries its
OpenAPI operation (``@operation``) right next to it; ``openapi()`` assembles the document and a
test checks that routes and document agree.
"""

import secrets

from flask import Blueprint, current_app, g, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError

from screening.engine import get_screener
from screening.extensions import csrf, db
from screening.models import ROLES
from screening.services import proposals as svc
from screening.web import api_support as api
from screening.web.api_support import ApiProblem
from screening.web.security import roles_required

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # token authentication only: no cookie is ever honoured, so there is nothing to forge

LANGUAGES = ("en", "de")
READERS = ("researcher", *svc.READER_ROLES)
PUBLIC_ENDPOINTS = frozenset({"api.ping", "api.openapi", "api.not_found"})
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# (OpenAPI path, method) -> operation object; filled by @operation next to each route.
OPERATIONS: dict[tuple[str, str], dict] = {}


def init_app(app) -> None:
    """Register the API and the token pages; the per-token rate limit defaults to 600 a minute."""
    from screening.blueprints import tokens
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
    return jsonify(get_screener().screen(proposal, language=_language()))


@bp.get("/lists")
@operation("get", "/lists", "The partner lists (versions) screening uses", {"200": _json("Lists", "ListPage")})
@roles_required(*ROLES)
def lists():
    items = [{"name": pl.name, "version": pl.version, "title": pl.title, "publisher": pl.publisher,
              "source": pl.source, "licence": pl.licence, "entries": len(pl.entries)}
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
