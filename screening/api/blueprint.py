"""The JSON API's blueprint, ``/api/v1``: its request life cycle and the routes of no resource.

Views are thin: authenticate the bearer token (``support.authenticate``), check the role with the
same ``roles_required`` the web pages use, parse and validate the body, call a service, commit
once. Every failure is an ``application/problem+json`` answer. Each resource has its own module
(``screen``, ``proposals``, ``cases``, ``portfolio``) whose routes attach to this blueprint; each
route carries its OpenAPI operation (:mod:`screening.api.openapi`) right next to it.
"""

from flask import Blueprint, current_app, g, jsonify, request

from screening.api import support as api
from screening.api.openapi import OPERATIONS, json_response, operation
from screening.api.schema import document
from screening.api.support import ApiProblem
from screening.core.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # token authentication only: no cookie is ever honoured, so there is nothing to forge


PUBLIC_ENDPOINTS = frozenset({"api.ping", "api.openapi", "api.not_found"})
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
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


@bp.get("/ping")
@operation("get", "/ping", "Liveness of the API (no authentication)",
           {"200": json_response("Alive", "Ping")}, tags=("meta",), public=True)
def ping():
    return {"status": "ok"}


@bp.get("/openapi.json")
@operation("get", "/openapi.json", "This OpenAPI 3.1 description", {"200": {
    "description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}},
    tags=("meta",), public=True)
def openapi():
    return jsonify(document(OPERATIONS))


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
