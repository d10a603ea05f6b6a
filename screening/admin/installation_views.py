"""The installation's pages (``/admin/installation/``): institutions, for installation administrators.

Every route answers 404 to anybody logged in without the flag (screening.admin.access) and sends
the anonymous to the login page. The flag grants no role in any institution, so the rest of the
application treats its holder like anyone else. Views are thin: validate the form, call a
service of screening.admin.installation, commit once; a refusal re-renders the page with the
reason at the field (400).
"""

from flask import Blueprint, g, redirect, render_template, url_for

from forms.admin import FirstAdminForm, InstitutionForm
from forms.proposals import select_choices
from screening.admin import installation
from screening.admin.access import installation_admin_required
from screening.core.errors import ValidationFailed
from screening.core.extensions import csrf, db

bp = Blueprint("installation", __name__, url_prefix="/admin/installation")
# The forms check their CSRF token themselves (FlaskForm), after the access check: so a request
# without a token gets the same 404 as any unknown address, not a 400 that reveals the route.
csrf.exempt(bp)


def _page(institution_form=None, invite_form=None, status: int = 200):
    rows = installation.institutions(db.session, g.user)
    if invite_form is None:
        invite_form = FirstAdminForm(prefix="invite", formdata=None)
    invite_form.institution.choices = select_choices((r.institution.id, f"{r.institution.name} ({r.institution.slug})")
                                               for r in rows if not r.administrators)
    return render_template("admin/installation.html", rows=rows,
                           institution_form=institution_form or InstitutionForm(prefix="institution", formdata=None),
                           invite_form=invite_form), status


def _attempt(form, fn, *args) -> bool:
    """Run a service and commit; False (the form carrying the reason at its field) when it refuses."""
    try:
        fn(db.session, g.user, *args)
    except ValidationFailed as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            field = getattr(form, name, None)
            (field.errors if field is not None and isinstance(field.errors, list) else form.form_errors).append(message)
        return False
    db.session.commit()
    return True


@bp.get("/")
@installation_admin_required
def index():
    return _page()


@bp.post("/institutions")
@installation_admin_required
def create_institution():
    form = InstitutionForm(prefix="institution")
    if not form.validate() or not _attempt(form, installation.create_institution, form.slug.data, form.name.data):
        return _page(institution_form=form, status=400)
    return redirect(url_for(".index"), code=303)


@bp.post("/invitations")
@installation_admin_required
def invite_admin():
    form = FirstAdminForm(prefix="invite")
    # Any institution may be named; the service refuses one that has an administrator.
    form.institution.choices = select_choices((r.institution.id, r.institution.slug)
                                        for r in installation.institutions(db.session, g.user))
    if not form.validate() or not _attempt(form, installation.invite_first_admin, form.institution.data,
                                           form.email.data, form.name.data):
        return _page(invite_form=form, status=400)
    return redirect(url_for(".index"), code=303)
