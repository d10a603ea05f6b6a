"""Who may administer: the institution administrator, for their current institution only."""

from screening.accounts.models import Role
from screening.accounts.service import Actor
from screening.core.errors import Forbidden

ADMIN = Role.institution_admin.value


def require_admin(actor: Actor) -> None:
    if not actor.has(ADMIN):
        raise Forbidden("institution administrators only")
