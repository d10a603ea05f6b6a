"""Public pages: the start page, the language switch, a health check."""

from flask import Blueprint, current_app, g, jsonify, make_response, redirect, request, url_for

from screening.core.extensions import db
from screening.core.i18n import LANG_COOKIE
from screening.core.security import safe_next

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if g.user is None:
        return redirect(url_for("auth.login"))
    if g.actor.has("researcher"):
        return redirect(url_for("proposals.dashboard"))
    return redirect(url_for("auth.account"))


@bp.post("/language")
def set_language():
    lang = request.form.get("language", "")
    target = safe_next(request.form.get("next"))
    response = make_response(redirect(target))
    if lang in current_app.config["LANGUAGES"]:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
        if g.user is not None:
            g.user.language = lang
            db.session.add(g.user)
            db.session.commit()
    return response


@bp.get("/healthz")
def health():
    return jsonify(status="ok")
