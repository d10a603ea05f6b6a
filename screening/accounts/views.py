"""Log in, log out, own account and password."""

import logging

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from forms.accounts import ChangePasswordForm, LoginForm, PlainActionForm, SwitchInstitutionForm
from screening.accounts import service as accounts
from screening.accounts.access import login_required
from screening.core.errors import Forbidden, NotFound, ValidationFailed
from screening.core.extensions import db, limiter
from screening.core.security import safe_next

bp = Blueprint("auth", __name__)
log = logging.getLogger("screening.auth")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"), "")
        return render_template("accounts/login.html", form=form)
    if not form.validate():
        return render_template("accounts/login.html", form=form), 400
    email = accounts.normalise_email(form.email.data)
    address = request.remote_addr or "unknown"
    over_address = limiter.exceeded(f"login:addr:{address}", current_app.config["LOGIN_LIMIT_ADDRESS"])
    over_account = limiter.exceeded(f"login:acct:{email}", current_app.config["LOGIN_LIMIT_ACCOUNT"])
    if over_address or over_account:
        log.warning("login throttled: address=%s", address)
        form.password.data = ""
        return render_template("accounts/login.html", form=form,
                               error=_("Too many attempts. Wait a few minutes and try again.")), 429
    user = accounts.authenticate(db.session, email, form.password.data)
    institution_id = accounts.home_institution_id(db.session, user) if user else None
    if user is None or institution_id is None or not accounts.password_login_allowed(db.session, user, institution_id):
        db.session.rollback()
        log.info("login failed (request %s)", g.request_id)
        return render_template("accounts/login.html", form=form, error=_("Invalid e-mail or password.")), 200
    token = accounts.start_session(db.session, user, institution_id)
    db.session.commit()
    target = safe_next(form.next.data)
    session.clear()
    session.permanent = True
    session["sid"] = token
    return redirect(target)


@bp.post("/logout")
@login_required
def logout():
    form = PlainActionForm()
    if form.validate():
        accounts.end_session(db.session, session.get("sid", ""))
        db.session.commit()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/account/institution")
@login_required
def switch_institution():
    """Act for another of the user's institutions; then start afresh at the home page (the page
    the switch came from may show the other institution's objects)."""
    form = SwitchInstitutionForm()
    if not form.validate():
        abort(400, description=_("Choose one of your institutions."))
    try:
        accounts.switch_institution(db.session, g.actor, session.get("sid", ""), form.institution.data)
    except (Forbidden, NotFound):
        db.session.rollback()
        log.warning("institution switch refused: user=%s institution=%s", g.user.id, form.institution.data)
        abort(403)
    db.session.commit()
    return redirect(url_for("main.index"))


@bp.get("/account")
@login_required
def account():
    return render_template("accounts/account.html", roles=sorted(g.actor.roles))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if request.method == "POST" and form.validate():
        try:
            accounts.change_password(db.session, g.actor, form.current_password.data, form.new_password.data)
        except ValidationFailed:
            db.session.rollback()
            form.current_password.errors = [_("The current password is wrong.")]
        else:
            token = accounts.start_session(db.session, g.user, g.actor.institution_id)
            db.session.commit()
            session.clear()
            session.permanent = True
            session["sid"] = token
            return redirect(url_for("auth.account", changed=1))
        return render_template("accounts/password.html", form=form), 400
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/password.html", form=form), status
