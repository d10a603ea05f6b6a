"""Authorisation expectations for the administration pages (/admin).

Every page needs the institution admin; everybody else gets 403. An id of another institution
(a person, an identity provider, a token) answers 404 to institution B's admin. POSTs without a
body answer 400 to institution A's admin (the form is checked after access), except the
provider switch and the token revocation, which need no fields (303). The invitation link is
public: an unknown token is 404 for everybody.
"""

from .core import OWNER


def _admin(ok):
    return lambda actor, same_inst: ok if actor == "institution_admin" else 403


def _admin_of_object(ok):
    def expect(actor, same_inst):
        if actor != "institution_admin":
            return 403
        return ok if same_inst else 404
    return expect


SPEC = {
    "admin.index": ("GET", lambda ids: "/admin/", _admin(302)),
    "admin.users_page": ("GET", lambda ids: "/admin/users?q=user", _admin(200)),
    "admin.invite_user": ("POST", lambda ids: "/admin/users/invite", _admin(400)),
    "admin.user_state": ("POST", lambda ids: f"/admin/users/{ids['admin_person']}/state", _admin_of_object(400)),
    "admin.user_roles": ("POST", lambda ids: f"/admin/users/{ids['admin_person']}/roles", _admin_of_object(400)),
    "admin.welcome": ("GET", lambda ids: "/admin/welcome/no-such-invitation", "public"),
    "admin.committees": ("GET", lambda ids: "/admin/committees", _admin(200)),
    "admin.conditions": ("GET", lambda ids: "/admin/conditions", _admin(200)),
    "admin.identity_providers": ("GET", lambda ids: "/admin/identity-providers", _admin(200)),
    "admin.save_saml_provider": ("POST", lambda ids: "/admin/identity-providers/saml", _admin(400)),
    "admin.save_oidc_provider": ("POST", lambda ids: "/admin/identity-providers/oidc", _admin(400)),
    "admin.toggle_provider": ("POST", lambda ids: f"/admin/identity-providers/{ids['identity_provider']}/toggle",
                              _admin_of_object(303)),
    "admin.password_login": ("POST", lambda ids: "/admin/identity-providers/password-login", _admin(400)),
    "admin.api_tokens": ("GET", lambda ids: "/admin/tokens", _admin(200)),
    "admin.revoke_token": ("POST", lambda ids: f"/admin/tokens/{ids['owner_token']}/revoke", _admin_of_object(303)),
    "admin.partner_lists": ("GET", lambda ids: "/admin/lists", _admin(200)),
    "admin.upload_list": ("POST", lambda ids: "/admin/lists", _admin(400)),
    "admin.confirm_list": ("POST", lambda ids: "/admin/lists/staged", _admin(400)),
    "admin.audit_log_page": ("GET", lambda ids: "/admin/audit?action=user.", _admin(200)),
}


def extend_world(factory, world) -> None:
    """The person the user pages act on: institution A's researcher (its provider and token come
    from the sso and api modules)."""
    world["ids"]["admin_person"] = world["users"][(OWNER, True)].id
