"""Stateless screening, the partner lists and the rule set: ``/screen``, ``/lists``, ``/ruleset``."""

import orjson
from flask import current_app

from screening.accounts.access import roles_required
from screening.accounts.models import ROLES
from screening.api import support as api
from screening.api.blueprint import bp
from screening.api.openapi import LANGUAGE, json_response, operation
from screening.api.support import LANGUAGES, language
from screening.core.engine import get_screener


@bp.post("/screen")
@operation("post", "/screen", "Screen a proposal without storing anything",
           {"200": json_response("The screening result (contract screening-result.schema.json)", "ScreeningResult")},
           body="Proposal", parameters=(LANGUAGE,))
@roles_required(*ROLES)
def screen():
    proposal = api.json_body()
    result = get_screener().screen(proposal, language=language())
    return current_app.response_class(answer_body(result), mimetype="application/json")


def answer_body(result: dict) -> bytes:
    """The body of a screening answer, here and in :mod:`screening.api.lean_screen`.

    The result is plain JSON data (str, int, float, list, dict): orjson writes it compact, keys
    sorted like jsonify, in a tenth of the time of the json module (the largest body of the API).
    """
    return orjson.dumps(result, option=orjson.OPT_SORT_KEYS)


@bp.get("/lists")
@operation("get", "/lists", "The partner lists (versions) screening uses", {"200": json_response("Lists", "ListPage")})
@roles_required(*ROLES)
def lists():
    items = [{"name": pl.name, "version": pl.version, "title": pl.title, "publisher": pl.publisher,
              "published": pl.published, "source": pl.source, "licence": pl.licence,
              "entries": len(pl.entries)}
             for pl in get_screener().lists]
    return {"items": items}


@bp.get("/ruleset")
@operation("get", "/ruleset", "The rule set version screening uses", {"200": json_response("Rule set", "Ruleset")})
@roles_required(*ROLES)
def ruleset():
    rs = get_screener().ruleset
    return {"version": rs.version, "hash": rs.hash, "rules": len(rs.rules),
            "combinations": len(rs.combinations), "languages": list(LANGUAGES)}
