"""The committee's JSON API (/api/v1/cases): the queue, a case, flag dispositions and decisions with
ETag/If-Match, through the same review service and access rules as the /review pages."""

import os

import jsonschema
import pytest
from sqlmodel import select

from screening.accounts import service as accounts
from screening.api import tokens
from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.proposals.models import Proposal
from screening.review import cases, decisions, deliberation, routing
from screening.review.models import CommitteeMember, ConflictDeclaration, Decision, FlagDisposition, ReviewCase

from .helpers import minimal_proposal
from .test_api import assert_problem, bearer

HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]


@pytest.fixture
def world(factory):
    inst, other = factory.institution(), factory.institution()
    users = {
        "researcher": factory.user(inst, "researcher"),
        "member": factory.user(inst, "committee_member"),
        "chair": factory.user(inst, "committee_chair"),
        "outsider": factory.user(inst, "committee_member"),  # not on the committee
        "advisor": factory.user(inst, "external_advisor"),
        "foreign_chair": factory.user(other, "committee_chair"),
    }
    committee = routing.ensure_setup(db.session, None, inst.id)
    db.session.add(CommitteeMember(committee_id=committee.id, user_id=users["member"].id, role="member"))
    db.session.add(CommitteeMember(committee_id=committee.id, user_id=users["chair"].id, role="chair"))
    foreign = routing.ensure_setup(db.session, None, other.id)
    db.session.add(CommitteeMember(committee_id=foreign.id, user_id=users["foreign_chair"].id, role="chair"))
    db.session.commit()
    proposal = factory.proposal(users["researcher"], inst, submit=True, title="Legged robots with HIT",
                                research_fields=["2.2"], partners=HARBIN)
    case = routing.case_for_proposal(db.session, proposal)
    toks = {}
    for name, user in users.items():
        _, toks[name] = tokens.create(db.session, factory.actor(user, other if name == "foreign_chair" else inst),
                                      name, "write", 7)
    _, toks["chair_read"] = tokens.create(db.session, factory.actor(users["chair"], inst), "read", "read", 7)
    db.session.commit()
    return {"inst": inst, "other": other, "users": users, "tokens": toks, "proposal": proposal, "case": case}


def h(world, who, **extra):
    return {**bearer(world["tokens"][who]), **extra}


def case_doc(client, world, who="chair"):
    r = client.get(f"/api/v1/cases/{world['case'].id}", headers=h(world, who))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r


def openapi_validator(client, name):
    doc = client.get("/api/v1/openapi.json").get_json()
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema)


# ---------------------------------------------------------------- the queue


def test_queue_lists_the_committees_cases_with_the_web_filters(client, factory, world):
    r = client.get("/api/v1/cases", headers=h(world, "chair"))
    assert r.status_code == 200
    page = r.get_json()
    openapi_validator(client, "CasePage").validate(page)
    assert [i["id"] for i in page["items"]] == [world["case"].id] and page["next_cursor"] is None
    item = page["items"][0]
    assert item["status"] == "in_review" and "partner" in item["flag_categories"] and "CN" in item["partner_countries"]
    for query, shown in [("tier=critical", True), ("tier=low", False), ("category=partner", True),
                         ("category=funding", False), ("country=CN", True), ("country=DK", False),
                         ("min_age=0", True), ("min_age=5", False), ("assignee=none", True),
                         ("assignee=me", False), ("status=decided", False), ("status=in_review", True)]:
        items = client.get(f"/api/v1/cases?{query}", headers=h(world, "member")).get_json()["items"]
        assert bool(items) is shown, query
    # bad values are refused, not ignored
    for query in ("tier=extreme", "status=nope", "country=XX", "category=<script>", "min_age=-1", "min_age=x",
                  "assignee=somebody", "limit=0", "limit=101", "cursor=forged", "sort=due"):
        assert_problem(client.get(f"/api/v1/cases?{query}", headers=h(world, "chair")), 400)


def test_queue_pages_with_stable_cursors(client, factory, world):
    ids = [world["case"].id]
    for i in range(4):
        p = factory.proposal(world["users"]["researcher"], world["inst"], submit=True, title=f"HIT project {i}",
                             partners=HARBIN)
        ids.append(routing.case_for_proposal(db.session, p).id)
    first = client.get("/api/v1/cases?limit=2", headers=h(world, "chair")).get_json()
    factory.proposal(world["users"]["researcher"], world["inst"], submit=True, title="Newest", partners=HARBIN)
    cursor = first["next_cursor"]
    seen = [i["id"] for i in first["items"]]
    while cursor:
        page = client.get(f"/api/v1/cases?limit=2&cursor={cursor}", headers=h(world, "chair")).get_json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == sorted(ids, reverse=True)  # the newest case did not shift the walk under way


def test_queue_roles_and_institutions(client, world):
    for who in ("researcher", "advisor"):
        body = assert_problem(client.get("/api/v1/cases", headers=h(world, who)), 403)
        assert "role" in body["detail"]
    assert client.get("/api/v1/cases", headers=h(world, "outsider")).get_json()["items"] == []
    assert client.get("/api/v1/cases", headers=h(world, "foreign_chair")).get_json()["items"] == []
    assert_problem(client.get("/api/v1/cases"), 401)


# ---------------------------------------------------------------- one case


def test_case_shows_the_proposal_flags_dispositions_and_an_etag(client, world):
    r = case_doc(client, world)
    doc = r.get_json()
    openapi_validator(client, "Case").validate(doc)
    case = db.session.get(ReviewCase, world["case"].id)
    assert r.headers["ETag"] == f'"case-{case.id}-v{case.version}"' and doc["lock_version"] == case.version
    assert doc["role"] == "chair" and doc["dispositions"] == []
    assert doc["version"]["proposal"]["partners"][0]["name"] == "Harbin Institute of Technology"
    assert any(f["category"] == "partner" for f in doc["flags"]) and all(len(f["key"]) == 16 for f in doc["flags"])
    assert doc["decision"] is None


def test_case_of_another_institution_or_committee_is_404_and_logged(client, world, caplog):
    url = f"/api/v1/cases/{world['case'].id}"
    with caplog.at_level("WARNING"):
        for who in ("foreign_chair", "outsider"):
            body = assert_problem(client.get(url, headers=h(world, who)), 404)
            assert "Legged" not in str(body)
            key = "0123456789abcdef"
            assert_problem(client.put(f"{url}/flags/{key}/disposition", headers=h(world, who),
                                      json={"disposition": "dismissed", "reason": "x"}), 404)
    assert any("access denied" in rec.getMessage() for rec in caplog.records)
    for who in ("researcher", "advisor"):
        assert_problem(client.get(url, headers=h(world, who)), 403)
    assert_problem(client.get("/api/v1/cases/999999", headers=h(world, "chair")), 404)
    assert_problem(client.get(f"/api/v1/cases/{2**40}", headers=h(world, "chair")), 404)


def _flag(world, category="partner"):
    version = cases.latest_version(db.session, db.session.get(Proposal, world["proposal"].id))
    return next(f for f in cases.flags_of(version) if f["category"] == category)


def test_recused_member_sees_the_case_only_as_recused_and_changes_nothing(client, world):
    key = _flag(world)["key"]
    url = f"/api/v1/cases/{world['case'].id}"
    r = client.put(f"{url}/flags/{key}/disposition", headers=h(world, "chair"),
                   json={"disposition": "confirmed", "reason": "DELIBERATION-TEXT"})
    assert r.status_code == 200
    access = cases.get_case(db.session, accounts.Actor(world["users"]["member"], world["inst"].id,
                                                               frozenset({"committee_member"})), world["case"].id)
    deliberation.declare_conflict(db.session, access, "co-author")
    db.session.commit()
    body = assert_problem(client.get(url, headers=h(world, "member")), 403)
    assert "conflict of interest" in body["detail"] and "DELIBERATION-TEXT" not in str(body)
    [row] = [c for c in client.get("/api/v1/cases", headers=h(world, "member")).get_json()["items"]
             if c["id"] == world["case"].id]
    assert row["recused"] is True and row["committee"]["id"]
    assert row["title"] is row["proposal_id"] is row["tier"] is row["status"] is None
    assert row["flag_categories"] == row["partner_countries"] == []
    assert world["proposal"].title not in str(row)
    # A filter on what the proposal holds does not list it (its match would tell).
    assert world["case"].id not in [c["id"] for c in client.get(
        "/api/v1/cases?country=CN", headers=h(world, "member")).get_json()["items"]]
    assert_problem(client.get(f"/api/v1/proposals/{world['proposal'].id}", headers=h(world, "member")), 404)
    body = assert_problem(client.put(f"{url}/flags/{key}/disposition", headers=h(world, "member"),
                                     json={"disposition": "dismissed", "reason": "x"}), 403)
    assert body["status"] == 403
    assert len(db.session.exec(select(FlagDisposition)).all()) == 1
    # The chair still sees the case, and who is recused is on the web case page (test_review.py).
    assert case_doc(client, world, "chair").get_json()["dispositions"][0]["reason"] == "DELIBERATION-TEXT"


def test_recused_chair_cannot_decide(client, world):
    etag = case_doc(client, world).headers["ETag"]
    db.session.add(ConflictDeclaration(case_id=world["case"].id, user_id=world["users"]["chair"].id, reason="x"))
    db.session.commit()
    r = client.post(f"/api/v1/cases/{world['case'].id}/decision", headers=h(world, "chair", **{"If-Match": etag}),
                    json={"outcome": "approved", "reasoning": "fine"})
    assert_problem(r, 403)
    assert not db.session.exec(select(Decision)).all()


# ---------------------------------------------------------------- dispositions


def test_disposition_is_recorded_audited_and_validated(client, world):
    flag = _flag(world)
    url = f"/api/v1/cases/{world['case'].id}/flags/{flag['key']}/disposition"
    r = client.put(url, headers=h(world, "member"),
                   json={"disposition": "dismissed", "reason": "Different organisation: an alumni club"})
    assert r.status_code == 200, r.get_data(as_text=True)
    openapi_validator(client, "CaseDisposition").validate(r.get_json())
    row = db.session.exec(select(FlagDisposition)).one()
    assert (row.flag_key, row.disposition, row.user_id) == (flag["key"], "dismissed", world["users"]["member"].id)
    assert db.session.exec(select(AuditEvent).where(AuditEvent.action == "flag.disposition")).first()
    doc = case_doc(client, world).get_json()
    assert [d["reason"] for d in doc["dispositions"]] == ["Different organisation: an alumni club"]
    # mass assignment, wrong types, blank and invisible characters: 422 with pointers, nothing stored
    for body, pointer in [({"disposition": "dismissed", "reason": "x", "user_id": 1}, "/user_id"),
                          ({"disposition": "dismissed", "reason": "x", "version_number": 9}, "/version_number"),
                          ({"disposition": "ignored", "reason": "x"}, "/disposition"),
                          ({"disposition": "dismissed"}, ""),
                          ({"disposition": "dismissed", "reason": "   "}, "/reason"),
                          ({"disposition": "dismissed", "reason": "a\u202eb"}, "/reason"),
                          ({"disposition": "dismissed", "reason": 5}, "/reason")]:
        problem = assert_problem(client.put(url, headers=h(world, "member"), json=body), 422)
        assert pointer in {e["pointer"] for e in problem["errors"]}, (body, problem)
    assert_problem(client.put(url, headers=h(world, "member"), data="x", content_type="text/plain"), 415)
    assert_problem(client.put(url, headers=h(world, "member"), data="{", content_type="application/json"), 400)
    # unknown or malformed flag keys: 404; read scope: 403
    base = f"/api/v1/cases/{world['case'].id}/flags"
    ok = {"disposition": "confirmed", "reason": "x"}
    assert_problem(client.put(f"{base}/0123456789abcdef/disposition", headers=h(world, "member"), json=ok), 404)
    assert_problem(client.put(f"{base}/NOT-A-KEY/disposition", headers=h(world, "member"), json=ok), 404)
    assert_problem(client.put(url, headers=h(world, "chair_read"), json=ok), 403)
    assert_problem(client.put(url, headers=h(world, "researcher"), json=ok), 403)
    assert len(db.session.exec(select(FlagDisposition)).all()) == 1


def test_disposition_on_a_case_not_under_review_is_409(client, factory, world):
    low = factory.proposal(world["users"]["researcher"], world["inst"], submit=True, title="Sediments")
    case = routing.case_for_proposal(db.session, low)
    assert low.status == "fast_tracked"
    r = client.put(f"/api/v1/cases/{case.id}/flags/0123456789abcdef/disposition", headers=h(world, "chair"),
                   json={"disposition": "confirmed", "reason": "x"})
    assert_problem(r, 409)


# ---------------------------------------------------------------- decisions


def test_decision_needs_if_match_and_refuses_a_stale_etag(client, world):
    case_id = world["case"].id
    url = f"/api/v1/cases/{case_id}/decision"
    body = {"outcome": "approved", "reasoning": "No concern after review"}
    problem = assert_problem(client.post(url, headers=h(world, "chair"), json=body), 428)
    assert problem["errors"][0]["parameter"] == "If-Match"
    for bad in ('"case-1-v999"', "*", "garbage", f'W/"case-{case_id}-v1"'):
        assert_problem(client.post(url, headers=h(world, "chair", **{"If-Match": bad}), json=body), 412)
    assert not db.session.exec(select(Decision)).all()
    etag = case_doc(client, world).headers["ETag"]
    # the member and the read token cannot decide; the chair can
    assert_problem(client.post(url, headers=h(world, "member", **{"If-Match": etag}), json=body), 403)
    assert_problem(client.post(url, headers=h(world, "chair_read", **{"If-Match": etag}), json=body), 403)
    assert_problem(client.post(url, headers=h(world, "foreign_chair", **{"If-Match": etag}), json=body), 404)
    r = client.post(url, headers=h(world, "chair", **{"If-Match": etag}), json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    openapi_validator(client, "CaseDecision").validate(r.get_json())
    new_etag = r.headers["ETag"]
    assert new_etag != etag and r.headers["Location"].endswith(f"/api/v1/cases/{case_id}")
    after = case_doc(client, world)
    assert after.headers["ETag"] == new_etag and after.get_json()["status"] == "decided"
    assert after.get_json()["decision"]["outcome"] == "approved"
    # the same request again (a retry or a second chair with the old ETag): 412, still one decision
    assert_problem(client.post(url, headers=h(world, "chair", **{"If-Match": etag}), json=body), 412)
    assert len(db.session.exec(select(Decision)).all()) == 1
    assert len(db.session.exec(select(AuditEvent).where(AuditEvent.action == "decision.issued")).all()) == 1
    # a correction with the current ETag supersedes it
    template = decisions.condition_templates(db.session, world["inst"].id)[0]
    r = client.post(url, headers=h(world, "chair", **{"If-Match": new_etag}),
                    json={"outcome": "approved_with_conditions", "reasoning": "Corrected",
                          "conditions": [template.id], "free_conditions": ["Report twice a year"]})
    assert r.status_code == 201, r.get_data(as_text=True)
    second = r.get_json()
    assert second["supersedes_id"] and [c["key"] for c in second["conditions"]] == [template.key, None]


def test_decision_body_is_validated_and_mass_assignment_refused(client, world):
    url = f"/api/v1/cases/{world['case'].id}/decision"
    etag = case_doc(client, world).headers["ETag"]
    hdrs = h(world, "chair", **{"If-Match": etag})
    for body, pointer in [({"outcome": "approved", "reasoning": "x", "decided_by_id": 1}, "/decided_by_id"),
                          ({"outcome": "approved", "reasoning": "x", "status": "decided"}, "/status"),
                          ({"outcome": "approved", "reasoning": "x", "case_version": 99}, "/case_version"),
                          ({"outcome": "maybe", "reasoning": "x"}, "/outcome"),
                          ({"outcome": "approved", "reasoning": ""}, "/reasoning"),
                          ({"outcome": "approved_with_conditions", "reasoning": "x"}, "/conditions"),
                          ({"outcome": "approved", "reasoning": "x", "conditions": [999999]}, "/conditions"),
                          ({"outcome": "approved", "reasoning": "x", "conditions": ["1"]}, "/conditions/0")]:
        problem = assert_problem(client.post(url, headers=hdrs, json=body), 422)
        assert pointer in {e["pointer"] for e in problem["errors"]}, (body, problem)
    assert not db.session.exec(select(Decision)).all()
    db.session.expire_all()
    assert db.session.get(Proposal, world["proposal"].id).status == "in_review"


def test_decision_on_a_fast_tracked_case_is_409(client, factory, world):
    low = factory.proposal(world["users"]["researcher"], world["inst"], submit=True, title="Sediments")
    case = routing.case_for_proposal(db.session, low)
    etag = client.get(f"/api/v1/cases/{case.id}", headers=h(world, "chair")).headers["ETag"]
    r = client.post(f"/api/v1/cases/{case.id}/decision", headers=h(world, "chair", **{"If-Match": etag}),
                    json={"outcome": "approved", "reasoning": "x"})
    assert_problem(r, 409)


@pytest.mark.no_isolation
@pytest.mark.skipif(not os.environ.get("SCREENING_TEST_DATABASE_URL"),
                    reason="needs PostgreSQL (SCREENING_TEST_DATABASE_URL)")
def test_two_chairs_deciding_through_the_api_at_once(app, monkeypatch):
    """Both read the same ETag and pass If-Match; they meet at a barrier just before the write:
    one gets 201, the other 412; one decision and one audit event."""
    import threading
    import uuid

    from screening.accounts import service as accounts
    from screening.core.engine import get_screener
    from screening.proposals import service as intake
    from tests.web.helpers import PASSWORD

    with app.app_context():
        s = db.session
        inst = accounts.create_institution(s, None, f"api-race-{uuid.uuid4().hex[:8]}", "API Race University")
        researcher = accounts.create_user(s, None, inst, f"r-{uuid.uuid4().hex[:8]}@race.example", "R",
                                          PASSWORD, ["researcher"])
        committee = routing.ensure_setup(s, None, inst.id)
        plain = []
        for i in range(2):
            chair = accounts.create_user(s, None, inst, f"c{i}-{uuid.uuid4().hex[:8]}@race.example", f"Chair {i}",
                                         PASSWORD, ["committee_chair"])
            s.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
            plain.append(tokens.create(s, accounts.Actor(chair, inst.id, frozenset({"committee_chair"})),
                                       "race", "write", 7)[1])
        actor = accounts.Actor(researcher, inst.id, frozenset({"researcher"}))
        proposal = intake.save_draft(s, actor, minimal_proposal(partners=HARBIN), creation_token=uuid.uuid4().hex)
        intake.submit(s, actor, proposal, uuid.uuid4().hex, get_screener())
        s.commit()
        case_id = routing.case_for_proposal(s, proposal).id
        etag = f'"case-{case_id}-v{s.get(ReviewCase, case_id).version}"'

    barrier = threading.Barrier(2, timeout=30)
    original = decisions.decide

    def decide_at_barrier(*args, **kwargs):
        db.session.commit()  # end the read transaction: both write from scratch
        barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(decisions, "decide", decide_at_barrier)
    results: dict[int, int] = {}

    def call(i: int) -> None:
        r = app.test_client().post(f"/api/v1/cases/{case_id}/decision",
                                   headers={**bearer(plain[i]), "If-Match": etag},
                                   json={"outcome": "approved" if i else "declined", "reasoning": f"chair {i}"})
        results[i] = r.status_code

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results.values()) in ([201, 409], [201, 412]), results
    with app.app_context():
        s = db.session
        assert len(s.exec(select(Decision).where(Decision.case_id == case_id)).all()) == 1
        assert len(s.exec(select(AuditEvent).where(AuditEvent.object_type == "review_case",
                                                   AuditEvent.object_id == str(case_id),
                                                   AuditEvent.action == "decision.issued")).all()) == 1
