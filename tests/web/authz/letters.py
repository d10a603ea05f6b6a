"""Authorisation expectations for letters (issue 5): download, retry, the admins' list, /verify.

A letter can be read by its researcher, the (non-recused) committee of its case, the
institution's international office and admins; everybody else gets 404, never 403, so the
existence of a document id leaks nothing. Retrying needs the chair or an admin (the letter in
this world is ready, so they get 409 and nothing changes).
"""

from .core import OWNER, recused

READERS = {OWNER, "committee_member", "committee_chair", "international_office", "institution_admin"}
RETRIERS = {"committee_chair", "institution_admin"}


def _download(actor, same_inst):
    return 200 if same_inst and actor in READERS else 404


def _retry(actor, same_inst):
    if not same_inst or actor not in READERS:
        return 404
    return 409 if actor in RETRIERS else 403


SPEC = {
    # The recused member (on the letter's case too) is not a reader: 404 as for strangers.
    "documents.download": ("GET", lambda ids: f"/documents/{ids['letter']}/download", recused(_download, 404)),
    "documents.retry": ("POST", lambda ids: f"/documents/{ids['letter']}/retry", recused(_retry, 404)),
    "documents.admin": ("GET", lambda ids: "/documents/admin",
                        lambda a, s: 200 if a == "institution_admin" else 403),
    "documents.verify": ("GET", lambda ids: "/verify", "public"),
    "documents.verify_code": ("GET", lambda ids: "/verify/0000000000000000", "public"),
}


def extend_world(factory, world) -> None:
    """A fast-tracked proposal of the owner in inst A, whose clearance letter is rendered (eager)."""
    from sqlmodel import select

    from screening.core.extensions import db
    from screening.documents.models import GeneratedDocument

    owner, inst_a = world["users"][(OWNER, True)], world["insts"][True]
    proposal = factory.proposal(owner, inst_a, submit=True)
    doc = db.session.exec(select(GeneratedDocument).where(GeneratedDocument.proposal_id == proposal.id)).one()
    assert doc.sha256, "the clearance letter was not rendered"
    world["ids"]["letter"] = doc.id
