"""Authorisation expectations for the installation's pages (/admin/installation/).

None of the matrix's actors is an installation administrator: whatever their roles, in either
institution, the pages do not exist for them (404; the anonymous are sent to the login page).
What installation administrators may do is specified in test_installation.py.
"""


def _not_revealed(actor, same_inst):
    return 404


SPEC = {
    "installation.index": ("GET", lambda ids: "/admin/installation/", _not_revealed),
    "installation.create_institution": ("POST", lambda ids: "/admin/installation/institutions", _not_revealed),
    "installation.invite_admin": ("POST", lambda ids: "/admin/installation/invitations", _not_revealed),
}
