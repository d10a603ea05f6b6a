"""Who is asking: the current user from the session cookie, and the access decorators views use."""

import functools
import logging

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from forms.accounts import SwitchInstitutionForm
from screening.accounts.models import Institution
from screening.accounts.service import Actor, institutions_of, resolve_session, roles_in
from screening.core.extensions import db

log = logging.getLogger("screening.web")


def load_user() -> None:
    """``g.user`` and ``g.actor`` (the user in the institution of their session), or ``None``."""
    g.user = None
    g.actor = None
    token = session.get("sid")
    if not token or not isinstance(token, str):
        return
    found = resolve_session(db.session, token, current_app.config["SESSION_MAX_AGE_SECONDS"])
    if found is None:
        session.clear()
        return
    user, institution_id = found
    g.user = user
    roles = roles_in(db.session, user, institution_id)
    g.actor = Actor(user=user, institution_id=institution_id, roles=roles)


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def roles_required(*roles: str):
    """Logged in and holding one of ``roles`` in the current institution, else 403."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.get("user") is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not g.actor.has(*roles):
                log.warning("function-level denial: user=%s institution=%s endpoint=%s",
                            g.user.id, g.actor.institution_id, request.endpoint)
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator


def institution_header() -> dict:
    """For every page's header: the institution the user acts for and, with several, the switcher."""
    if g.get("actor") is None:
        return {}
    mine = institutions_of(db.session, g.user)
    acting = next((i for i in mine if i.id == g.actor.institution_id), None) \
        or db.session.get(Institution, g.actor.institution_id)
    return {"acting_institution": acting, "my_institutions": mine,
            "switch_form": SwitchInstitutionForm(formdata=None) if len(mine) > 1 else None}


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except under the paths of blueprints that authenticate each
    request by itself (the API's bearer tokens): there the cookie is neither read nor written, the
    answer does not vary on it, and the session is Flask's read-only null session."""

    def __init__(self) -> None:
        self.sessionless_prefixes: tuple[str, ...] = ()

    def open_session(self, app: Flask, request):
        if request.path.startswith(self.sessionless_prefixes):
            return None
        return super().open_session(app, request)


def no_session_under(app: Flask, prefix: str) -> None:
    """Requests under ``prefix`` carry their own credentials: no session cookie work for them."""
    app.session_interface.sessionless_prefixes += (prefix,)


def init_app(app: Flask) -> None:
    """Load the user before every request (after the core's request guards)."""
    app.session_interface = CookieSessions()
    app.before_request(load_user)
    app.context_processor(institution_header)
