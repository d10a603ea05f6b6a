"""Authorisation expectations for the committee review (issue 4).

Members and the chair of inst A's default committee see inst A's case; committee people of
inst B get 404; everybody else 403, and so does the recused member of inst A's committee. POSTs
without a body answer 400 to those allowed (the form is checked only after access), so the
matrix never changes state.
"""

from datetime import timedelta

from sqlmodel import select

from screening.core.database import utcnow
from screening.core.extensions import db
from screening.review import cases, deliberation, routing
from screening.review.models import (
    AdvisorInvitation,
    CommitteeMember,
    ConflictDeclaration,
    ReviewCase,
    RoutingRule,
)

from .core import RECUSED, recused

MEMBERS = {"committee_member", "committee_chair"}


def _members_page(actor, same_inst):
    return 200 if actor in MEMBERS else 403


def _case(ok):
    def expect(actor, same_inst):
        if actor not in MEMBERS:
            return 403
        return ok if same_inst else 404
    return recused(expect, 403)  # a recused member has no access to the case at all (issue 14, item 6)


def _chair(ok):
    def expect(actor, same_inst):
        if actor != "committee_chair":
            return 403
        return ok if same_inst else 404
    return expect


def _advisor(ok):
    def expect(actor, same_inst):
        if actor != "external_advisor":
            return 403
        return ok if same_inst else 404
    return expect


def _admin(ok, cross=None):
    def expect(actor, same_inst):
        if actor != "institution_admin":
            return 403
        return ok if same_inst or cross is None else cross
    return expect


C = "/review/cases/{}"
SPEC = {
    "review.queue": ("GET", lambda ids: "/review/", _members_page),
    "review.fast_tracked": ("GET", lambda ids: "/review/fast-tracked", _members_page),
    "review.case": ("GET", lambda ids: C.format(ids["case"]), _case(200)),
    "review.diff": ("GET", lambda ids: C.format(ids["case"]) + "/diff", _case(200)),
    "review.assign": ("POST", lambda ids: C.format(ids["case"]) + "/assign", _chair(400)),
    "review.disposition": ("POST", lambda ids: C.format(ids["case"]) + "/dispositions", _case(400)),
    "review.comment": ("POST", lambda ids: C.format(ids["case"]) + "/comments", _case(400)),
    "review.request_information": ("POST", lambda ids: C.format(ids["case"]) + "/information-request", _case(400)),
    "review.reopen": ("POST", lambda ids: C.format(ids["fast_case"]) + "/reopen", _case(400)),
    "review.conflict": ("POST", lambda ids: C.format(ids["case"]) + "/conflict", _case(400)),
    "review.vote": ("POST", lambda ids: C.format(ids["case"]) + "/votes", _case(400)),
    "review.decide": ("POST", lambda ids: C.format(ids["case"]) + "/decision", _chair(400)),
    "review.invite_advisor": ("POST", lambda ids: C.format(ids["case"]) + "/advisors", _chair(400)),
    "review.revoke_advisor": ("POST", lambda ids: C.format(ids["case"]) + "/advisors/revoke", _chair(400)),
    "review.advisor_home": ("GET", lambda ids: "/review/advisor/",
                            lambda a, s: 200 if a == "external_advisor" else 403),
    "review.advisor_case": ("GET", lambda ids: f"/review/advisor/cases/{ids['case']}", _advisor(200)),
    "review.advisor_opinion": ("POST", lambda ids: f"/review/advisor/cases/{ids['case']}/opinion", _advisor(400)),
    "review.advisor_welcome": ("GET", lambda ids: "/review/advisor/welcome/not-a-token", "public"),
    # Moved to /admin: the old addresses redirect.
    "review.admin_routing": ("GET", lambda ids: "/review/admin/routing", _admin(301)),
    "review.admin_conditions": ("GET", lambda ids: "/review/admin/conditions", _admin(301)),
}


def extend_world(factory, world) -> None:
    """A high-tier case in review (two versions) and a fast-tracked one, both in inst A; members
    of inst A's committee and of inst B's; an invitation for inst A's and inst B's advisors."""
    from screening.core.engine import get_screener
    from screening.proposals import service as proposals

    from .core import OWNER

    users, inst_a, inst_b = world["users"], world["insts"][True], world["insts"][False]
    for inst, same in ((inst_a, True), (inst_b, False)):
        committee = routing.ensure_setup(db.session, None, inst.id)
        db.session.add(CommitteeMember(committee_id=committee.id, user_id=users[("committee_member", same)].id,
                                       role="member"))
        db.session.add(CommitteeMember(committee_id=committee.id, user_id=users[("committee_chair", same)].id,
                                       role="chair"))
        db.session.add(RoutingRule(institution_id=inst.id, committee_id=committee.id, kind="faculty",
                                   value="Physics"))
    db.session.commit()
    owner = users[(OWNER, True)]
    high = factory.proposal(owner, inst_a, submit=True, partners=[
        {"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}])
    fast = factory.proposal(owner, inst_a, submit=True)
    case = routing.case_for_proposal(db.session, high)
    fast_case = routing.case_for_proposal(db.session, fast)
    # A second version, so that the diff page exists.
    chair = factory.actor(users[("committee_chair", True)], inst_a)
    deliberation.request_information(db.session, cases.get_case(db.session, chair, case.id), "Which institute?")
    actor = factory.actor(owner, inst_a)
    proposals.submit(db.session, actor, high, "matrix-resubmission-token", get_screener())
    for same in (True, False):
        db.session.add(AdvisorInvitation(case_id=case.id, advisor_id=users[("external_advisor", same)].id,
                                         invited_by_id=users[("committee_chair", True)].id,
                                         expires_at=utcnow() + timedelta(days=7)))
    db.session.commit()
    world["ids"].update(case=case.id, fast_case=fast_case.id)
    # The recused member sits on inst A's committee and declared a conflict on every case there.
    db.session.add(CommitteeMember(committee_id=case.committee_id, user_id=users[(RECUSED, True)].id, role="member"))
    for recused_case in db.session.exec(select(ReviewCase).where(ReviewCase.institution_id == inst_a.id)).all():
        db.session.add(ConflictDeclaration(case_id=recused_case.id, user_id=users[(RECUSED, True)].id,
                                           reason="matrix: co-author of the partner"))
    db.session.commit()
