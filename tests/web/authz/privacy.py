"""Authorisation expectations for the privacy page (docs/operations.md, "Rights requests").

Only institution admins; the pages carry no ids (a person is named by address and looked up in
the admin's own institution only, see tests/operations/test_rights.py). POSTs without a body
answer 400 to the admin.
"""


def _admin(ok):
    return lambda actor, same_inst: ok if actor == "institution_admin" else 403


SPEC = {
    "privacy.index": ("GET", lambda ids: "/privacy/", _admin(200)),
    "privacy.export": ("POST", lambda ids: "/privacy/export", _admin(400)),
    "privacy.erase": ("POST", lambda ids: "/privacy/erase", _admin(400)),
}
