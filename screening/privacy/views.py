"""The institution admin's privacy page (``/privacy``): retention periods, export and erasure of a person.

Every route needs the ``institution_admin`` role and acts only within the admin's institution
(``rights.find_person``); the main admin area lives elsewhere (``/admin``).
"""

import logging

from flask import Blueprint, Response, g, render_template
from flask_babel import gettext as _

from forms.privacy import EraseForm, PersonForm
from screening.accounts.access import roles_required
from screening.accounts.models import Institution, Role
from screening.core.errors import Conflict, NotFound
from screening.core.extensions import db
from screening.privacy import retention, rights
from screening.privacy.models import CATEGORIES

bp = Blueprint("privacy", __name__, url_prefix="/privacy")
log = logging.getLogger("screening.privacy")
ADMIN = Role.institution_admin.value


def _page(status: int = 200, export_form: PersonForm | None = None, erase_form: EraseForm | None = None,
          preview: dict[str, int] | None = None, erased: dict[str, int] | None = None,
          problem: str | None = None):
    institution = db.session.get(Institution, g.actor.institution_id)
    policy = retention.policy_of(db.session, institution.id)
    periods = {c: retention.format_period(getattr(policy, f"{c}_months")) for c in CATEGORIES}
    return render_template("privacy/index.html", institution=institution, periods=periods,
                           export_form=export_form or PersonForm(prefix="export"),
                           erase_form=erase_form or EraseForm(prefix="erase"), preview=preview,
                           erased=erased, problem=problem), status


@bp.get("/")
@roles_required(ADMIN)
def index():
    return _page()


@bp.post("/export")
@roles_required(ADMIN)
def export():
    form = PersonForm(prefix="export")
    if not form.validate():
        return _page(400, export_form=form)
    try:
        person = rights.find_person(db.session, g.actor, form.email.data)
    except NotFound:
        log.warning("privacy export refused: user=%s institution=%s", g.user.id, g.actor.institution_id)
        return _page(404, export_form=form, problem=_("Nobody with this address belongs to your institution."))
    archive = rights.export_person(db.session, g.actor, person)
    db.session.commit()  # the audit row
    return Response(archive.data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="person-{person.id}.zip"', "Cache-Control": "no-store"})


@bp.post("/erase")
@roles_required(ADMIN)
def erase():
    form = EraseForm(prefix="erase")
    if not form.validate():
        return _page(400, erase_form=form)
    try:
        person = rights.find_person(db.session, g.actor, form.email.data)
        counts = rights.erase_person(db.session, g.actor, person, dry_run=form.preview.data)
    except NotFound:
        log.warning("privacy erasure refused: user=%s institution=%s", g.user.id, g.actor.institution_id)
        return _page(404, erase_form=form, problem=_("Nobody with this address belongs to your institution."))
    except Conflict as exc:
        db.session.rollback()
        return _page(409, erase_form=form, problem=str(exc))
    if form.preview.data:
        db.session.rollback()
        return _page(erase_form=form, preview=counts)
    db.session.commit()
    return _page(erased=counts)
