"""The institution administrators' list of notifications that could not be delivered."""

from flask import Blueprint, g, render_template

from screening.accounts.access import roles_required
from screening.core.extensions import db
from screening.notifications.service import failed_mails

bp = Blueprint("notifications", __name__, url_prefix="/admin/notifications")


@bp.get("/")
@roles_required("institution_admin")
def failed():
    return render_template("notifications/failed.html", rows=failed_mails(db.session, g.actor))
