"""Authorisation expectations for single sign-on (docs/sso.md).

Sign-in pages and protocol endpoints are public (they answer 400 to requests without a sign-in
behind them). The providers' administration moved to /admin (tests/web/authz/admin.py); the old
address redirects institution admins there.
"""


def _admin(ok):
    return lambda actor, same_inst: ok if actor == "institution_admin" else 403


SPEC = {
    "sso.choose": ("GET", lambda ids: "/sso/", "public"),
    "sso.start": ("GET", lambda ids: "/sso/no-such-provider/login", "public"),
    "sso.saml_metadata": ("GET", lambda ids: "/sso/saml/metadata", "public"),
    "sso.saml_acs": ("POST", lambda ids: "/sso/saml/acs", "public"),
    "sso.saml_slo": ("GET", lambda ids: "/sso/saml/slo", "public"),
    "sso.oidc_callback": ("GET", lambda ids: "/sso/oidc/callback", "public"),
    "sso.logout": ("POST", lambda ids: "/sso/logout", "any"),
    # Moved to /admin/identity-providers (tests/web/authz/admin.py): the old address redirects.
    "sso.admin": ("GET", lambda ids: "/sso/admin", _admin(301)),
}


def extend_world(factory, world) -> None:
    """An OpenID Connect provider of institution A."""
    from screening.core.extensions import db
    from screening.sso import service

    inst_a = world["insts"][True]
    provider = service.configure_oidc_provider(
        db.session, None, inst_a, slug=f"{inst_a.slug}-oidc", display_name="Institution A",
        issuer=f"https://login.{inst_a.slug}.example", client_id="screening", client_secret="s" * 32,
        mapping={"scopes": [f"{inst_a.slug}.example"]})
    db.session.commit()
    world["ids"]["identity_provider"] = provider.id
