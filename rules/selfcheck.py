"""`screening rules check`: everything a committee administrator can break by editing data.

Loads the rule set and every list version, checks vocabularies agree, and runs each rule's own
allow/deny test cases through the real screener.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.affiliations import graph_files, load_graph_file
from rules.conditions import RuleSyntaxError
from rules.engine import Screener
from rules.lists import ListError, load_list_file, version_files
from rules.ruleset import Rule
from rules.taxonomy import FORD_AREAS, TECHNOLOGY_AREAS, keyword_hints
from rules.validation import ProposalError


@dataclass(frozen=True)
class CheckProblem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def merged(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """The base proposal with the patch's keys replacing (nested mappings merged, lists replaced)."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def run_rule_tests(screener: Screener) -> tuple[int, list[CheckProblem]]:
    """Run every allow/deny case; return the number of cases run and the failures."""
    ruleset = screener.ruleset
    problems: list[CheckProblem] = []
    count = 0
    for rule in ruleset.rules:
        for kind in ("deny", "allow"):
            for i, case in enumerate(rule.tests.get(kind) or ()):
                count += 1
                where = f"{rule.file}: {rule.id} {kind}[{i}]"
                if not isinstance(case, Mapping) or not isinstance(case.get("proposal"), Mapping):
                    problems.append(CheckProblem(where, "a test case is {proposal: {...}, severity?: level}"))
                    continue
                try:
                    result = screener.screen(merged(ruleset.test_base, case["proposal"]))
                except ProposalError as exc:
                    problems.append(CheckProblem(where, f"test proposal is invalid: {exc}"))
                    continue
                fired = [f for f in result["flags"] if f["rule"] == rule.id]
                if kind == "allow" and fired:
                    problems.append(CheckProblem(where, f"fired ({fired[0]['severity']}) but should not"))
                elif kind == "deny" and not fired:
                    problems.append(CheckProblem(where, "did not fire"))
                elif kind == "deny" and case.get("severity") and case["severity"] not in {f["severity"] for f in fired}:
                    got = sorted({f["severity"] for f in fired})
                    problems.append(CheckProblem(where, f"fired with severity {got}, expected {case['severity']}"))
    return count, problems


def mitigation_problems(rule: Rule) -> list[CheckProblem]:
    """Mitigations are whole sentences; a YAML flow list ([a, b]) splits unquoted text at commas."""
    return [
        CheckProblem(f"{rule.file}: {rule.id} mitigations.{language}", f"not a whole sentence: {item!r}")
        for language, items in rule.mitigations.items()
        for item in items
        if not (item[:1].isupper() and item.endswith("."))
    ]


def vocabulary_problems(screener: Screener) -> list[CheckProblem]:
    problems = [problem for rule in screener.ruleset.rules for problem in mitigation_problems(rule)]
    for partner_list in screener.lists:
        for entry in partner_list.entries:
            unknown = sorted(set(entry.topics) - set(TECHNOLOGY_AREAS))
            if unknown:
                problems.append(CheckProblem(f"list {partner_list.name} {entry.id}", f"unknown topics {unknown}"))
            if not entry.sources:
                problems.append(CheckProblem(f"list {partner_list.name} {entry.id}", "no source of its own"))
    for unit in screener.graph.units:
        if not unit.sources:
            problems.append(CheckProblem(f"affiliations {unit.id}", "no source"))
    for unit in screener.matcher.orphan_units:
        problems.append(CheckProblem(f"affiliations {unit.id}", f"parent {unit.parent!r} is on no loaded list"))
    for code, areas in FORD_AREAS.items():
        unknown = sorted(set(areas) - set(TECHNOLOGY_AREAS))
        if unknown:
            problems.append(CheckProblem(f"ford.yaml {code}", f"unknown areas {unknown}"))
    hints = keyword_hints()
    for phrase, areas in hints.areas_by_phrase.items():
        unknown = sorted(set(areas) - set(TECHNOLOGY_AREAS))
        if unknown:
            problems.append(CheckProblem(f"keywords.yaml {phrase!r}", f"unknown areas {unknown}"))
    return problems


def check_all() -> tuple[Screener | None, int, list[CheckProblem]]:
    """Load and check everything; never raises for bad data, reports it."""
    problems: list[CheckProblem] = []
    for name, paths in version_files().items():
        for path in paths:
            try:
                load_list_file(path)
            except ListError as exc:
                problems.append(CheckProblem(f"list {name}", str(exc)))
    for path in graph_files():
        try:
            load_graph_file(path)
        except ListError as exc:
            problems.append(CheckProblem("affiliations", str(exc)))
    try:
        screener = Screener.default()
    except (RuleSyntaxError, ListError) as exc:
        return None, 0, [*problems, CheckProblem("rule set", str(exc))]
    problems.extend(vocabulary_problems(screener))
    count, test_problems = run_rule_tests(screener)
    return screener, count, problems + test_problems
