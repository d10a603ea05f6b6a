"""Component schemas of the OpenAPI 3.1 document; operations live next to the routes (``@operation``).

The proposal and screening-result schemas are the contract's own (JSON Schema 2020-12, which is
what OpenAPI 3.1 uses), read from the copies bundled with the rules engine.
"""

import copy
import json
from functools import lru_cache
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "rules" / "data" / "schema"

_TS = {"type": "string", "format": "date-time"}


def _contract(name: str) -> dict:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    schema.pop("$schema", None)
    schema.pop("$id", None)
    return schema


@lru_cache(maxsize=1)
def components() -> dict:
    return {
        "Proposal": _contract("proposal.schema.json"),
        "ScreeningResult": _contract("screening-result.schema.json"),
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details; errors[] point at the offending fields (RFC 6901).",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 100, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "request_id": {"type": "string"},
                "errors": {"type": "array", "items": {
                    "type": "object", "required": ["detail"],
                    "properties": {"pointer": {"type": "string"}, "parameter": {"type": "string"},
                                   "detail": {"type": "string"}}}},
            },
        },
        "Ping": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
        "ProposalResource": {
            "type": "object",
            "required": ["id", "title", "status", "created_at", "updated_at", "proposal"],
            "properties": {
                "id": {"type": "integer"},
                "title": {"type": "string"},
                "status": {"type": "string"},
                "tier": {"type": ["string", "null"]},
                "route": {"type": ["string", "null"]},
                "created_at": _TS,
                "updated_at": _TS,
                "proposal": {"type": "object",
                             "description": "The working copy in contract shape (a draft made in the "
                                            "web form may still be incomplete)."},
            },
        },
        "ProposalPage": {
            "type": "object", "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/ProposalResource"}},
                "next_cursor": {"type": ["string", "null"],
                                "description": "Pass as ?cursor= for the next page; null on the last page."},
            },
        },
        "ProposalVersion": {
            "type": "object",
            "required": ["proposal_id", "number", "submitted_at", "tier", "route", "proposal", "result"],
            "properties": {
                "proposal_id": {"type": "integer"},
                "number": {"type": "integer"},
                "submitted_at": _TS,
                "tier": {"type": "string"},
                "route": {"type": "string"},
                "language": {"type": "string"},
                "ruleset_version": {"type": "string"},
                "proposal": {"type": "object"},
                "result": {"$ref": "#/components/schemas/ScreeningResult"},
            },
        },
        "ListPage": {
            "type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": {
                "type": "object", "required": ["name", "version", "entries"],
                "properties": {k: {"type": "string"} for k in
                               ("name", "version", "title", "publisher", "published", "source", "licence")}
                | {"entries": {"type": "integer"}}}}},
        },
        "Ruleset": {
            "type": "object", "required": ["version", "hash", "rules"],
            "properties": {"version": {"type": "string"}, "hash": {"type": "string"},
                           "rules": {"type": "integer"}, "combinations": {"type": "integer"},
                           "languages": {"type": "array", "items": {"type": "string"}}},
        },
        **case_components(),
    }


# ----------------------------------------------------------------- committee cases

# Free text: no control characters (tab and line breaks allowed), bidi overrides or zero-width
# characters (the web forms' PlainText validator).
PLAIN_TEXT = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff]*$"
_NULL_TS = {"type": ["string", "null"], "format": "date-time"}
_COMMITTEE = {"type": "object", "required": ["id", "name"],
              "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}


def case_components() -> dict:
    """Committee cases: the queue, one case, a flag's disposition and the chair's decision.

    ``CaseDispositionInput`` and ``CaseDecisionInput`` are also what the API validates request
    bodies against (self-contained: no ``$ref``; unknown fields refused).
    """
    condition = {"type": "object", "required": ["template_id", "key", "text_en", "text_de"],
                 "properties": {"template_id": {"type": ["integer", "null"]}, "key": {"type": ["string", "null"]},
                                "text_en": {"type": "string"}, "text_de": {"type": "string"}}}
    return {
        "CaseSummary": {
            "type": "object",
            "required": ["id", "recused", "proposal_id", "title", "status", "tier", "committee", "opened_at",
                         "due_at", "overdue", "version_number", "flag_categories", "partner_countries"],
            "properties": {
                "id": {"type": "integer"},
                "recused": {"type": "boolean",
                            "description": "You declared a conflict of interest: the case is listed, but "
                                           "everything of its proposal is null or empty and the case answers 403."},
                "proposal_id": {"type": ["integer", "null"]}, "title": {"type": ["string", "null"]},
                "status": {"type": ["string", "null"]}, "tier": {"type": ["string", "null"]}, "committee": _COMMITTEE,
                "rapporteur_id": {"type": ["integer", "null"]}, "opened_at": _TS, "due_at": _NULL_TS,
                "overdue": {"type": "boolean"}, "version_number": {"type": ["integer", "null"]},
                "flag_categories": {"type": "array", "items": {"type": "string"}},
                "partner_countries": {"type": "array", "items": {"type": "string"}},
            },
        },
        "CasePage": {
            "type": "object", "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/CaseSummary"}},
                "next_cursor": {"type": ["string", "null"],
                                "description": "Pass as ?cursor= for the next page; null on the last page."},
            },
        },
        "CaseFlag": {
            "type": "object", "required": ["key", "rule", "category", "severity"],
            "description": "A flag of the current version (as in the screening result) with its stable key.",
            "properties": {"key": {"type": "string", "pattern": "^[0-9a-f]{16}$"}, "rule": {"type": "string"},
                           "category": {"type": "string"}, "severity": {"type": "string"},
                           "title": {"type": "string"}, "explanation": {"type": "string"},
                           "evidence": {"type": "object"}},
        },
        "CaseDisposition": {
            "type": "object",
            "required": ["flag_key", "disposition", "reason", "version_number", "user_id", "created_at"],
            "properties": {
                "id": {"type": "integer"}, "flag_key": {"type": "string"},
                "disposition": {"enum": ["confirmed", "dismissed", "mitigated"]}, "reason": {"type": "string"},
                "version_number": {"type": "integer"}, "user_id": {"type": "integer"},
                "user_name": {"type": ["string", "null"]}, "created_at": _TS,
            },
        },
        "CaseDecision": {
            "type": "object",
            "required": ["id", "case_id", "proposal_id", "version_number", "outcome", "reasoning", "conditions",
                         "decided_by_id", "decided_at"],
            "properties": {
                "id": {"type": "integer"}, "case_id": {"type": "integer"}, "proposal_id": {"type": "integer"},
                "version_number": {"type": "integer"},
                "outcome": {"enum": ["approved", "approved_with_conditions", "declined"]},
                "reasoning": {"type": "string"}, "conditions": {"type": "array", "items": condition},
                "decided_by_id": {"type": "integer"}, "decided_at": _TS,
                "supersedes_id": {"type": ["integer", "null"]}, "superseded_at": _NULL_TS,
            },
        },
        "Case": {
            "type": "object",
            "required": ["id", "proposal_id", "title", "status", "tier", "committee", "role",
                         "opened_at", "due_at", "overdue", "lock_version", "version", "flags", "dispositions",
                         "decision", "information_requests"],
            "properties": {
                "id": {"type": "integer"}, "proposal_id": {"type": "integer"}, "title": {"type": "string"},
                "status": {"type": "string"}, "tier": {"type": ["string", "null"]}, "committee": _COMMITTEE,
                "role": {"enum": ["member", "chair"], "description": "Your role on the case's committee."},
                "rapporteur_id": {"type": ["integer", "null"]}, "opened_at": _TS, "due_at": _NULL_TS,
                "overdue": {"type": "boolean"},
                "lock_version": {"type": "integer", "description": "Optimistic-locking counter (the ETag)."},
                "version": {"oneOf": [{"$ref": "#/components/schemas/ProposalVersion"}, {"type": "null"}],
                            "description": "The proposal as submitted (the latest frozen version)."},
                "versions": {"type": "array", "items": {"type": "integer"}},
                "flags": {"type": "array", "items": {"$ref": "#/components/schemas/CaseFlag"}},
                "dispositions": {"type": "array", "items": {"$ref": "#/components/schemas/CaseDisposition"},
                                 "description": "Every disposition, oldest first."},
                "information_requests": {"type": "array", "items": {
                    "type": "object", "required": ["id", "questions", "asked_at", "version_asked"],
                    "properties": {"id": {"type": "integer"}, "questions": {"type": "string"}, "asked_at": _TS,
                                   "version_asked": {"type": "integer"},
                                   "answered_version": {"type": ["integer", "null"]},
                                   "answered_at": _NULL_TS}}},
                "decision": {"oneOf": [{"$ref": "#/components/schemas/CaseDecision"}, {"type": "null"}],
                             "description": "The current decision (a correction supersedes the earlier one)."},
            },
        },
        "CaseDispositionInput": {
            "type": "object", "additionalProperties": False, "required": ["disposition", "reason"],
            "properties": {
                "disposition": {"enum": ["confirmed", "dismissed", "mitigated"],
                                "description": "dismissed: a false match; mitigated: by a condition"},
                "reason": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": PLAIN_TEXT},
            },
        },
        "CaseDecisionInput": {
            "type": "object", "additionalProperties": False, "required": ["outcome", "reasoning"],
            "properties": {
                "outcome": {"enum": ["approved", "approved_with_conditions", "declined"]},
                "reasoning": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": PLAIN_TEXT},
                "conditions": {"type": "array", "maxItems": 50, "uniqueItems": True,
                               "description": "Ids of the institution's condition templates",
                               "items": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}},
                "free_conditions": {"type": "array", "maxItems": 20, "items": {
                    "type": "string", "minLength": 1, "maxLength": 2000, "pattern": PLAIN_TEXT}},
            },
        },
    }


def document(operations: dict[tuple[str, str], dict], extra_components: dict | None = None) -> dict:
    paths: dict[str, dict] = {}
    for (path, method), op in sorted(operations.items()):
        paths.setdefault(path, {})[method] = copy.deepcopy(op)
    schemas = {k: v for k, v in components().items() if not k.startswith("_")}
    schemas.update(extra_components or {})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Collaboration screening API",
            "version": "1.0.0",
            "description": "Screen research-collaboration proposals and file them. Authenticate with a "
                           "personal token made under /account/tokens: `Authorization: Bearer <token>`. "
                           "Errors are application/problem+json (RFC 9457).",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(schemas),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A personal API token (scr_...)"}},
        },
    }
