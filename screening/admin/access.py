"""Who may administer: the institution administrator, for their current institution only; the
installation administrator, for the installation's list of institutions only."""

import functools
import logging

from flask import abort, g, redirect, request, url_for

from screening.accounts.models import Role
from screening.accounts.service import Actor
from screening.core.errors import Forbidden

ADMIN = Role.institution_admin.value
log = logging.getLogger("screening.web")


def require_admin(actor: Actor) -> None:
    if not actor.has(ADMIN):
        raise Forbidden("institution administrators only")


def installation_admin_required(view):
    """Logged in (else the login page) and an installation administrator, else 404: the pages of
    the installation are not revealed to anybody else."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not g.user.is_installation_admin:
            log.warning("installation page denied: user=%s endpoint=%s", g.user.id, request.endpoint)
            abort(404)
        return view(*args, **kwargs)

    return wrapped
