"""Committee review (issue 4): workflow, routing, fast track, deliberation, information requests,
conflicts of interest, external advisors, votes and decisions, history."""

import itertools
import os
from datetime import timedelta

import pytest
from sqlmodel import select

from screening.accounts.models import User
from screening.core.database import utcnow
from screening.core.errors import Forbidden, IllegalTransition
from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.notifications import transports
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review import advisors, cases, decisions, queues, routing
from screening.review.models import (
    AdvisorInvitation,
    CaseComment,
    CommitteeMember,
    Decision,
    FlagDisposition,
    ReviewCase,
    RoutingRule,
    Vote,
)

HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]


# ---------------------------------------------------------------- workflow table

@pytest.fixture
def parties(factory):
    inst = factory.institution()
    owner = factory.user(inst, "researcher")
    proposal = factory.proposal(owner, inst)
    return inst, {"owner": owner, "member": factory.user(inst, "committee_member")}, proposal


def _fire(proposal, frm, to, party, users):
    """Fire ``frm -> to`` as ``party`` (the review service passes the checked committee role)."""
    proposal.status = frm
    db.session.add(proposal)
    db.session.flush()
    if party == workflow.SYSTEM:
        workflow.transition(db.session, proposal, to, users["owner"], as_system=True)
    elif party == workflow.OWNER:
        workflow.transition(db.session, proposal, to, users["owner"])
    else:
        workflow.transition(db.session, proposal, to, users["member"], committee_role=party)


@pytest.mark.parametrize(("frm", "to"), sorted(workflow.MOVES))
def test_every_allowed_transition_fires_for_its_parties_and_is_audited(parties, frm, to):
    _inst, owner, proposal = parties
    move = workflow.MOVES[(frm, to)]
    for party in sorted(move.who):
        before = db.session.exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first().seq
        _fire(proposal, frm, to, party, owner)
        assert proposal.status == to
        event = db.session.exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert event.seq == before + 1 and event.action == f"proposal.{to}"
        assert event.details["from"] == frm and event.details["move"] == move.name
    for party in {workflow.OWNER, workflow.MEMBER, workflow.CHAIR, workflow.SYSTEM} - move.who:
        if party == workflow.MEMBER and workflow.CHAIR in move.who:
            continue  # a chair is also a member, not the other way round: tested below
        with pytest.raises(Forbidden):
            _fire(proposal, frm, to, party, owner)
        assert proposal.status == frm


COMPLEMENT = sorted(set(itertools.product(workflow.STATES, repeat=2)) - set(workflow.MOVES))


@pytest.mark.parametrize(("frm", "to"), COMPLEMENT)
def test_every_other_pair_is_refused(parties, frm, to):
    _inst, owner, proposal = parties
    for party in (workflow.OWNER, workflow.CHAIR, workflow.SYSTEM):
        with pytest.raises(IllegalTransition):
            _fire(proposal, frm, to, party, owner)
        assert proposal.status == frm


def test_the_table_has_the_issue_states():
    assert workflow.allowed("in_review", "information_requested")
    assert workflow.allowed("information_requested", "in_review")
    assert workflow.allowed("fast_tracked", "in_review") and workflow.allowed("decided", "in_review")
    assert not workflow.allowed("decided", "withdrawn")
    assert workflow.MOVES[("in_review", "decided")].who == {"committee_chair"}


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def world(factory):
    inst = factory.institution()
    other = factory.institution()
    researcher = factory.user(inst, "researcher")
    member = factory.user(inst, "committee_member")
    member2 = factory.user(inst, "committee_member")
    chair = factory.user(inst, "committee_chair")
    committee = routing.ensure_setup(db.session, None, inst.id)
    for user, role in ((member, "member"), (member2, "member"), (chair, "chair")):
        db.session.add(CommitteeMember(committee_id=committee.id, user_id=user.id, role=role))
    db.session.commit()
    proposal = factory.proposal(researcher, inst, submit=True, title="Legged robots with HIT",
                                research_fields=["2.2"], partners=HARBIN)
    case = routing.case_for_proposal(db.session, proposal)
    return {"inst": inst, "other": other, "researcher": researcher, "member": member, "member2": member2,
            "chair": chair, "committee": committee, "proposal": proposal, "case": case}



def _case_html(client, case):
    r = client.get(f"/review/cases/{case.id}")
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


# ---------------------------------------------------------------- routing and fast track


def test_submission_opens_a_case_in_review_with_a_due_date(world):
    case, proposal = world["case"], world["proposal"]
    assert proposal.status == "in_review" and case.committee_id == world["committee"].id
    assert case.routed_by == "default" and case.due_at - case.opened_at == timedelta(days=30)


def test_routing_by_faculty_then_field_prefix_then_default(factory):
    from screening.review.models import Committee

    inst = factory.institution()
    researcher = factory.user(inst, "researcher")
    default = routing.ensure_setup(db.session, None, inst.id)
    physics = Committee(institution_id=inst.id, name="Physics faculty committee")
    engineering = Committee(institution_id=inst.id, name="Engineering committee")
    electrical = Committee(institution_id=inst.id, name="Electrical engineering committee")
    db.session.add_all([physics, engineering, electrical])
    db.session.flush()
    db.session.add_all([
        RoutingRule(institution_id=inst.id, committee_id=physics.id, kind="faculty", value="Faculty of Physics"),
        RoutingRule(institution_id=inst.id, committee_id=engineering.id, kind="field_prefix", value="2"),
        RoutingRule(institution_id=inst.id, committee_id=electrical.id, kind="field_prefix", value="2.2"),
    ])
    db.session.commit()

    def routed(fields, faculty=None):
        p = factory.proposal(researcher, inst, research_fields=fields, partners=HARBIN)
        p.faculty = faculty
        version = ProposalVersion(proposal_json={"research_fields": fields}, result_json={})
        return routing.route(db.session, p, version)[0].id

    assert routed(["2.2"], "faculty of physics") == physics.id
    assert routed(["2.2"]) == electrical.id
    assert routed(["2.3"]) == engineering.id
    assert routed(["2.10"]) == engineering.id
    assert routed(["1.5"]) == default.id


def test_low_tier_is_fast_tracked_with_rationale_listed_and_reopened_by_a_member(app, factory, world):
    low = factory.proposal(world["researcher"], world["inst"], submit=True, title="Sediments with Copenhagen")
    assert low.status == "fast_tracked"
    case = routing.case_for_proposal(db.session, low)
    why = case.fast_track_rationale
    assert why["ruleset_version"] and why["ruleset_hash"] and why["lists"] and why["tier"] == "low"
    assert db.session.exec(select(AuditEvent).where(AuditEvent.action == "case.fast_tracked",
                                                    AuditEvent.object_id == str(case.id))).first()
    member = factory.logged_in_client(world["member"])
    page = member.get("/review/fast-tracked").get_data(as_text=True)
    assert "Sediments with Copenhagen" in page and why["ruleset_hash"][:12] in page
    assert "Sediments with Copenhagen" not in member.get("/review/").get_data(as_text=True)
    assert member.post(f"/review/cases/{case.id}/reopen", data={"reason": ""}).status_code == 400
    r = member.post(f"/review/cases/{case.id}/reopen", data={"reason": "Spot check: partner unclear"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Proposal, low.id).status == "in_review"
    assert "Sediments with Copenhagen" in member.get("/review/").get_data(as_text=True)
    # reopening again is an illegal move: 409 with a clear message
    r = member.post(f"/review/cases/{case.id}/reopen", data={"reason": "again"})
    assert r.status_code == 409 and "reopened" in r.get_data(as_text=True)


# ---------------------------------------------------------------- queue


def test_queue_filters_sorting_overdue_and_rapporteur(app, factory, world):
    case = world["case"]
    chair = factory.logged_in_client(world["chair"])
    assert "Legged robots with HIT" in chair.get("/review/").get_data(as_text=True)
    for query, shown in [("tier=critical", True), ("tier=low", False), ("category=partner", True),
                         ("category=funding", False), ("country=CN", True), ("country=DK", False),
                         ("min_age=0", True), ("min_age=5", False), ("assignee=none", True),
                         ("assignee=me", False), ("sort=tier", True), ("status=decided", False)]:
        html = chair.get(f"/review/?{query}").get_data(as_text=True)
        assert ("Legged robots with HIT" in html) is shown, query
    r = chair.post(f"/review/cases/{case.id}/assign", data={"rapporteur": str(world["member"].id)})
    assert r.status_code == 302
    member = factory.logged_in_client(world["member"])
    assert "Legged robots with HIT" in member.get("/review/?assignee=me").get_data(as_text=True)
    # a member cannot assign (403), and a non-member of the committee cannot be assigned (400)
    r = member.post(f"/review/cases/{case.id}/assign", data={"rapporteur": str(world["member"].id)})
    assert r.status_code == 403
    outsider = factory.user(world["inst"], "committee_member")
    assert chair.post(f"/review/cases/{case.id}/assign", data={"rapporteur": str(outsider.id)}).status_code == 400
    # overdue: due date in the past
    db.session.get(ReviewCase, case.id).due_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert "overdue" in chair.get("/review/").get_data(as_text=True)
    sent = queues.notify_overdue(db.session)
    db.session.commit()
    assert sent == [case.id] and queues.notify_overdue(db.session) == []


def test_committee_of_another_institution_and_outsiders_see_nothing(app, factory, world):
    case = world["case"]
    foreign_chair = factory.user(world["other"], "committee_chair")
    committee_b = routing.ensure_setup(db.session, None, world["other"].id)
    db.session.add(CommitteeMember(committee_id=committee_b.id, user_id=foreign_chair.id, role="chair"))
    db.session.commit()
    foreign = factory.logged_in_client(foreign_chair)
    assert "Legged robots" not in foreign.get("/review/").get_data(as_text=True)
    assert foreign.get(f"/review/cases/{case.id}").status_code == 404
    r = foreign.post(f"/review/cases/{case.id}/decision",
                     data={"case_version": "1", "outcome": "approved", "reasoning": "x"})
    assert r.status_code == 404
    not_on_committee = factory.logged_in_client(factory.user(world["inst"], "committee_member"))
    assert not_on_committee.get(f"/review/cases/{case.id}").status_code == 404
    researcher = factory.logged_in_client(world["researcher"])
    for url in (f"/review/cases/{case.id}/decision", f"/review/cases/{case.id}/votes",
                f"/review/cases/{case.id}/reopen"):
        assert researcher.post(url, data={"reason": "x", "outcome": "approved", "reasoning": "x",
                                          "case_version": "1"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Proposal, world["proposal"].id).status == "in_review"
    assert not db.session.exec(select(Decision).where(Decision.case_id == case.id)).all()


# ---------------------------------------------------------------- deliberation and information requests


def test_full_review_dispositions_comments_information_request_resubmission_diff_and_decision(app, factory, world):
    case, proposal = world["case"], world["proposal"]
    chair = factory.logged_in_client(world["chair"])
    html = _case_html(chair, case)
    assert "Harbin Institute of Technology" in html and "unitracker.aspi.org.au" in html
    flags = cases.flags_of(cases.latest_version(db.session, proposal))
    key = flags[0]["key"]
    assert chair.post(f"/review/cases/{case.id}/dispositions",
                      data={"flag": key, "disposition": "dismissed", "reason": ""}).status_code == 400
    r = chair.post(f"/review/cases/{case.id}/dispositions",
                   data={"flag": key, "disposition": "dismissed", "reason": "Different Harbin institute"})
    assert r.status_code == 302
    assert db.session.exec(select(FlagDisposition)).one().reason == "Different Harbin institute"
    chair.post(f"/review/cases/{case.id}/comments", data={"kind": "internal", "body": "SECRET-INTERNAL note"})
    chair.post(f"/review/cases/{case.id}/comments", data={"kind": "message", "body": "Hello from the committee"})
    r = chair.post(f"/review/cases/{case.id}/information-request",
                   data={"questions": "Which HIT department? <script>x</script>"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status == "information_requested"
    # asking twice is an illegal transition: 409, as a page or as a JSON problem
    r = chair.post(f"/review/cases/{case.id}/information-request", data={"questions": "again"})
    assert r.status_code == 409 and "Information requested" in r.get_data(as_text=True)
    r = chair.post(f"/review/cases/{case.id}/information-request", data={"questions": "again"},
                   headers={"Accept": "application/json"})
    assert r.status_code == 409 and r.mimetype == "application/problem+json" and r.json["status"] == 409

    researcher = factory.logged_in_client(world["researcher"])
    page = researcher.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert "Which HIT department? &lt;script&gt;" in page and "Hello from the committee" in page
    assert "SECRET-INTERNAL" not in page
    from tests.web.helpers import form_post_data

    r = researcher.post(f"/proposals/{proposal.id}/edit", data=form_post_data(**{
        "title": "Legged robots with HIT", "research_fields": ["2.2"],
        "partners-0-name": "Harbin Institute of Technology", "partners-0-country": "CN",
        "partners-0-department": "School of Mechatronics", "partners-1-name": "ETH Zürich",
        "partners-1-country": "CH", "partners-1-type": "university"}))
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    db.session.expire_all()
    fresh = db.session.get(Proposal, proposal.id)
    assert fresh.status == "in_review"
    assert [v.number for v in cases.versions(db.session, fresh)] == [1, 2]
    diff = chair.get(f"/review/cases/{case.id}/diff").get_data(as_text=True)
    assert "ETH Zürich" in diff and "partners[1].name" in diff and "School of Mechatronics" in diff

    html = _case_html(chair, case)
    assert "answered with version 2" in html and "SECRET-INTERNAL" in html
    version = db.session.get(ReviewCase, case.id).version
    template = decisions.condition_templates(db.session, world["inst"].id)[0]
    r = chair.post(f"/review/cases/{case.id}/decision", data={
        "case_version": str(version), "outcome": "approved_with_conditions", "reasoning": "Acceptable",
        "conditions": [str(template.id)]})
    assert r.status_code == 302
    decision = db.session.exec(select(Decision).where(Decision.case_id == case.id)).one()
    assert decision.conditions[0]["key"] == template.key and decision.version_number == 2
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status == "decided"
    page = researcher.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert "Approved with conditions" in page and template.text_en in page
    # the history shows every step
    html = _case_html(chair, case)
    for action in ("proposal.in_review", "flag.disposition", "proposal.information_requested",
                   "case.resubmitted", "decision.issued", "proposal.decided"):
        assert action in html, action


def test_decision_rules_stale_version_and_correction(app, factory, world):
    case = world["case"]
    chair = factory.logged_in_client(world["chair"])
    version = db.session.get(ReviewCase, case.id).version
    base = {"case_version": str(version), "reasoning": "Because"}
    assert chair.post(f"/review/cases/{case.id}/decision",
                      data={**base, "outcome": "approved_with_conditions"}).status_code == 400
    assert chair.post(f"/review/cases/{case.id}/decision", data={**base, "outcome": "approved",
                                                                  "reasoning": ""}).status_code == 400
    member = factory.logged_in_client(world["member"])
    assert member.post(f"/review/cases/{case.id}/decision", data={**base, "outcome": "approved"}).status_code == 403
    r = chair.post(f"/review/cases/{case.id}/decision", data={**base, "outcome": "declined"})
    assert r.status_code == 302
    # the same form sent again (stale version): 409, nothing new
    r = chair.post(f"/review/cases/{case.id}/decision", data={**base, "outcome": "approved"})
    assert r.status_code == 409 and "changed this case" in r.get_data(as_text=True)
    assert len(db.session.exec(select(Decision).where(Decision.case_id == case.id)).all()) == 1
    # a correction is a new decision superseding the first
    fresh = db.session.get(ReviewCase, case.id)
    db.session.refresh(fresh)
    r = chair.post(f"/review/cases/{case.id}/decision", data={
        "case_version": str(fresh.version), "outcome": "approved_with_conditions", "reasoning": "Corrected",
        "free_conditions": "Report every six months"})
    assert r.status_code == 302
    first, second = db.session.exec(select(Decision).where(Decision.case_id == case.id).order_by(Decision.id)).all()
    assert first.superseded_at is not None and second.supersedes_id == first.id and second.superseded_at is None
    assert second.conditions[0]["text_en"] == "Report every six months"
    assert db.session.exec(select(AuditEvent).where(AuditEvent.action == "decision.corrected",
                                                    AuditEvent.object_id == str(case.id))).first()


def test_votes_are_recorded_and_replaced(app, factory, world):
    case = world["case"]
    member = factory.logged_in_client(world["member"])
    assert member.post(f"/review/cases/{case.id}/votes", data={"recommendation": "approve"}).status_code == 400
    member.post(f"/review/cases/{case.id}/votes", data={"recommendation": "approve", "text": "fine"})
    member.post(f"/review/cases/{case.id}/votes", data={"recommendation": "decline", "text": "not fine"})
    assert [(v.recommendation, v.text) for v in db.session.exec(select(Vote)).all()] == [("decline", "not fine")]


# ---------------------------------------------------------------- conflicts of interest


def test_recused_member_sees_nothing_of_the_case_and_cannot_act(app, factory, world):
    case = world["case"]
    chair = factory.logged_in_client(world["chair"])
    chair.post(f"/review/cases/{case.id}/comments", data={"kind": "internal", "body": "DELIBERATION-TEXT"})
    chair.post(f"/review/cases/{case.id}/votes", data={"recommendation": "decline", "text": "VOTE-TEXT"})
    member = factory.logged_in_client(world["member"])
    assert "DELIBERATION-TEXT" in _case_html(member, case)
    assert member.post(f"/review/cases/{case.id}/conflict", data={"reason": ""}).status_code == 400
    assert member.post(f"/review/cases/{case.id}/conflict",
                       data={"reason": "I co-authored with the partner"}).status_code == 302
    assert db.session.exec(select(AuditEvent).where(AuditEvent.action == "case.conflict_declared")).first()
    title = world["proposal"].title
    r = member.get(f"/review/cases/{case.id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and "conflict of interest" in html
    for secret in ("DELIBERATION-TEXT", "VOTE-TEXT", "Harbin Institute of Technology", title):
        assert secret not in html
    queue = member.get("/review/").get_data(as_text=True)
    assert "recused" in queue and f'data-case="{case.id}"' in queue
    assert title not in queue and "Harbin" not in queue and f"/review/cases/{case.id}" not in queue
    assert title not in member.get("/review/?country=CN").get_data(as_text=True)
    # Nor through the proposal pages, which committee members may otherwise read.
    assert member.get(f"/proposals/{world['proposal'].id}").status_code == 404
    assert member.get(f"/proposals/{world['proposal'].id}/versions/1").status_code == 404
    before = (len(db.session.exec(select(Vote)).all()), len(db.session.exec(select(CaseComment)).all()))
    key = cases.flags_of(cases.latest_version(db.session, world["proposal"]))[0]["key"]
    for url, data in [("votes", {"recommendation": "approve", "text": "x"}),
                      ("comments", {"kind": "internal", "body": "x"}),
                      ("dispositions", {"flag": key, "disposition": "confirmed", "reason": "x"}),
                      ("information-request", {"questions": "x"}),
                      ("conflict", {"reason": "again"})]:
        assert member.post(f"/review/cases/{case.id}/{url}", data=data).status_code == 403, url
    assert member.get(f"/review/cases/{case.id}/diff").status_code == 403
    db.session.expire_all()
    assert (len(db.session.exec(select(Vote)).all()), len(db.session.exec(select(CaseComment)).all())) == before
    assert db.session.get(Proposal, world["proposal"].id).status == "in_review"
    # The chair still sees who is recused, and cannot make them rapporteur.
    chair_html = _case_html(chair, case)
    assert "Conflicts of interest declared by:" in chair_html and world["member"].name in chair_html
    r = chair.post(f"/review/cases/{case.id}/assign", data={"rapporteur": str(world["member"].id)})
    assert r.status_code == 400
    # Nor does the committee's mail about the case reach them any more.
    sent = transports.memory_outbox(app)
    sent.clear()
    db.session.get(ReviewCase, case.id).due_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert queues.notify_overdue(db.session) == [case.id]
    db.session.commit()
    recipients = {str(m["To"]) for m in sent}
    assert recipients and not any(world["member"].email in to for to in recipients)
    assert any(world["member2"].email in to for to in recipients)


def test_recused_chair_cannot_decide(app, factory, world):
    case = world["case"]
    chair = factory.logged_in_client(world["chair"])
    chair.post(f"/review/cases/{case.id}/conflict", data={"reason": "related"})
    r = chair.post(f"/review/cases/{case.id}/decision",
                   data={"case_version": str(db.session.get(ReviewCase, case.id).version),
                         "outcome": "approved", "reasoning": "x"})
    assert r.status_code == 403
    assert not db.session.exec(select(Decision).where(Decision.case_id == case.id)).all()


# ---------------------------------------------------------------- external advisors


def test_advisor_invitation_access_opinion_expiry_and_revocation(app, factory, world):
    case = world["case"]
    chair = factory.logged_in_client(world["chair"])
    chair.post(f"/review/cases/{case.id}/comments", data={"kind": "internal", "body": "INTERNAL-ONLY"})
    day = (utcnow() + timedelta(days=10)).date().isoformat()
    r = chair.post(f"/review/cases/{case.id}/advisors",
                   data={"email": "Expert@Advice.example", "name": "Eve Expert", "expires_on": day})
    assert r.status_code == 302
    advisor = db.session.exec(select(User).where(User.email == "expert@advice.example")).one()
    invitation = db.session.exec(select(AdvisorInvitation)).one()
    assert invitation.token_hash and invitation.advisor_id == advisor.id
    from screening.accounts import service as accounts

    assert accounts.roles_in(db.session, advisor, world["inst"].id) == {"external_advisor"}
    # the one-time link sets the password once
    token = "t" * 43
    invitation.token_hash = advisors._token_hash(token)
    db.session.commit()
    anon = app.test_client()
    assert anon.get(f"/review/advisor/welcome/{token}").status_code == 200
    r = anon.post(f"/review/advisor/welcome/{token}",
                  data={"new_password": "a-long-advisor-password", "confirm": "a-long-advisor-password"})
    assert r.status_code == 302
    assert anon.get(f"/review/advisor/welcome/{token}").status_code == 404
    assert accounts.check_password(db.session.get(User, advisor.id).password_hash, "a-long-advisor-password")

    client = factory.logged_in_client(advisor, world["inst"])
    html = client.get(f"/review/advisor/cases/{case.id}").get_data(as_text=True)
    assert "Harbin Institute of Technology" in html and "INTERNAL-ONLY" not in html
    assert client.post(f"/review/advisor/cases/{case.id}/opinion",
                       data={"body": "The HIT lab is a defence lab."}).status_code == 302
    assert "The HIT lab is a defence lab." in _case_html(chair, case)
    other = factory.proposal(world["researcher"], world["inst"], submit=True, title="Other case", partners=HARBIN)
    other_case = routing.case_for_proposal(db.session, other)
    assert client.get(f"/review/advisor/cases/{other_case.id}").status_code == 404
    for url in ("/review/", f"/review/cases/{case.id}", f"/proposals/{world['proposal'].id}", "/proposals/",
                "/review/admin/routing", "/review/fast-tracked"):
        assert client.get(url).status_code in (403, 404), url
    # expiry (a time we control: the expiry set in the past) ends access
    invitation = db.session.get(AdvisorInvitation, invitation.id)
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get(f"/review/advisor/cases/{case.id}").status_code == 404
    assert client.post(f"/review/advisor/cases/{case.id}/opinion", data={"body": "late"}).status_code == 404
    invitation.expires_at = utcnow() + timedelta(days=1)
    db.session.commit()
    assert client.get(f"/review/advisor/cases/{case.id}").status_code == 200
    assert chair.post(f"/review/cases/{case.id}/advisors/revoke",
                      data={"invitation": str(invitation.id)}).status_code == 302
    assert client.get(f"/review/advisor/cases/{case.id}").status_code == 404
    assert "Other case" not in client.get("/review/advisor/").get_data(as_text=True)


def test_inviting_a_committee_member_as_advisor_is_refused(app, factory, world):
    chair = factory.logged_in_client(world["chair"])
    day = (utcnow() + timedelta(days=3)).date().isoformat()
    r = chair.post(f"/review/cases/{world['case'].id}/advisors",
                   data={"email": world["member"].email, "expires_on": day})
    assert r.status_code == 400
    assert not db.session.exec(select(AdvisorInvitation)).all()


# ---------------------------------------------------------------- administration


def test_admin_edits_committees_routing_and_condition_templates(app, factory, world):
    admin = factory.logged_in_client(factory.user(world["inst"], "institution_admin"))
    # The set-up moved to the administration pages; the old address redirects there.
    assert admin.get("/review/admin/routing").headers["Location"].endswith("/admin/committees")
    assert "Research security committee" in admin.get("/admin/committees").get_data(as_text=True)
    r = admin.post("/admin/committees", data={"action": "committee", "committee-name": "Faculty of Physics",
                                                  "committee-due_days": "21"})
    assert r.status_code == 303
    from screening.review.models import Committee

    physics = db.session.exec(select(Committee).where(Committee.name == "Faculty of Physics")).one()
    r = admin.post("/admin/committees", data={"action": "rule", "rule-committee": str(physics.id),
                                                  "rule-kind": "faculty", "rule-value": "Physics"})
    assert r.status_code == 303
    r = admin.post("/admin/committees", data={"action": "member", "member-committee": str(physics.id),
                                                  "member-email": world["member2"].email, "member-role": "member"})
    assert r.status_code == 303
    rule = db.session.exec(select(RoutingRule).where(RoutingRule.value == "Physics")).one()
    foreign_admin = factory.logged_in_client(factory.user(world["other"], "institution_admin"))
    assert foreign_admin.post("/admin/committees",
                              data={"action": "delete", "delete-rule": str(rule.id)}).status_code == 404
    r = admin.post("/admin/committees", data={"action": "delete", "delete-rule": str(rule.id)})
    assert r.status_code == 303
    r = admin.post("/admin/conditions", data={"tpl-key": "annual_report", "tpl-text_en": "Report yearly.",
                                                     "tpl-text_de": "Jährlich berichten.", "tpl-active": "1"})
    assert r.status_code == 303
    texts = {t.key: t.text_de for t in decisions.condition_templates(db.session, world["inst"].id)}
    assert texts["annual_report"] == "Jährlich berichten." and "no_personal_data_transfer" in texts


# ---------------------------------------------------------------- concurrency (PostgreSQL)


@pytest.mark.no_isolation
@pytest.mark.skipif(not os.environ.get("SCREENING_TEST_DATABASE_URL"),
                    reason="needs PostgreSQL (SCREENING_TEST_DATABASE_URL)")
def test_two_chairs_deciding_at_once_yield_one_decision_and_one_conflict(app):
    """Two real sessions on their own connections meet at a barrier and decide the same case."""
    import threading
    import uuid

    from screening.accounts import service as accounts
    from screening.proposals import service as intake
    from tests.web.helpers import PASSWORD, minimal_proposal

    with app.app_context():
        s = db.session
        inst = accounts.create_institution(s, None, f"race-{uuid.uuid4().hex[:8]}", "Race University")
        researcher = accounts.create_user(s, None, inst, f"r-{uuid.uuid4().hex[:8]}@race.example", "R",
                                          PASSWORD, ["researcher"])
        chairs = [accounts.create_user(s, None, inst, f"c{i}-{uuid.uuid4().hex[:8]}@race.example", f"Chair {i}",
                                       PASSWORD, ["committee_chair"]) for i in range(2)]
        committee = routing.ensure_setup(s, None, inst.id)
        for chair in chairs:
            s.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
        actor = accounts.Actor(researcher, inst.id, frozenset({"researcher"}))
        from screening.core.engine import get_screener

        proposal = intake.save_draft(s, actor, minimal_proposal(partners=HARBIN), creation_token=uuid.uuid4().hex)
        intake.submit(s, actor, proposal, uuid.uuid4().hex, get_screener())
        s.commit()
        case_id = routing.case_for_proposal(s, proposal).id
        seen = s.get(ReviewCase, case_id).version
        chair_ids, inst_id = [c.id for c in chairs], inst.id

    barrier = threading.Barrier(2, timeout=30)
    results: dict[int, str] = {}

    def decide(i: int) -> None:
        with app.app_context():
            session = db.session
            chair = session.get(User, chair_ids[i])
            access = cases.get_case(session, accounts.Actor(chair, inst_id, frozenset({"committee_chair"})), case_id)
            session.commit()  # end the read transaction: both start the decision from scratch
            barrier.wait()
            try:
                decisions.decide(session, access, seen, "approved" if i else "declined", f"by chair {i}", [], [])
                session.commit()
                results[i] = "ok"
            except cases.StaleCase:
                session.rollback()
                results[i] = "conflict"
            except Exception as exc:
                session.rollback()
                results[i] = repr(exc)

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results.values()) == ["conflict", "ok"], results
    with app.app_context():
        s = db.session
        assert len(s.exec(select(Decision).where(Decision.case_id == case_id)).all()) == 1
        events = s.exec(select(AuditEvent).where(AuditEvent.object_type == "review_case",
                                                 AuditEvent.object_id == str(case_id),
                                                 AuditEvent.action == "decision.issued")).all()
        assert len(events) == 1
        assert s.get(Proposal, s.get(ReviewCase, case_id).proposal_id).status == "decided"
        from screening.core import audit

        assert audit.verify(s).ok


def test_disposition_form_on_the_case_page_posts_its_flag_key(app, factory, world, csrf_enabled):
    """The page's form (not a hand-made post) carries the flag key: no empty "flag" field before it."""
    import re

    chair = factory.logged_in_client(world["chair"])
    html = _case_html(chair, world["case"])
    forms = re.findall(r'<form[^>]*class="disposition-form".*?</form>', html, re.S)
    keys = {f["key"] for f in cases.flags_of(cases.latest_version(db.session, world["proposal"]))}
    assert forms and len(forms) == len(keys)
    for form in forms:
        assert re.findall(r'name="flag"[^>]*value="([^"]*)"', form)[0] in keys
        assert 'name="csrf_token"' in form
