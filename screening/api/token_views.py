"""Personal API tokens of the logged-in user: list, create (shown once), revoke."""

from flask import Blueprint, abort, g, redirect, render_template, url_for

from forms.accounts import PlainActionForm
from forms.api import CreateTokenForm
from screening.accounts.access import login_required
from screening.api import tokens as svc
from screening.core.errors import ValidationFailed
from screening.core.extensions import db

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


def _page(form, created=None, status=200):
    tokens = svc.list_active(db.session, g.user, g.actor.institution_id)  # those of the institution acted for
    return render_template("api/tokens.html", form=form, tokens=tokens,
                           created=created, action_form=PlainActionForm()), status


@bp.get("/")
@login_required
def index():
    return _page(CreateTokenForm())


@bp.post("/")
@login_required
def create():
    form = CreateTokenForm()
    if not form.validate():
        return _page(form, status=400)
    try:
        row, plaintext = svc.create(db.session, g.actor, form.name.data, form.scope.data,
                                    form.expires_in_days.data)
    except ValidationFailed as exc:
        db.session.rollback()
        form.name.errors = [*form.name.errors, *exc.errors.values()]
        return _page(form, status=400)
    db.session.commit()
    # The only time the token is shown: never stored in clear, never in a URL or a redirect.
    return _page(CreateTokenForm(formdata=None), created={"row": row, "token": plaintext})


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    form = PlainActionForm()
    if not form.validate():
        abort(400)
    svc.revoke(db.session, g.actor, token_id)
    db.session.commit()  # every worker's token cache forgets the token (screening.api.token_cache)
    return redirect(url_for(".index"))
