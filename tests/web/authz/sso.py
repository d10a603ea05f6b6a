"""Authorisation expectations for single sign-on (docs/sso.md).

Sign-in pages and protocol endpoints are public (they answer 400 to requests without a sign-in
behind them); the administration pages need the institution admin of the provider's
institution (another institution's admin gets 404 for its provider). POSTs without a body
answer 400 to those allowed, except the toggle (302; it changes no proposal).
"""


def _admin(ok):
    return lambda actor, same_inst: ok if actor == "institution_admin" else 403


def _admin_of_provider(ok):
    def expect(actor, same_inst):
        if actor != "institution_admin":
            return 403
        return ok if same_inst else 404
    return expect


SPEC = {
    "sso.choose": ("GET", lambda ids: "/sso/", "public"),
    "sso.start": ("GET", lambda ids: "/sso/no-such-provider/login", "public"),
    "sso.saml_metadata": ("GET", lambda ids: "/sso/saml/metadata", "public"),
    "sso.saml_acs": ("POST", lambda ids: "/sso/saml/acs", "public"),
    "sso.saml_slo": ("GET", lambda ids: "/sso/saml/slo", "public"),
    "sso.oidc_callback": ("GET", lambda ids: "/sso/oidc/callback", "public"),
    "sso.logout": ("POST", lambda ids: "/sso/logout", "any"),
    "sso.admin": ("GET", lambda ids: "/sso/admin", _admin(200)),
    "sso.admin_password_login": ("POST", lambda ids: "/sso/admin/password-login", _admin(400)),
    "sso.admin_toggle_provider": ("POST", lambda ids: f"/sso/admin/providers/{ids['identity_provider']}/toggle",
                                  _admin_of_provider(302)),
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
