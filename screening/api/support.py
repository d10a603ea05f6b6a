"""Plumbing of the JSON API: problem answers (RFC 9457), bearer-token authentication, strict JSON
bodies, contract validation with JSON Pointers, opaque keyset cursors.

No cookie authentication here: an API call is authenticated by its ``Authorization: Bearer``
token alone, so a cross-site request riding on a browser session cannot do anything (CSRF).
"""

import logging
import re

import orjson
from flask import Flask, current_app, g, jsonify, request
from itsdangerous import BadSignature, URLSafeSerializer
from jsonschema import Draft202012Validator
from werkzeug.datastructures import LanguageAccept
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES, parse_accept_header

from screening.api import token_cache, tokens
from screening.api.schema import components
from screening.core.errors import Conflict, ExplainedForbidden, Forbidden, NotFound, ValidationFailed
from screening.core.extensions import db, limiter

log = logging.getLogger("screening.api")

PROBLEM_MIME = "application/problem+json"
PROBLEM_BASE = "https://screening.example/problems/"
DEFAULT_RATE_LIMIT = (600, 60)  # requests per seconds, per token
# WSGI environ key: the id of the token whose use this request has counted already (lean_screen
# counts it before handing a request it does not answer on to the route). No header can set it.
RATE_COUNTED = "screening.api.token_use_counted"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_UNEXPECTED = re.compile(r"\(([^)]*) (?:was|were) unexpected\)")


class ApiProblem(Exception):
    """Raised anywhere in an API request to answer with an ``application/problem+json`` body."""

    def __init__(self, status: int, detail: str | None = None, *, title: str | None = None,
                 type_: str = "about:blank", errors: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail or title or str(status))
        self.status, self.detail, self.title, self.type = status, detail, title, type_
        self.errors, self.headers = errors, headers or {}


def problem_response(exc: ApiProblem):
    body = {
        "type": exc.type,
        "title": exc.title or HTTP_STATUS_CODES.get(exc.status, "Error"),
        "status": exc.status,
        "instance": request.path,
        "request_id": g.get("request_id", ""),
    }
    if exc.detail:
        body["detail"] = exc.detail
    if exc.errors:
        body["errors"] = exc.errors
    response = jsonify(body)
    response.status_code = exc.status
    response.mimetype = PROBLEM_MIME
    for key, value in exc.headers.items():
        response.headers[key] = value
    return response


def pointer(path: str) -> str:
    """'partners[0].country' (the rules engine's path) -> '/partners/0/country' (RFC 6901)."""
    if not path:
        return ""
    tokens_ = re.findall(r"[^.\[\]]+", path)
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens_)


def validation_problem(problems: list[tuple[str, str]], detail: str = "The request body is not valid.") -> ApiProblem:
    errors = []
    for path, reason in problems:
        m = _UNEXPECTED.search(reason)
        if m:  # unknown fields: point at each of them
            for name in re.findall(r"'([^']*)'", m.group(1)):
                errors.append({"pointer": f"{pointer(path)}/{name}", "detail": "unknown field"})
            continue
        errors.append({"pointer": pointer(path), "detail": reason})
    return ApiProblem(422, detail, title="Validation failed", type_=PROBLEM_BASE + "validation", errors=errors)


def handle_error(exc: Exception):
    """The API blueprint's one error handler: every failure becomes a problem document."""
    from rules import ProposalError

    if isinstance(exc, ApiProblem | ProposalError | ValidationFailed | NotFound | Forbidden | Conflict
                  | HTTPException):
        db.session.rollback()  # nothing half-done stays in the session
    if isinstance(exc, ApiProblem):
        return problem_response(exc)
    if isinstance(exc, ProposalError):
        return problem_response(validation_problem([(p.path, p.reason) for p in exc.problems]))
    if isinstance(exc, ValidationFailed):
        return problem_response(validation_problem(list(exc.errors.items())))
    if isinstance(exc, NotFound):
        return problem_response(ApiProblem(404, "There is nothing here, or it is not available to you."))
    if isinstance(exc, Forbidden):
        detail = str(exc) if isinstance(exc, ExplainedForbidden) else "Your role does not allow this action."
        return problem_response(ApiProblem(403, detail))
    if isinstance(exc, Conflict):
        return problem_response(ApiProblem(409, str(exc) or "The object's state does not allow this."))
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        headers = {}
        if code == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        detail = {403: "Your role does not allow this action.",
                  404: "There is nothing here, or it is not available to you.",
                  413: "The request body is larger than allowed."}.get(code)
        if code == 400 and exc.description and "\n" not in exc.description \
                and not exc.description.startswith("The browser (or proxy)"):
            detail = exc.description
        return problem_response(ApiProblem(code, detail, headers=headers))
    log.exception("unhandled API error (request %s)", g.get("request_id"))
    try:
        db.session.rollback()
    except Exception:
        log.exception("rollback failed")
    return problem_response(ApiProblem(500, "The error was logged. Nothing was saved."))


# ----------------------------------------------------------------- authentication

def authenticate(write: bool) -> None:
    """Resolve the bearer token into ``g.user``/``g.actor``; 401, 403 (scope) or 429 otherwise.

    A session cookie is ignored: whatever ``_load_user`` found from it is cleared first.
    """
    g.user = None
    g.actor = None
    g.api_token = None
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise ApiProblem(401, "Send a personal API token: Authorization: Bearer <token>.",
                         headers={"WWW-Authenticate": 'Bearer realm="screening"'})
    resolved = _resolve(value, cacheable=not write)
    if resolved is None:
        log.info("API token rejected (request %s)", g.get("request_id"))
        raise ApiProblem(401, "The token is unknown, expired or revoked.",
                         headers={"WWW-Authenticate": 'Bearer realm="screening", error="invalid_token"'})
    if request.environ.get(RATE_COUNTED) != resolved.token.id and over_rate_limit(resolved.token.id):
        attempts, window = rate_limit()
        raise ApiProblem(429, f"More than {attempts} requests in {window} seconds with this token.",
                         type_=PROBLEM_BASE + "rate-limited", headers={"Retry-After": str(window)})
    if write and resolved.token.scope != "write":
        raise ApiProblem(403, "This token has the read scope; this call needs write.",
                         type_=PROBLEM_BASE + "insufficient-scope",
                         headers={"WWW-Authenticate": 'Bearer realm="screening", error="insufficient_scope"'})
    g.user = resolved.actor.user
    g.actor = resolved.actor
    g.api_token = resolved.token


def rate_limit(app: Flask | None = None) -> tuple[int, int]:
    attempts, window = (app or current_app).config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT
    return attempts, window


def over_rate_limit(token_id: int, app: Flask | None = None) -> bool:
    """Count one call with the token: True when it is one too many for ``API_RATE_LIMIT``.
    ``app``: the application, outside its context."""
    return limiter.exceeded(f"api:token:{token_id}", rate_limit(app), leased=True, app=app)


def _resolve(value: str, cacheable: bool) -> tokens.Resolved | None:
    """tokens.resolve, answered for read calls from this process's token cache when it is on.

    ``API_AUTH_CACHE_SECONDS`` (0 = off; production default 1) and ``API_AUTH_REFRESH_SECONDS``
    bound how long a change of access may take to reach a worker (see :mod:`token_cache`).
    Calls that change data always resolve the token from the database.
    """
    max_age = float(current_app.config.get("API_AUTH_CACHE_SECONDS") or 0)
    if not max_age:
        return tokens.resolve(db.session, value)
    cache = token_cache.cache(current_app._get_current_object())
    digest = tokens.hash_token(value)
    if cacheable:
        hit = cache.get(digest, max_age, float(current_app.config["API_AUTH_REFRESH_SECONDS"]))
        if hit is not None:
            return hit
    generation = cache.generation()
    resolved = tokens.resolve(db.session, value)
    cache.put(digest, resolved, generation)
    return resolved


# ----------------------------------------------------------------- input

def json_body():
    """The request body as JSON: UTF-8, no NaN/Infinity, no lone surrogates, else 400/415.

    orjson refuses all three (and numbers beyond a double, which the json module turns into
    infinity), so one parse checks everything.
    """
    if request.mimetype != "application/json":
        raise ApiProblem(415, "Send the body as application/json.")
    raw = request.get_data(cache=True)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        if _SURROGATE_ESCAPE.search(raw):
            raise ApiProblem(400, "The body contains unpaired surrogate characters.") from None
        raise ApiProblem(400, "The body is not valid JSON in UTF-8.") from None


def proposal_body() -> dict:
    """A contract proposal from the body; unknown fields (institution_id, status, ...) are refused."""
    from rules.validation import validate_proposal

    return validate_proposal(json_body())  # ProposalError -> 422 with pointers


IDEMPOTENCY_RE = re.compile(r"^[A-Za-z0-9_-]{8,40}$")


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_RE.match(key):
        raise ApiProblem(400, "Idempotency-Key: use 8 to 40 letters, digits, '-' or '_'.",
                         errors=[{"parameter": "Idempotency-Key", "detail": "invalid"}])
    return key


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not low <= int(raw) <= high:
        raise ApiProblem(400, f"{name} must be an integer from {low} to {high}.",
                         errors=[{"parameter": name, "detail": f"an integer from {low} to {high}"}])
    return int(raw)


def _serializer(kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"api-cursor:{kind}")


def encode_cursor(kind: str, last_id: int) -> str:
    return _serializer(kind).dumps({"after": last_id})


def decode_cursor(kind: str) -> int | None:
    """The id the opaque, signed ``cursor`` parameter points after (keyset on id), or None."""
    raw = request.args.get("cursor")
    if raw is None:
        return None
    try:
        value = _serializer(kind).loads(raw)
        after = int(value["after"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise ApiProblem(400, "The cursor is not one this API gave out.",
                         errors=[{"parameter": "cursor", "detail": "invalid cursor"}]) from None
    return after


# ----------------------------------------------------------------- shared by the resources

LANGUAGES = ("en", "de")


def language() -> str:
    return language_of(request.headers.get("Accept-Language"))


def language_of(accept_language: str | None) -> str:
    """The language of the explanations for an ``Accept-Language`` header (None: not sent)."""
    if not accept_language:  # most clients send none: skip parsing it
        return "en"
    return parse_accept_header(accept_language, LanguageAccept).best_match(LANGUAGES, "en") or "en"


def iso(value):
    return value.isoformat() if value is not None else None


def checked_body(schema_name: str) -> dict:
    """A JSON body checked against its input schema (unknown fields refused) -> 422 with pointers."""
    data = json_body()
    validator = Draft202012Validator(components()[schema_name])
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        problems.append((path, error.message if error.validator != "pattern"
                         else "contains control, zero-width or direction-override characters"))
    if problems:
        raise validation_problem(problems)
    return data
