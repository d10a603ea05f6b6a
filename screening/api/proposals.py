"""Researchers' proposals: ``/proposals`` (drafts, submission, versions), through the same service as
the web pages."""

import secrets

from flask import g, jsonify, url_for
from sqlalchemy.exc import IntegrityError

from screening.accounts.access import roles_required
from screening.api import support as api
from screening.api.blueprint import bp
from screening.api.openapi import IDEMPOTENCY, LANGUAGE, LOCATION, PID, json_response, operation, problem
from screening.api.support import iso, language
from screening.core.engine import get_screener
from screening.core.extensions import db
from screening.proposals import service as svc

READERS = ("researcher", *svc.READER_ROLES)


def _proposal_json(p) -> dict:
    return {
        "id": p.id, "title": p.title, "status": p.status, "tier": p.tier, "route": p.route,
        "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
        "proposal": dict(p.data),
    }


def version_json(v) -> dict:
    return {
        "proposal_id": v.proposal_id, "number": v.number, "submitted_at": iso(v.submitted_at),
        "tier": v.tier, "route": v.route, "language": v.language, "ruleset_version": v.ruleset_version,
        "proposal": v.proposal_json, "result": v.result_json,
    }


@bp.get("/proposals")
@operation("get", "/proposals", "Your own proposals, newest first (keyset pagination)",
           {"200": json_response("One page", "ProposalPage"), "400": problem("Bad limit or cursor")},
           tags=("proposals",), roles=("researcher",), parameters=(
               {"name": "limit", "in": "query", "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
               {"name": "cursor", "in": "query", "required": False,
                "description": "Opaque: next_cursor of the previous page", "schema": {"type": "string"}}))
@roles_required("researcher")
def list_proposals():
    limit = api.int_arg("limit", 20, 1, 100)
    before = api.decode_cursor("proposals")
    rows = svc.list_own_page(db.session, g.actor, before, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [_proposal_json(p) for p in rows],
            "next_cursor": api.encode_cursor("proposals", rows[-1].id) if more and rows else None}


@bp.post("/proposals")
@operation("post", "/proposals", "Create a draft from a contract proposal",
           {"201": json_response("Created", "ProposalResource", LOCATION),
            "200": json_response("Already created with this Idempotency-Key", "ProposalResource", LOCATION)},
           tags=("proposals",), body="Proposal", parameters=(IDEMPOTENCY,), scope="write",
           roles=("researcher",))
@roles_required("researcher")
def create_proposal():
    key = api.idempotency_key()
    data = api.proposal_body()
    token = f"api-{key}" if key else f"api-{secrets.token_urlsafe(18)}"
    status = 201
    existing = svc.find_by_creation_token(db.session, g.actor, token) if key else None
    if existing is not None:
        proposal, status = existing, 200
    else:
        try:
            proposal = svc.save_draft(db.session, g.actor, data, creation_token=token)
            db.session.commit()
        except IntegrityError:  # a concurrent call with the same key won
            db.session.rollback()
            proposal = svc.find_by_creation_token(db.session, g.actor, token)
            if proposal is None:
                raise
            status = 200
    return jsonify(_proposal_json(proposal)), status, {"Location": url_for(".get_proposal", pid=proposal.id)}


@bp.get("/proposals/<int:pid>")
@operation("get", "/proposals/{pid}", "A proposal (its owner, or a committee/office/admin reader)",
           {"200": json_response("The proposal", "ProposalResource"), "404": problem("Not found or not yours")},
           tags=("proposals",), parameters=(PID,), roles=READERS)
@roles_required(*READERS)
def get_proposal(pid: int):
    return _proposal_json(svc.get_readable(db.session, g.actor, pid))


@bp.put("/proposals/<int:pid>")
@operation("put", "/proposals/{pid}", "Replace a draft with a contract proposal",
           {"200": json_response("Saved", "ProposalResource"), "404": problem("Not found or not yours"),
            "409": problem("Not a draft any more")},
           tags=("proposals",), body="Proposal", parameters=(PID,), scope="write", roles=("researcher",))
@roles_required("researcher")
def update_proposal(pid: int):
    proposal = svc.get_own(db.session, g.actor, pid, lock=True)
    data = api.proposal_body()
    proposal = svc.save_draft(db.session, g.actor, data, proposal=proposal)
    db.session.commit()
    return _proposal_json(proposal)


@bp.post("/proposals/<int:pid>/submit")
@operation("post", "/proposals/{pid}/submit", "Submit a draft: freeze, screen and route it",
           {"201": json_response("Submitted; the frozen version with its screening", "ProposalVersion", LOCATION),
            "200": json_response("Already submitted with this Idempotency-Key", "ProposalVersion", LOCATION),
            "400": problem("Malformed Idempotency-Key"),
            "404": problem("Not found or not yours"), "409": problem("Not a draft"),
            "422": problem("The draft does not satisfy the contract")},
           tags=("proposals",), parameters=(PID, IDEMPOTENCY, LANGUAGE), scope="write",
           roles=("researcher",))
@roles_required("researcher")
def submit_proposal(pid: int):
    key = api.idempotency_key()
    proposal = svc.get_own(db.session, g.actor, pid, lock=True)
    token = f"api-{g.user.id}-{key}" if key else f"api-{secrets.token_urlsafe(24)}"
    version = svc.version_for_token(db.session, proposal, token) if key else None
    status = 200
    if version is None:
        version = svc.submit(db.session, g.actor, proposal, token, get_screener(), language=language())
        db.session.commit()
        status = 201
    location = url_for(".get_version", pid=pid, number=version.number)
    return jsonify(version_json(version)), status, {"Location": location}


@bp.get("/proposals/<int:pid>/versions/<int:number>")
@operation("get", "/proposals/{pid}/versions/{number}", "A submitted version with its screening",
           {"200": json_response("The version", "ProposalVersion"), "404": problem("Not found or not yours")},
           tags=("proposals",), roles=READERS, parameters=(PID, {
               "name": "number", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}))
@roles_required(*READERS)
def get_version(pid: int, number: int):
    proposal = svc.get_readable(db.session, g.actor, pid)
    return version_json(svc.get_version(db.session, proposal, number))
