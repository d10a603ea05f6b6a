"""Authorisation expectations for the JSON API (/api/v1) and the token pages (/account/tokens).

API entries are ``Token`` expectations: the matrix calls them with each user's bearer token
(made in ``extend_world`` in the institution the user acts in) and expects 401 for anonymous
calls. Tokens of institution B never reach institution A's objects (404).
"""

from screening.api import tokens
from screening.core.extensions import db

from ..helpers import minimal_proposal
from .core import (
    OTHER_RESEARCHER,
    OWNER,
    expect_object_change,
    expect_object_read,
    expect_researcher_page,
    recused,
)

RESEARCHERS = {"researcher", OWNER, OTHER_RESEARCHER}
COMMITTEE = {"committee_member", "committee_chair"}
OFFICE = {"international_office", "institution_admin"}


class Token:
    """An expectation whose requests carry ``Authorization: Bearer`` (and a JSON body, maybe)."""

    token_auth = True

    def __init__(self, expect, body=None):
        self.expect = expect
        self.body = body

    def __call__(self, actor, same_inst):
        return self.expect(actor, same_inst)

    def request_for(self, world, actor, same_inst) -> dict:
        kwargs = {"headers": {"Authorization": f"Bearer {world['tokens'][(actor, same_inst)]}"}}
        if self.body is not None:
            kwargs["json"] = self.body
        return kwargs


def _everyone(status):
    return lambda actor, same_inst: status


def _researchers(status):
    return lambda actor, same_inst: status if actor in RESEARCHERS else 403


def _committee(ok, other=404):
    return lambda actor, same_inst: (ok if same_inst else other) if actor in COMMITTEE else 403


def _office(ok):
    return lambda actor, same_inst: ok if actor in OFFICE else 403


def _chair(ok):
    return lambda actor, same_inst: (ok if same_inst else 404) if actor == "committee_chair" else 403


SPEC = {
    "api.ping": ("GET", lambda ids: "/api/v1/ping", "public"),
    "api.openapi": ("GET", lambda ids: "/api/v1/openapi.json", "public"),
    "api.not_found": ("GET", lambda ids: "/api/v1/no-such-thing", "public"),
    "api.screen": ("POST", lambda ids: "/api/v1/screen", Token(_everyone(200), minimal_proposal())),
    "api.lists": ("GET", lambda ids: "/api/v1/lists", Token(_everyone(200))),
    "api.ruleset": ("GET", lambda ids: "/api/v1/ruleset", Token(_everyone(200))),
    "api.list_proposals": ("GET", lambda ids: "/api/v1/proposals", Token(expect_researcher_page)),
    "api.create_proposal": ("POST", lambda ids: "/api/v1/proposals",
                            Token(_researchers(201), minimal_proposal(title="Made through the API"))),
    "api.get_proposal": ("GET", lambda ids: f"/api/v1/proposals/{ids['api_submitted']}",
                         recused(Token(expect_object_read), 404)),
    "api.update_proposal": ("PUT", lambda ids: f"/api/v1/proposals/{ids['api_draft']}",
                            Token(lambda a, s: expect_object_change(a, s, 200),
                                  minimal_proposal(title="Changed through the API"))),
    "api.submit_proposal": ("POST", lambda ids: f"/api/v1/proposals/{ids['api_draft']}/submit",
                            Token(lambda a, s: expect_object_change(a, s, 201))),
    "api.get_version": ("GET", lambda ids: f"/api/v1/proposals/{ids['api_submitted']}/versions/1",
                        recused(Token(expect_object_read), 404)),
    # Committee cases (ids["case"]: inst A's case in review, made by authz/review.py). Committee
    # people of inst A reach it, those of inst B get 404, everybody else 403. Bodies are chosen so
    # that access is decided first and nothing changes: an unknown field (422), no If-Match (428).
    "api.list_cases": ("GET", lambda ids: "/api/v1/cases", Token(_committee(200, 200))),
    "api.get_case": ("GET", lambda ids: f"/api/v1/cases/{ids['case']}", recused(Token(_committee(200)), 403)),
    "api.put_disposition": ("PUT", lambda ids: f"/api/v1/cases/{ids['case']}/flags/0123456789abcdef/disposition",
                            recused(Token(_committee(422), {"disposition": "dismissed", "reason": "x",
                                                            "status": "decided"}), 403)),
    "api.decide_case": ("POST", lambda ids: f"/api/v1/cases/{ids['case']}/decision",
                        Token(_chair(428), {"outcome": "approved", "reasoning": "matrix"})),
    # The international office's portfolio (api_portfolio.py): office people of either institution
    # get 200 with their own institution's data only (no ids in these URLs), everybody else 403.
    "api.portfolio_list": ("GET", lambda ids: "/api/v1/portfolio", Token(_office(200))),
    "api.portfolio_aggregates": ("GET", lambda ids: "/api/v1/portfolio/aggregates?suppress=true",
                                 Token(_office(200))),
    "api.portfolio_export": ("GET", lambda ids: "/api/v1/portfolio/export?format=csv", Token(_office(200))),
    # Token pages: every logged-in user manages their own tokens only.
    "tokens.index": ("GET", lambda ids: "/account/tokens/", "any"),
    "tokens.create": ("POST", lambda ids: "/account/tokens/", _everyone(400)),  # empty form
    "tokens.revoke": ("POST", lambda ids: f"/account/tokens/{ids['owner_token']}/revoke",
                      lambda a, s: 302 if a == OWNER and s else 404),
}


def extend_world(factory, world) -> None:
    """A write token for every user in the institution they act in; a draft and a submitted
    proposal of the owner; one more token of the owner to revoke."""
    world["tokens"] = {}
    for (actor, same_inst), user in world["users"].items():
        _, plaintext = tokens.create(db.session, factory.actor(user, world["insts"][same_inst]),
                                     "matrix", "write", 30)
        world["tokens"][(actor, same_inst)] = plaintext
    owner, inst_a = world["users"][(OWNER, True)], world["insts"][True]
    row, _ = tokens.create(db.session, factory.actor(owner, inst_a), "to revoke", "read", 7)
    db.session.commit()
    draft = factory.proposal(owner, inst_a)
    submitted = factory.proposal(owner, inst_a, submit=True)
    world["ids"].update(api_draft=draft.id, api_submitted=submitted.id, owner_token=row.id)
