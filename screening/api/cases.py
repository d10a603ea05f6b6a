"""Committee cases: ``/cases`` (queue, one case, flag dispositions, decisions with ETag/If-Match).

Through the review service exactly as the /review pages: committee members of the case's
committee only (others of the institution and other institutions: 404, logged), chair actions
need the committee's chair; a recused member gets 403 on the case and sees it in the queue only as
``recused``, without anything of its proposal.
"""

import re

from flask import g, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError

from screening.accounts.access import roles_required
from screening.api import support as api
from screening.api.blueprint import bp
from screening.api.openapi import LOCATION, json_response, operation, problem
from screening.api.proposals import version_json
from screening.api.support import ApiProblem, checked_body, iso
from screening.core.countries import ISO_CODES
from screening.core.errors import ValidationFailed
from screening.core.extensions import db
from screening.proposals import workflow
from screening.review import case_page, cases, decisions, deliberation, queues

FLAG_CATEGORIES = ("field", "partner", "funding", "data_transfer", "export_control", "country")
CASE_ID = {"name": "case_id", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
FLAG_KEY = {"name": "flag_key", "in": "path", "required": True, "description": "The flag's key (see flags[].key)",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": True,
            "description": "The ETag of GET /cases/{case_id}: the decision is refused (412) if the case "
                           "changed since.", "schema": {"type": "string"}}
ETAG = {"ETag": {"schema": {"type": "string"}, "description": "The case's version (send it as If-Match)"}}
FLAG_KEY_RE = re.compile(r"^[0-9a-f]{16}$")
ASSIGNEE_RE = re.compile(r"^(me|none|[0-9]{1,9})$")
CASE_FILTERS = (
    {"name": "status", "in": "query", "required": False, "description": "Default: in review and information "
     "requested", "schema": {"enum": list(workflow.STATES)}},
    {"name": "tier", "in": "query", "required": False, "schema": {"enum": list(queues.TIER_ORDER)}},
    {"name": "category", "in": "query", "required": False, "description": "A flag category",
     "schema": {"enum": list(FLAG_CATEGORIES)}},
    {"name": "country", "in": "query", "required": False, "description": "A partner country (ISO 3166-1 alpha-2)",
     "schema": {"enum": sorted(ISO_CODES)}},
    {"name": "min_age", "in": "query", "required": False, "description": "Open for at least this many days",
     "schema": {"type": "integer", "minimum": 0, "maximum": 3650}},
    {"name": "assignee", "in": "query", "required": False, "description": "me, none or a rapporteur's user id",
     "schema": {"type": "string", "pattern": ASSIGNEE_RE.pattern}},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    {"name": "cursor", "in": "query", "required": False,
     "description": "Opaque: next_cursor of the previous page", "schema": {"type": "string"}},
)


def _etag(case) -> str:
    return f'"case-{case.id}-v{case.version}"'


def _enum_arg(name: str, allowed) -> str | None:
    raw = request.args.get(name)
    if raw is not None and raw not in allowed:
        raise ApiProblem(400, f"{name}: not one of the allowed values.",
                         errors=[{"parameter": name, "detail": "not an allowed value"}])
    return raw


def _case_filters() -> dict:
    """The web queue's filters, but strict: a bad value is a 400 problem, not ignored."""
    filters: dict = {}
    for name, allowed in (("status", workflow.STATES), ("tier", queues.TIER_ORDER),
                          ("category", FLAG_CATEGORIES), ("country", ISO_CODES)):
        if (value := _enum_arg(name, allowed)) is not None:
            filters[name] = value
    if request.args.get("min_age") is not None:
        filters["min_age"] = api.int_arg("min_age", 0, 0, 3650)
    assignee = request.args.get("assignee")
    if assignee is not None:
        if not ASSIGNEE_RE.match(assignee):
            raise ApiProblem(400, "assignee: me, none or a user id.",
                             errors=[{"parameter": "assignee", "detail": "me, none or a user id"}])
        filters["assignee"] = assignee if assignee in ("me", "none") else int(assignee)
    return filters


def _committee_json(c) -> dict:
    return {"id": c.id, "name": c.name}


def _case_summary_json(row) -> dict:
    case, proposal = row.case, row.proposal
    if row.recused:
        return {"id": case.id, "recused": True, "proposal_id": None, "title": None, "status": None, "tier": None,
                "committee": _committee_json(row.committee), "rapporteur_id": None, "opened_at": iso(case.opened_at),
                "due_at": iso(case.due_at), "overdue": row.overdue, "version_number": None,
                "flag_categories": [], "partner_countries": []}
    return {
        "id": case.id, "recused": False, "proposal_id": proposal.id, "title": proposal.title, "status": proposal.status,
        "tier": proposal.tier, "committee": _committee_json(row.committee), "rapporteur_id": case.rapporteur_id,
        "opened_at": iso(case.opened_at), "due_at": iso(case.due_at), "overdue": row.overdue,
        "version_number": row.version.number if row.version else None,
        "flag_categories": sorted(c for c in row.categories if c),
        "partner_countries": sorted(c for c in row.countries if c),
    }


def _disposition_json(d, user=None) -> dict:
    return {"id": d.id, "flag_key": d.flag_key, "disposition": d.disposition, "reason": d.reason,
            "version_number": d.version_number, "user_id": d.user_id, "user_name": user.name if user else None,
            "created_at": iso(d.created_at)}


def _decision_json(d) -> dict:
    return {"id": d.id, "case_id": d.case_id, "proposal_id": d.proposal_id, "version_number": d.version_number,
            "outcome": d.outcome, "reasoning": d.reasoning, "conditions": list(d.conditions or []),
            "decided_by_id": d.decided_by_id, "decided_at": iso(d.decided_at), "supersedes_id": d.supersedes_id,
            "superseded_at": iso(d.superseded_at)}


def _case_json(access, page: dict) -> dict:
    case, proposal = access.case, access.proposal
    dispositions = [_disposition_json(d, user) for rows in page["deliberation"]["dispositions"].values()
                    for d, user in rows]
    dispositions.sort(key=lambda item: (item["created_at"], item["id"]))
    current = next((d for d in page["decisions"] if d.superseded_at is None), None)
    return {
        "id": case.id, "proposal_id": proposal.id, "title": proposal.title, "status": proposal.status,
        "tier": proposal.tier, "committee": _committee_json(access.committee), "role": access.role,
        "rapporteur_id": case.rapporteur_id, "opened_at": iso(case.opened_at),
        "due_at": iso(case.due_at), "overdue": page["overdue"], "lock_version": case.version,
        "version": version_json(page["version"]) if page["version"] else None,
        "versions": [v.number for v in page["versions"]],
        "flags": page["flags"],
        "dispositions": dispositions,
        "information_requests": [
            {"id": r.id, "questions": r.questions, "asked_at": iso(r.asked_at), "version_asked": r.version_asked,
             "answered_version": r.answered_version, "answered_at": iso(r.answered_at)}
            for r in page["requests"]],
        "decision": _decision_json(current) if current else None,
    }


@bp.get("/cases")
@operation("get", "/cases", "The committee queue: cases of your committees, newest first (keyset pagination)",
           {"200": json_response("One page", "CasePage"), "400": problem("Bad filter, limit or cursor")},
           tags=("cases",), roles=cases.COMMITTEE_ROLES, parameters=CASE_FILTERS)
@roles_required(*cases.COMMITTEE_ROLES)
def list_cases():
    filters = _case_filters()
    limit = api.int_arg("limit", 20, 1, 100)
    before = api.decode_cursor("cases")
    rows = [r for r in queues.queue(db.session, g.actor, filters) if before is None or r.case.id < before]
    rows.sort(key=lambda r: r.case.id, reverse=True)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [_case_summary_json(r) for r in rows],
            "next_cursor": api.encode_cursor("cases", rows[-1].case.id) if more and rows else None}


@bp.get("/cases/<int:case_id>")
@operation("get", "/cases/{case_id}", "A case: the proposal as submitted, its flags, dispositions and decision",
           {"200": json_response("The case; ETag is its version", "Case", ETAG),
            "403": problem("You declared a conflict of interest on this case"),
            "404": problem("Not found, or not a case of your committees")},
           tags=("cases",), roles=cases.COMMITTEE_ROLES, parameters=(CASE_ID,))
@roles_required(*cases.COMMITTEE_ROLES)
def get_case(case_id: int):
    access = cases.get_case(db.session, g.actor, case_id)
    page = case_page.case_page(db.session, access)
    return jsonify(_case_json(access, page)), 200, {"ETag": _etag(access.case)}


@bp.put("/cases/<int:case_id>/flags/<flag_key>/disposition")
@operation("put", "/cases/{case_id}/flags/{flag_key}/disposition",
           "Record the committee's disposition of a flag (confirmed, dismissed as a false match, mitigated)",
           {"200": json_response("Recorded (the case keeps every disposition as history)", "CaseDisposition"),
            "403": problem("Not a committee member, you declared a conflict of interest, or read scope"),
            "404": problem("No such case or flag"),
            "409": problem("The case is not under review")},
           tags=("cases",), roles=cases.COMMITTEE_ROLES, parameters=(CASE_ID, FLAG_KEY),
           body="CaseDispositionInput", scope="write")
@roles_required(*cases.COMMITTEE_ROLES)
def put_disposition(case_id: int, flag_key: str):
    access = cases.get_case(db.session, g.actor, case_id)
    if not FLAG_KEY_RE.match(flag_key):
        raise ApiProblem(404, "There is no such flag on the case's current version.")
    data = checked_body("CaseDispositionInput")
    try:
        row = deliberation.record_disposition(db.session, access, flag_key, data["disposition"], data["reason"])
    except ValidationFailed as exc:
        if "flag" in exc.errors:
            raise ApiProblem(404, "There is no such flag on the case's current version.") from None
        raise
    db.session.commit()
    return _disposition_json(row, g.user)


@bp.post("/cases/<int:case_id>/decision")
@operation("post", "/cases/{case_id}/decision",
           "Issue the decision (chair); on a decided case, a correction that supersedes it",
           {"201": json_response("Decided; ETag is the case's new version", "CaseDecision", {**ETAG, **LOCATION}),
            "403": problem("Not the committee's chair, a conflict of interest, or read scope"),
            "404": problem("Not found, or not a case of your committees"),
            "409": problem("The case is not in review"),
            "412": problem("If-Match does not match: the case changed since you read it"),
            "428": problem("If-Match is missing")},
           tags=("cases",), roles=("committee_chair",), parameters=(CASE_ID, IF_MATCH),
           body="CaseDecisionInput", scope="write")
@roles_required("committee_chair")
def decide_case(case_id: int):
    access = cases.get_case(db.session, g.actor, case_id)
    data = checked_body("CaseDecisionInput")
    if "If-Match" not in request.headers:
        raise ApiProblem(428, "Send If-Match with the ETag of GET /cases/{case_id}.",
                         type_=api.PROBLEM_BASE + "precondition-required",
                         errors=[{"parameter": "If-Match", "detail": "required"}])
    seen = access.case.version
    if request.if_match.star_tag or not request.if_match.contains(_etag(access.case).strip('"')):  # "*" too
        raise ApiProblem(412, "The case changed since you read it (If-Match does not match its ETag). "
                              "Read it again.", type_=api.PROBLEM_BASE + "stale",
                         errors=[{"parameter": "If-Match", "detail": "does not match the current ETag"}])
    try:
        decision = decisions.decide(db.session, access, seen, data["outcome"], data["reasoning"],
                                    list(data.get("conditions") or []), list(data.get("free_conditions") or []))
        db.session.commit()
    except cases.StaleCase:  # a concurrent decision won between our read and our write
        db.session.rollback()
        raise ApiProblem(412, "Someone else changed this case in the meantime. Read it again.",
                         type_=api.PROBLEM_BASE + "stale",
                         errors=[{"parameter": "If-Match", "detail": "no longer current"}]) from None
    except IntegrityError:  # the unique (case, case version) of decisions backs the lock up
        db.session.rollback()
        raise ApiProblem(409, "Someone else decided this case at the same moment.") from None
    return jsonify(_decision_json(decision)), 201, {"ETag": _etag(access.case),  # version reloaded
                                                    "Location": url_for(".get_case", case_id=case_id)}
