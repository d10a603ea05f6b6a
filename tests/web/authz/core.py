"""Authorisation expectations for the researcher intake, auth and main pages."""

from types import FunctionType

OWNER = "owner"
OTHER_RESEARCHER = "researcher (not owner)"
# A committee member of inst A who declared a conflict of interest on every case of the world
# (authz/review.py): expected like "committee_member" unless an entry says otherwise with recused().
RECUSED = "recused member"
READERS = {"committee_member", "committee_chair", "international_office", "institution_admin"}


def expect_object_read(actor, same_inst):
    if actor == "external_advisor":
        return 403
    if not same_inst:
        return 404 if actor in READERS | {"researcher", OWNER, OTHER_RESEARCHER} else 403
    if actor == OWNER or actor in READERS:
        return 200
    return 404  # another researcher of the same institution


def expect_object_change(actor, same_inst, ok):
    if actor in (OWNER,) and same_inst:
        return ok
    if actor in ("researcher", OTHER_RESEARCHER):
        return 404
    return 403


def expect_researcher_page(actor, same_inst, ok=200):
    return ok if actor in ("researcher", OWNER, OTHER_RESEARCHER) else 403


def recused(expectation, status: int):
    """``expectation``, but the recused member gets ``status`` (a shared function is wrapped, not marked)."""
    if isinstance(expectation, FunctionType):
        shared = expectation

        def expectation(actor, same_inst):
            return shared(actor, same_inst)

    expectation.for_recused = status
    return expectation


def expected_status(expectation, method: str, actor: str, same_inst: bool) -> int:
    if expectation == "any":
        return 200 if method == "GET" else 302
    if actor == RECUSED:
        return getattr(expectation, "for_recused", None) or expectation("committee_member", same_inst)
    return expectation(actor, same_inst)


# endpoint -> (method, url builder(ids), expectation(actor, same_institution) or "public"/"any")
SPEC = {
    "static": ("GET", lambda ids: "/static/css/app.css", "public"),
    "main.index": ("GET", lambda ids: "/", "public"),
    "main.health": ("GET", lambda ids: "/healthz", "public"),
    "main.set_language": ("POST", lambda ids: "/language", "public"),
    "auth.login": ("GET", lambda ids: "/login", "public"),
    "auth.logout": ("POST", lambda ids: "/logout", "any"),
    "auth.account": ("GET", lambda ids: "/account", "any"),
    "auth.change_password": ("GET", lambda ids: "/account/password", "any"),
    # Every logged-in user may switch, only to their own institutions (test_multi_institution.py);
    # without a body: 400, nothing changed.
    "auth.switch_institution": ("POST", lambda ids: "/account/institution", lambda a, s: 400),
    "proposals.dashboard": ("GET", lambda ids: "/proposals/", expect_researcher_page),
    "proposals.new": ("GET", lambda ids: "/proposals/new", expect_researcher_page),
    "proposals.edit": (
        "GET",
        lambda ids: f"/proposals/{ids['draft']}/edit",
        lambda a, s: expect_object_change(a, s, 200),
    ),
    # The recused member declared a conflict on the submitted proposal's case: it is barred (404).
    "proposals.detail": ("GET", lambda ids: f"/proposals/{ids['submitted']}", recused(expect_object_read, 404)),
    "proposals.version": ("GET", lambda ids: f"/proposals/{ids['submitted']}/versions/1",
                          recused(expect_object_read, 404)),
    "proposals.withdraw": (
        "POST",
        lambda ids: f"/proposals/{ids['draft']}/withdraw",
        lambda a, s: expect_object_change(a, s, 302),
    ),
}


def extend_world(factory, world) -> None:
    """Objects the URLs above need: a draft and a submitted proposal of the owner."""
    owner, inst_a = world["users"][(OWNER, True)], world["insts"][True]
    draft = factory.proposal(owner, inst_a)
    submitted = factory.proposal(owner, inst_a, submit=True)
    world["ids"].update(draft=draft.id, submitted=submitted.id)
