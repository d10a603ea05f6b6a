"""Authorisation matrix: every route x every role x own/other institution (scorecard 1, 2).

Every endpoint of ``app.url_map`` must have an entry in the assembled SPEC (tests/web/authz/),
so a new route without one fails.
"""

import pytest
from sqlmodel import select

from screening.accounts.models import ROLES
from screening.proposals.models import Proposal

from .authz import SPEC, extend_world
from .authz.core import OTHER_RESEARCHER, OWNER, RECUSED, expected_status
from .helpers import form_post_data


def test_every_route_has_a_matrix_entry(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(SPEC), f"routes without authorisation spec: {endpoints - set(SPEC)}"


@pytest.fixture
def world(factory):
    inst_a = factory.institution()
    inst_b = factory.institution()
    owner = factory.user(inst_a, "researcher")
    users = {(OWNER, True): owner, (OTHER_RESEARCHER, True): factory.user(inst_a, "researcher"),
             (RECUSED, True): factory.user(inst_a, "committee_member")}
    for role in ROLES:
        users[(role, False)] = factory.user(inst_b, role)
        if role != "researcher":
            users[(role, True)] = factory.user(inst_a, role)
    world = {"users": users, "ids": {}, "insts": {True: inst_a, False: inst_b}}
    extend_world(factory, world)
    return world


@pytest.mark.parametrize("endpoint", sorted(SPEC))
def test_matrix(app, factory, world, endpoint):
    from screening.core.extensions import db

    method, url_for_ids, expectation = SPEC[endpoint]
    url = url_for_ids(world["ids"])
    # API entries authenticate with bearer tokens (cookies are ignored there): anonymous is 401.
    token_auth = getattr(expectation, "token_auth", False)
    failures = []
    anon = app.test_client()
    r = anon.open(url, method=method)
    r.close()
    if expectation == "public":
        assert r.status_code < 500
        return
    if token_auth:
        if r.status_code != 401:
            failures.append(("anonymous", r.status_code))
    elif not (r.status_code == 302 and "/login" in r.headers["Location"]):
        failures.append(("anonymous", r.status_code))
    # Owner last, so that a state-changing success does not hide other denials.
    order = sorted(world["users"].items(), key=lambda item: item[0][0] == OWNER)
    for (actor, same_inst), user in order:
        client = app.test_client()
        factory.login(client, user, world["insts"][same_inst])
        kwargs = expectation.request_for(world, actor, same_inst) if token_auth else {}
        before = {p.id: p.status for p in db.session.exec(select(Proposal)).all()}
        r = client.open(url, method=method, **kwargs)
        want = expected_status(expectation, method, actor, same_inst)
        if r.status_code != want:
            failures.append((actor, "own" if same_inst else "other", r.status_code, "expected", want))
        if r.status_code in (403, 404):
            db.session.expire_all()
            after = {p.id: p.status for p in db.session.exec(select(Proposal)).all()}
            assert before == after, f"{actor} changed state despite {r.status_code}"
    assert not failures, failures


def test_researcher_cannot_change_another_researchers_proposal_by_guessing_ids(app, factory):
    inst = factory.institution()
    alice = factory.user(inst, "researcher")
    mallory = factory.user(inst, "researcher")
    target = factory.proposal(alice, inst, title="Alice's secret project")
    client = app.test_client()
    factory.login(client, mallory)
    for pid in range(max(1, target.id - 3), target.id + 4):
        for url in (f"/proposals/{pid}", f"/proposals/{pid}/edit", f"/proposals/{pid}/versions/1"):
            r = client.get(url)
            assert r.status_code in (404, 302), (url, r.status_code)
            assert b"secret project" not in r.data
        r = client.post(f"/proposals/{target.id}/edit", data=form_post_data(action="save", title="pwned"))
        assert r.status_code == 404
        assert client.post(f"/proposals/{target.id}/withdraw").status_code == 404
    from screening.core.extensions import db

    db.session.expire_all()
    fresh = db.session.get(Proposal, target.id)
    assert fresh.title == "Alice's secret project" and fresh.status == "draft"


def test_cross_tenant_denial_is_logged(app, factory, caplog):
    a, b = factory.institution(), factory.institution()
    owner = factory.user(a)
    intruder = factory.user(b)
    p = factory.proposal(owner, a)
    client = app.test_client()
    factory.login(client, intruder)
    with caplog.at_level("WARNING"):
        assert client.get(f"/proposals/{p.id}").status_code == 404
    assert any("access denied" in rec.getMessage() for rec in caplog.records)
