"""The institution's identity providers as the administration pages edit them.

The configuration itself (checks, storage, audit) is :mod:`screening.sso.service`; this module
turns the pages' plain fields into its attribute mapping and keeps every call inside the
administrator's own institution.
"""

import re

from sqlmodel import Session

from screening.accounts.models import Institution
from screening.accounts.service import Actor
from screening.admin.access import require_admin
from screening.core.errors import ValidationFailed
from screening.review.cases import deny
from screening.sso import service as sso
from screening.sso.models import IdentityProvider

_ENTITLEMENT_LINE = re.compile(r"^(?P<value>\S.*?)\s*=\s*(?P<role>[a-z_]+)$")


def mapping_from_fields(scopes: str, entitlement_lines: str, current: dict | None = None) -> dict:
    """The attribute mapping from the form: scopes separated by spaces or commas, and one
    ``entitlement = role`` per line; other keys of the ``current`` mapping are kept."""
    entitlement_roles = {}
    for number, line in enumerate((entitlement_lines or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = _ENTITLEMENT_LINE.match(line.strip())
        if match is None:
            raise ValidationFailed({"entitlement_roles": f"line {number}: write entitlement = role"})
        entitlement_roles[match["value"]] = match["role"]
    mapping = {**(current or {}), "scopes": [s for s in re.split(r"[\s,]+", scopes or "") if s],
               "entitlement_roles": entitlement_roles}
    return sso.normalise_mapping(mapping)


def providers(session: Session, actor: Actor) -> list[IdentityProvider]:
    require_admin(actor)
    return sso.list_providers(session, actor.institution_id)


def _current(session: Session, actor: Actor, protocol: str) -> IdentityProvider | None:
    return next((p for p in providers(session, actor) if p.protocol == protocol), None)


def save_saml(session: Session, actor: Actor, *, slug: str, display_name: str, metadata_xml: str,
              entity_id: str | None, scopes: str, entitlement_lines: str) -> IdentityProvider:
    """Add the institution's SAML identity provider, or change the one it has."""
    current = _current(session, actor, "saml")
    mapping = mapping_from_fields(scopes, entitlement_lines, current.attribute_mapping if current else None)
    return sso.configure_saml_provider(session, actor.user, session.get(Institution, actor.institution_id),
                                       slug=slug, display_name=display_name, metadata_xml=metadata_xml,
                                       mapping=mapping, entity_id=entity_id or None)


def save_oidc(session: Session, actor: Actor, *, slug: str, display_name: str, issuer: str, client_id: str,
              client_secret: str, scopes: str, entitlement_lines: str) -> IdentityProvider:
    """Add the institution's OpenID Connect provider, or change the one it has."""
    current = _current(session, actor, "oidc")
    mapping = mapping_from_fields(scopes, entitlement_lines, current.attribute_mapping if current else None)
    return sso.configure_oidc_provider(session, actor.user, session.get(Institution, actor.institution_id),
                                       slug=slug, display_name=display_name, issuer=issuer, client_id=client_id,
                                       client_secret=client_secret, mapping=mapping)


def toggle(session: Session, actor: Actor, provider_id: int) -> IdentityProvider:
    """Switch one of the institution's providers on or off; another institution's is NotFound."""
    require_admin(actor)
    provider = session.get(IdentityProvider, provider_id)
    if provider is None or provider.institution_id != actor.institution_id:
        raise deny(actor, f"identity provider {provider_id}", "other institution")
    sso.set_provider_enabled(session, actor.user, provider, not provider.enabled)
    return provider


def set_password_login(session: Session, actor: Actor, allowed: bool) -> None:
    require_admin(actor)
    sso.set_password_login(session, actor.user, session.get(Institution, actor.institution_id), allowed)


def password_login_enabled(session: Session, actor: Actor) -> bool:
    require_admin(actor)
    return sso.password_login_enabled(session, actor.institution_id)


def entitlement_lines(provider: IdentityProvider) -> str:
    """The mapping's entitlements as the form shows them."""
    return "\n".join(f"{value} = {role}" for value, role in
                     (provider.attribute_mapping.get("entitlement_roles") or {}).items())
