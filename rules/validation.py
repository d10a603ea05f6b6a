"""Validation of incoming proposals against the contract schema and the project's vocabularies.

The contract schema is checked with a compiled validator (fast path). Only when that fails do we
run the full validator to collect every problem with a readable reason, because that one is
about fifty times slower and valid input is the common case.
"""

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import fastjsonschema
import jsonschema
import orjson
import pycountry

from rules.taxonomy import FORD_FIELDS, TECHNOLOGY_AREAS

SCHEMA_DIR = Path(__file__).parent / "data" / "schema"
PROPOSAL_SCHEMA: dict = json.loads((SCHEMA_DIR / "proposal.schema.json").read_text(encoding="utf-8"))
COUNTRY_CODES: frozenset[str] = frozenset(c.alpha_2 for c in pycountry.countries)

_fast_validate = fastjsonschema.compile(PROPOSAL_SCHEMA)
_full_validator = jsonschema.Draft202012Validator(
    PROPOSAL_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)

# Characters that make a name display differently from what is stored (Trojan-Source style)
# or that hide inside names to dodge list matching. The zero-width (non-)joiners are part of
# Persian and Indic spelling, so they pass between two non-ASCII letters and nowhere else.
_INVISIBLE = re.compile(
    "[\u200b\u200e\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
    "|(?:^|(?<=[\x00-\x7f]))[\u200c\u200d]|[\u200c\u200d](?=[\x00-\x7f]|$)"
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every character either pattern can match, context aside: one scan of this character class
# finds the rare text that needs the two patterns above, which try a match at each position.
_SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# The same scan over the proposal as orjson writes it, which is faster than collecting its strings:
# orjson writes the control characters other than tab, newline and carriage return as \b, \f or
# \u00XX escapes and every other character as itself. A backslash in the text may look like such an
# escape; then the strings are walked one by one, as for any suspect.
_SUSPECT_IN_JSON = re.compile(
    "[\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|\\\\(?:[bf]|u00[01])")

_FRIENDLY_PATTERNS = {
    "^[A-Z]{2}$": "must be an ISO 3166-1 alpha-2 country code in capitals, e.g. 'CN'",
    "^[1-6]\\.[0-9]{1,2}$": "must be an OECD FORD code such as '1.2' or '3.1'",
    "^[a-z0-9_]{2,40}$": "must be a technology-area key such as 'quantum' or 'ai'",
    "^[0-9][A-E][0-9]{3}[a-z0-9.]*$": "must be an EU dual-use control entry such as '3A001'",
}


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ProposalError(ValueError):
    """The proposal does not satisfy the contract. ``path`` and ``reason`` describe the first problem."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        self.path = problems[0].path
        self.reason = problems[0].reason
        super().__init__(str(problems[0]) + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


def json_path(parts) -> str:
    """['partners', 0, 'country'] -> 'partners[0].country'."""
    out = ""
    for part in parts:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _schema_problems(proposal: object) -> list[Problem]:
    problems = []
    for error in sorted(_full_validator.iter_errors(proposal), key=lambda e: list(map(str, e.path))):
        reason = error.message
        if error.validator == "pattern" and error.validator_value in _FRIENDLY_PATTERNS:
            reason = f"{_FRIENDLY_PATTERNS[error.validator_value]} (got {error.instance!r})"
        elif error.validator == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            for name in missing:
                problems.append(Problem(json_path([*error.path, name]), "is required"))
            continue
        elif error.validator == "additionalProperties":
            reason = reason.replace("Additional properties are not allowed", "unknown field(s)")
        problems.append(Problem(json_path(error.path), reason))
    return problems


def _walk_strings(value, path: list):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_strings(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_strings(item, [*path, index])


def _collect_strings(value, out: list[str]) -> list[str]:
    kind = type(value)
    if kind is str:
        out.append(value)
    elif kind is dict:
        for item in value.values():
            _collect_strings(item, out)
    elif kind is list:
        for item in value:
            _collect_strings(item, out)
    return out


def _may_hide_characters(proposal: dict) -> bool:
    try:
        written = orjson.dumps(proposal)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: look at the strings themselves
        return _SUSPECT.search("\n".join(_collect_strings(proposal, []))) is not None
    # In UTF-8, every character _SUSPECT_IN_JSON looks for is DEL, a backslash, or begins with the
    # byte E2 or EF: four byte searches (memchr) clear the common proposal before any pattern runs.
    if not (b"\\" in written or b"\x7f" in written or b"\xe2" in written or b"\xef" in written):
        return False
    return _SUSPECT_IN_JSON.search(written.decode()) is not None


def _vocabulary_problems(proposal: dict) -> list[Problem]:
    problems = []
    # One search over the whole proposal; the walk that names the fields runs only when a suspect
    # character was found.
    if _may_hide_characters(proposal):
        for path, text in _walk_strings(proposal, []):
            if _CONTROL.search(text):
                problems.append(Problem(json_path(path), "contains control characters"))
            elif _INVISIBLE.search(text):
                problems.append(Problem(json_path(path), "contains invisible or direction-changing characters"))
    for i, code in enumerate(proposal.get("research_fields", [])):
        if code not in FORD_FIELDS:
            problems.append(Problem(f"research_fields[{i}]", f"{code!r} is not an OECD FORD field"))
    for i, area in enumerate(proposal.get("technology_areas", [])):
        if area not in TECHNOLOGY_AREAS:
            problems.append(Problem(f"technology_areas[{i}]", f"{area!r} is not a known technology area"))
    for section in ("partners", "funding", "data_transfers"):
        for i, item in enumerate(proposal.get(section, [])):
            code = item.get("country")
            if code is not None and code not in COUNTRY_CODES:
                problems.append(Problem(f"{section}[{i}].country", f"{code!r} is not an ISO 3166-1 country"))
    for i, partner in enumerate(proposal.get("partners", [])):
        if not unicodedata.normalize("NFKC", partner["name"]).strip():
            problems.append(Problem(f"partners[{i}].name", "must not be blank"))
    if not proposal["title"].strip():
        problems.append(Problem("title", "must not be blank"))
    return problems


def validate_proposal(proposal: object) -> dict:
    """Return the proposal if it satisfies the contract; raise ProposalError naming every problem."""
    if not isinstance(proposal, dict):
        raise ProposalError([Problem("", f"a proposal must be a JSON object, not {type(proposal).__name__}")])
    try:
        _fast_validate(proposal)
    except fastjsonschema.JsonSchemaException:
        problems = _schema_problems(proposal)
        if not problems:  # the two validators disagree only on exotic formats; trust the strict one
            problems = [Problem("", "does not satisfy the proposal schema")]
        raise ProposalError(problems) from None
    problems = _vocabulary_problems(proposal)
    if problems:
        raise ProposalError(problems)
    return proposal
