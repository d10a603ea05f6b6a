"""Request guards, security headers and error pages (who the user is: ``screening.accounts.access``)."""

import hashlib
import logging
import os
import re
from urllib.parse import parse_qsl, urlsplit

from flask import Flask, abort, current_app, g, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from screening.core.errors import Conflict, ExplainedForbidden, Forbidden, NotFound
from screening.core.extensions import db

log = logging.getLogger("screening.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def safe_next(target: str | None, default: str | None = None) -> str:
    """A local path to redirect to; anything that could leave the site becomes ``default``."""
    fallback = default or url_for("main.index")
    if not target or not isinstance(target, str) or len(target) > 2000:
        return fallback
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$")


def request_id_for(incoming: str) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token (8-64 letters, digits, ``._:-``), else a new one."""
    return incoming if _ACCEPTABLE_REQUEST_ID.match(incoming) else os.urandom(8).hex()


def secret_digest(secret: str) -> str:
    """The SHA-256 (hex) under which a one-time secret is stored and looked up: API tokens,
    invitation links, sign-in states. A lone surrogate (from a URL or a header) hashes instead of
    raising, and then simply matches nothing."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _bad_request(message: str):
    abort(400, description=message)


def _check_input() -> None:
    """Malformed input answers 400 before any view sees it."""
    limit = current_app.config["MAX_FORM_FIELDS"]
    qs = request.query_string
    if qs:
        try:
            text = qs.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                              max_num_fields=limit)
        except (UnicodeDecodeError, ValueError):
            _bad_request(_("The address contains invalid characters or too many parameters."))
        if any("\x00" in k or "\x00" in v for k, v in pairs):
            _bad_request(_("The address contains invalid characters."))
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if request.mimetype == "application/x-www-form-urlencoded":
        raw = request.get_data(cache=True)
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8",
                              errors="strict", max_num_fields=limit)
        except (UnicodeDecodeError, ValueError):
            _bad_request(_("The form contains invalid characters or too many fields."))
        if any("\x00" in k or "\x00" in v for k, v in pairs):
            _bad_request(_("The form contains invalid characters (NUL bytes)."))
    elif request.mimetype == "multipart/form-data":
        for key, value in request.form.items(multi=True):
            if "\x00" in key or "\x00" in value or "\ufffd" in value:
                _bad_request(_("The form contains invalid characters."))


_FIXED_HEADERS = (
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _forced_headers(config, request_id: str) -> tuple[tuple[str, str], ...]:
    return (*_FIXED_HEADERS, *((_HSTS,) if config.get("SESSION_COOKIE_SECURE") else ()),
            ("X-Request-ID", request_id))


def api_answer_headers(config, request_id: str) -> list[tuple[str, str]]:
    """The headers ``_headers`` gives an API answer whose view set none of them (a JSON body, no
    session): for :mod:`screening.api.lean_screen`, which answers below Flask's request cycle."""
    return [*_forced_headers(config, request_id), ("Content-Security-Policy", CSP), ("Cache-Control", "no-store")]


def _headers(response):
    # Every answer gets these. A header the view set already is replaced (the fixed ones) or kept
    # (CSP, Cache-Control); one it did not set is appended, which skips werkzeug's search-and-remove.
    headers = response.headers
    present = {key.lower() for key, _ in headers.items()}
    for key, value in _forced_headers(current_app.config, g.get("request_id", "")):
        if key.lower() in present:
            headers[key] = value
        else:
            headers.add(key, value)
    if "content-security-policy" not in present:
        headers.add("Content-Security-Policy", CSP)
    if "cache-control" not in present and (g.get("user") is not None or request.endpoint != "static"):
        headers.add("Cache-Control", "no-store")
    return response


ERROR_TEXT = {
    400: (_l("Bad request"),
          _l("The request could not be understood. Check what you entered and try again.")),
    403: (_l("Not allowed"), _l("Your role does not allow this action.")),
    404: (_l("Not found"), _l("There is nothing here, or it is not available to you.")),
    405: (_l("Method not allowed"), _l("This address does not accept that kind of request.")),
    409: (_l("Conflict"), _l("This cannot be done in the item's current state. Reload the page to see it.")),
    413: (_l("Too large"), _l("What you sent is larger than allowed.")),
    429: (_l("Too many attempts"), _l("Too many attempts. Wait a few minutes and try again.")),
    500: (_l("Something went wrong"), _l("The error was logged. Nothing was saved. Please try again later.")),
}


def wants_json() -> bool:
    """A JSON request (body or Accept header) gets JSON problem answers instead of pages."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return request.is_json or (best is not None and best != "text/html")


def conflict_message(exc: Conflict) -> str:
    """A clear, translated message for a 409 (an illegal transition names both states)."""
    from screening.core.errors import IllegalTransition
    from screening.core.i18n import STATUS_LABELS

    if isinstance(exc, IllegalTransition):
        return _("This is not possible now: a case that is \"%(current)s\" cannot become \"%(target)s\". "
                 "Reload the page to see its current state.",
                 current=STATUS_LABELS.get(exc.from_state, exc.from_state),
                 target=STATUS_LABELS.get(exc.to_state, exc.to_state))
    return str(exc.args[0]) if exc.args else str(ERROR_TEXT[409][1])


def render_error(code: int, message: str | None = None):
    title, text = ERROR_TEXT.get(code, ERROR_TEXT[500])
    return render_template("errors/error.html", code=code, title=str(title), text=message or str(text),
                           request_id=g.get("request_id", "")), code


def answer_errors_under(app: Flask, prefix: str, answer) -> None:
    """HTTP errors on paths under ``prefix`` are answered by ``answer(exc)`` instead of an error page."""
    app.extensions.setdefault("error_answers", {})[prefix] = answer


def init_app(app: Flask) -> None:
    @app.before_request
    def _start():
        g.request_id = g.get("request_id") or request_id_for("")  # kept if set earlier (operations)
        _check_input()

    app.after_request(_headers)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        log.info("CSRF failure: %s (request %s)", exc.description, g.get("request_id"))
        return render_error(400, _("The form had expired or did not come from this site. "
                                   "Go back, reload the page and try again."))

    @app.errorhandler(NotFound)
    def _nf(exc):
        return render_error(404)

    @app.errorhandler(Forbidden)
    def _fb(exc):
        return render_error(403, str(exc) if isinstance(exc, ExplainedForbidden) else None)

    @app.errorhandler(Conflict)
    def _cf(exc):
        message = conflict_message(exc)
        if wants_json():
            return {"type": "about:blank", "title": "Conflict", "status": 409, "detail": message}, 409, \
                {"Content-Type": "application/problem+json"}
        return render_error(409, message)

    @app.errorhandler(HTTPException)
    def _http(exc):
        for prefix, answer in current_app.extensions.get("error_answers", {}).items():
            if request.path.startswith(prefix):  # e.g. no API route (an id beyond the database range): a problem
                return answer(exc)
        code = exc.code or 500
        message = exc.description if code == 400 and exc.description and "\n" not in exc.description \
            and not exc.description.startswith("The browser (or proxy)") else None
        return render_error(code, message)

    @app.errorhandler(Exception)
    def _internal(exc):
        log.exception("unhandled error (request %s)", g.get("request_id"))
        try:
            db.session.rollback()
        except Exception:
            log.exception("rollback failed")
        return render_error(500)
