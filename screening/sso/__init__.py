"""Single sign-on: SAML 2.0 and OpenID Connect identity providers, one per institution.

``models`` holds the tables, ``service`` the configuration and sign-in functions (session and
actor passed in, flush only), ``saml`` and ``oidc`` the protocol work, ``views`` the blueprint
and ``commands`` the ``screening sso`` command group. See docs/sso.md.
"""
