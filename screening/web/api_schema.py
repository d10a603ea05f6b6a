"""Component schemas of the OpenAPI 3.1 document; operations live next to the routes (blueprints/api.py).

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
                               ("name", "version", "title", "publisher", "source", "licence")}
                | {"entries": {"type": "integer"}}}}},
        },
        "Ruleset": {
            "type": "object", "required": ["version", "hash", "rules"],
            "properties": {"version": {"type": "string"}, "hash": {"type": "string"},
                           "rules": {"type": "integer"}, "combinations": {"type": "integer"},
                           "languages": {"type": "array", "items": {"type": "string"}}},
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
