"""Single sign-on pages: choose a provider, start, the SAML and OIDC answers, metadata, logout.

The SAML assertion consumer takes a cross-site POST from the IdP: it is exempt from CSRF
tokens and protected instead by the signed assertion and the single-use RelayState that names
the sign-in started here (``sso_login_request``). Every other form carries a CSRF token.
"""

import logging

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from forms.accounts import PlainActionForm
from screening.accounts import service as accounts
from screening.accounts.access import login_required, roles_required
from screening.accounts.models import Institution, Role
from screening.core.errors import NotFound
from screening.core.extensions import csrf, db, limiter
from screening.core.security import safe_next
from screening.sso import oidc, saml, service
from screening.sso.identity import SsoError, SsoUnavailable
from screening.sso.models import IdentityProvider

bp = Blueprint("sso", __name__, url_prefix="/sso")
log = logging.getLogger("screening.sso")


THROTTLED = SsoError(_l("Too many attempts. Wait a few minutes and try again."), "too many attempts", status=429)


def _problem(exc: SsoError):
    log.info("sso refused: %s (request %s)", exc.reason, g.get("request_id"))
    status = 503 if isinstance(exc, SsoUnavailable) else exc.status
    return render_template("sso/error.html", message=exc.message, request_id=g.get("request_id", "")), status


def _too_many_attempts() -> bool:
    """Starts and answers from one address count together (an answer also writes an audit record)."""
    return limiter.exceeded(f"sso:addr:{request.remote_addr or 'unknown'}", current_app.config["LOGIN_LIMIT_ADDRESS"])


def _start_browser_session(token: str) -> None:
    session.clear()
    session.permanent = True
    session["sid"] = token


def _oidc_redirect_uri() -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}{url_for('sso.oidc_callback')}"


@bp.get("/")
def choose():
    providers = [p for p in service.list_providers(db.session) if p.enabled]
    institutions = {p.institution_id: db.session.get(Institution, p.institution_id) for p in providers}
    return render_template("sso/choose.html", providers=providers, institutions=institutions,
                           next=safe_next(request.args.get("next"), ""))


@bp.get("/<slug>/login")
def start(slug: str):
    provider = service.enabled_provider(db.session, slug=slug)
    if provider is None:
        raise NotFound(slug)
    if _too_many_attempts():
        return _problem(THROTTLED)
    next_path = safe_next(request.args.get("next"))
    try:
        state = service.new_state()
        if provider.protocol == "saml":
            request_id, location = saml.start_login(provider, state)
            service.begin_login(db.session, provider, state, next_path, request_id=request_id)
        else:
            nonce, verifier = oidc.new_secrets()
            service.begin_login(db.session, provider, state, next_path, nonce=nonce, code_verifier=verifier)
            location = oidc.authorization_url(provider, _oidc_redirect_uri(), state, nonce, verifier)
            session["sso_state"] = state  # binds the answer to this browser (the callback is a top-level GET)
    except SsoError as exc:
        db.session.rollback()
        return _problem(exc)
    db.session.commit()
    return redirect(location)


@bp.get("/saml/metadata")
def saml_metadata():
    try:
        document = saml.sp_metadata()
    except SsoError as exc:
        return _problem(exc)
    return Response(document, mimetype="application/samlmetadata+xml",
                    headers={"Content-Disposition": 'inline; filename="screening-sp-metadata.xml"'})


@bp.post("/saml/acs")
@csrf.exempt
def saml_acs():
    if _too_many_attempts():
        return _problem(THROTTLED)
    try:
        signed_in, next_path = service.complete_saml_login(db.session, request.form.get("RelayState"),
                                                           request.form.get("SAMLResponse"))
    except SsoError as exc:
        db.session.commit()  # the used RelayState, the seen assertion and the audited refusal stay
        return _problem(exc)
    db.session.commit()
    _start_browser_session(signed_in.session_token)
    return redirect(safe_next(next_path))


@bp.get("/oidc/callback")
def oidc_callback():
    if _too_many_attempts():
        return _problem(THROTTLED)
    try:
        signed_in, next_path = service.complete_oidc_login(
            db.session, request.args.get("state"), session.pop("sso_state", None),
            code=request.args.get("code", ""), provider_error=bool(request.args.get("error")),
            redirect_uri=_oidc_redirect_uri())
    except SsoError as exc:
        db.session.commit()
        return _problem(exc)
    db.session.commit()
    _start_browser_session(signed_in.session_token)
    return redirect(safe_next(next_path))


@bp.get("/saml/slo")
def saml_slo():
    """Single logout started at the IdP: a signed LogoutRequest on the redirect binding."""
    entity_id = saml.issuer_of_logout_request(request.args.get("SAMLRequest", ""))
    provider = service.enabled_provider(db.session, protocol="saml", entity_id=entity_id) if entity_id else None
    if provider is None:
        return _problem(SsoError(_("The logout request could not be verified."), "unknown logout issuer"))
    try:
        name_id, session_indexes, answer = saml.read_logout_request(
            provider, request.args.get("SAMLRequest", ""), request.args.get("RelayState"), request.args)
    except SsoError as exc:
        return _problem(exc)
    service.end_sessions_by_name_id(db.session, provider, name_id, session_indexes)
    db.session.commit()
    return redirect(answer)


# The providers' administration moved to the administration pages; old links still work.
@bp.get("/admin")
@roles_required(Role.institution_admin.value)
def admin():
    return redirect(url_for("admin.identity_providers"), code=301)


@bp.post("/logout")
@login_required
def logout():
    """Log out here and, for a SAML session whose IdP offers single logout, there too."""
    form = PlainActionForm()
    if not form.validate():
        return redirect(url_for("auth.account"))
    token = session.get("sid", "")
    target = url_for("auth.login")
    link = service.sso_session_of_token(db.session, token)
    if link is not None and link.name_id:
        provider = db.session.get(IdentityProvider, link.provider_id)
        try:
            target = saml.logout_request_url(provider, link.name_id, link.session_index) or target
        except SsoError as exc:
            log.info("single logout not started: %s", exc.reason)
    accounts.end_session(db.session, token)
    db.session.commit()
    session.clear()
    return redirect(target)
