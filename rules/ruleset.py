"""Loading the rule set: YAML files in, compiled rules out, with a version and a content hash.

Layout under ``rules/data/``: ``ruleset.yaml`` (version, named sets, combination rules, the
base proposal that rule tests start from) and ``rules/*.yaml`` (the rules, one file a category).
The hash covers every data file that can change a result, plus the institution's policy.
"""

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rules.conditions import (
    Facts,
    Predicate,
    RuleSyntaxError,
    compile_cases,
    compile_condition,
    flag_builder,
    text_builder,
)

DATA_DIR = Path(__file__).parent / "data"
SEVERITIES = ("info", "low", "medium", "high", "critical")
TIERS = ("low", "medium", "high", "critical")
CATEGORIES = ("field", "partner", "funding", "data_transfer", "export_control", "country")
COLLECTIONS = ("partners", "partner_matches", "funding", "funder_matches", "data_transfers")
LANGUAGES = ("en", "de")
HASHED_FILES = ("ruleset.yaml", "taxonomy.yaml", "ford.yaml", "keywords.yaml", "matching.yaml")
RULE_KEYS = {
    "id",
    "category",
    "for_each",
    "when",
    "severity",
    "title",
    "explanation",
    "evidence",
    "sources",
    "cite",
    "mitigations",
    "tests",
    "notes",
}


SEVERITY_RANKS = {level: rank for rank, level in enumerate(SEVERITIES)}


def severity_rank(level: str) -> int:
    return SEVERITIES.index(level)


def tier_for_severity(level: str) -> str:
    return "low" if level == "info" else level


class Template:
    """``"Partner {item.partner.name} is listed"``: placeholders are dotted fact paths."""

    _PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")

    def __init__(self, text: str):
        self.text = text
        pieces = self._PLACEHOLDER.split(text)
        self.pieces = (pieces[0::2], pieces[1::2])  # the literals, and the fact paths between them
        # One generated function per template: joining the pieces costs a fifth of a str.format call.
        self.render: Callable[[Facts], str] = text_builder(*self.pieces, format_fact)


def format_fact(value: Any) -> str:
    kind = type(value)
    if kind is str:  # by far the most common: names, codes, versions
        return value
    if value is None:
        return "—"
    if kind is bool:
        return "yes" if value else "no"
    if kind is int:
        return f"{value:,}".replace(",", "\u202f")
    if kind is list or kind is tuple:
        try:  # mostly lists of strings (areas, topics), joined without a call per item
            return ", ".join(value) or "—"
        except TypeError:  # an item is no string
            return ", ".join([format_fact(v) for v in value]) or "—"
    if kind is dict:
        return "; ".join([f"{k}: {format_fact(v)}" for k, v in value.items()])
    return str(value)


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    for_each: str | None
    when: Predicate
    severity: Callable[[Facts], str]  # the level of the first severity case that applies
    title: Mapping[str, Template]
    explanation: Mapping[str, Template]
    sources: tuple[str, ...]
    mitigations: Mapping[str, tuple[str, ...]]
    build_flag: Mapping[str, Callable[[Facts], dict[str, Any]]]  # language -> see flag()
    tests: Mapping[str, list]
    spec: Mapping[str, Any] = field(repr=False)
    file: str = ""

    def flag(self, facts: Facts, language: str) -> dict[str, Any]:
        """The flag this rule raises for the facts (or one for_each item's scope) it applies to:
        rule, category, severity, title, explanation, evidence, sources (the rule's, then those
        the facts at its ``cite`` paths hold) and mitigations."""
        return self.build_flag[language](facts)


@dataclass(frozen=True)
class Combination:
    """Raises the tier when several kinds of flag meet, e.g. sensitive technology x listed partner."""

    id: str
    requires: tuple[tuple[str, str], ...]  # (category, minimum severity) that must all be present
    raise_to: str
    explanation: Mapping[str, str]
    sources: tuple[str, ...]

    def applies(self, most_severe: Mapping[str, int]) -> bool:
        """``most_severe``: category -> the highest severity rank among the flags of that category."""
        return all(most_severe.get(cat, -1) >= SEVERITY_RANKS[floor] for cat, floor in self.requires)


@dataclass(frozen=True)
class RuleSet:
    version: str
    hash: str
    rules: tuple[Rule, ...]
    combinations: tuple[Combination, ...]
    named_sets: Mapping[str, Any]
    test_base: Mapping[str, Any]
    policy: Mapping[str, Any]

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleSyntaxError(f"{path.name}: cannot read: {exc}") from exc


def _localised(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or set(value) != set(LANGUAGES):
        raise RuleSyntaxError(f"{where}: needs exactly the languages {', '.join(LANGUAGES)}")
    return dict(value)


def _compile_severity(spec: Any, sets: Mapping[str, Any], where: str) -> Callable[[Facts], str]:
    if isinstance(spec, str):
        spec = [{"level": spec}]
    if not isinstance(spec, list) or not spec:
        raise RuleSyntaxError(f"{where}: severity is a level or a list of {{when, level}} cases")

    def cases() -> Iterator[tuple[Any, str, str]]:
        # Checked one by one as they are compiled, so the first malformed case is the one reported.
        for i, case in enumerate(spec):
            if not isinstance(case, Mapping) or case.get("level") not in SEVERITIES or set(case) - {"when", "level"}:
                raise RuleSyntaxError(f"{where}[{i}]: a case is {{when: condition, level: one of {SEVERITIES}}}")
            yield case.get("when"), case["level"], f"{where}[{i}].when"

    severity = compile_cases(cases(), sets)
    if "when" in spec[-1]:
        raise RuleSyntaxError(f"{where}: the last case must have no 'when' (the default)")
    return severity


def compile_rule(spec: Mapping[str, Any], sets: Mapping[str, Any], file: str) -> Rule:
    rule_id = spec.get("id") if isinstance(spec, Mapping) else None
    where = f"{file}: rule {rule_id or '?'}"
    if not rule_id or not re.fullmatch(r"[A-Z][A-Z0-9-]{2,60}", str(rule_id)):
        raise RuleSyntaxError(f"{where}: id must be upper-case letters, digits and dashes")
    unknown = set(spec) - RULE_KEYS
    if unknown:
        raise RuleSyntaxError(f"{where}: unknown keys {sorted(unknown)}")
    if spec.get("category") not in CATEGORIES:
        raise RuleSyntaxError(f"{where}: category must be one of {CATEGORIES}")
    for_each = spec.get("for_each")
    if for_each is not None and for_each not in COLLECTIONS:
        raise RuleSyntaxError(f"{where}: for_each must be one of {COLLECTIONS}")
    sources = spec.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) and s for s in sources):
        raise RuleSyntaxError(f"{where}: every rule cites at least one public source")
    mitigations = _localised(spec.get("mitigations"), f"{where}: mitigations")
    evidence = spec.get("evidence") or {}
    if not isinstance(evidence, Mapping):
        raise RuleSyntaxError(f"{where}: evidence maps names to fact paths")
    tests = spec.get("tests")
    if not isinstance(tests, Mapping) or not tests.get("allow") or not tests.get("deny"):
        raise RuleSyntaxError(f"{where}: needs tests with at least one 'allow' and one 'deny' case")
    severity = _compile_severity(spec.get("severity"), sets, f"{where}.severity")
    title = {lang: Template(t) for lang, t in _localised(spec.get("title"), f"{where}: title").items()}
    explanation = {
        lang: Template(t) for lang, t in _localised(spec.get("explanation"), f"{where}: explanation").items()
    }
    mitigation_texts = {lang: tuple(items or ()) for lang, items in mitigations.items()}
    evidence_paths = {name: str(path) for name, path in evidence.items()}
    cite = tuple(str(path) for path in spec.get("cite") or ())
    build_flag = {
        lang: flag_builder(
            {"rule": str(rule_id), "category": spec["category"]},
            severity,
            {"title": title[lang].pieces, "explanation": explanation[lang].pieces},
            format_fact,
            evidence_paths,
            tuple(sources),
            cite,
            mitigation_texts[lang],
        )
        for lang in LANGUAGES
    }
    return Rule(
        id=str(rule_id),
        category=spec["category"],
        for_each=for_each,
        when=compile_condition(spec.get("when"), sets, f"{where}.when"),
        severity=severity,
        title=title,
        explanation=explanation,
        sources=tuple(sources),
        mitigations=mitigation_texts,
        build_flag=build_flag,
        tests=dict(tests),
        spec=dict(spec),
        file=file,
    )


def _compile_combination(spec: Mapping[str, Any], where: str) -> Combination:
    requires = []
    for req in spec.get("requires") or ():
        if req.get("category") not in CATEGORIES or req.get("min_severity") not in SEVERITIES:
            raise RuleSyntaxError(f"{where}: requires entries are {{category, min_severity}}")
        requires.append((req["category"], req["min_severity"]))
    if not requires or spec.get("raise_to") not in TIERS or not spec.get("sources"):
        raise RuleSyntaxError(f"{where}: a combination needs requires, raise_to (a tier) and sources")
    return Combination(
        id=str(spec["id"]),
        requires=tuple(requires),
        raise_to=spec["raise_to"],
        explanation=_localised(spec.get("explanation"), f"{where}: explanation"),
        sources=tuple(spec["sources"]),
    )


def _apply_policy(sets: dict[str, Any], rule_specs: list, policy: Mapping[str, Any]) -> list:
    """An institution's policy overrides named sets, switches rules off or changes their severity."""
    unknown = set(policy) - {"sets", "disabled_rules", "severity"}
    if unknown:
        raise RuleSyntaxError(f"policy: unknown keys {sorted(unknown)}")
    for name, value in (policy.get("sets") or {}).items():
        if name not in sets:
            raise RuleSyntaxError(f"policy: unknown named set {name!r}")
        sets[name] = value
    known_ids = {spec.get("id") for spec, _ in rule_specs}
    disabled = set(policy.get("disabled_rules") or ())
    overrides = dict(policy.get("severity") or {})
    for rule_id in disabled | set(overrides):
        if rule_id not in known_ids:
            raise RuleSyntaxError(f"policy: unknown rule {rule_id!r}")
    kept = []
    for spec, file in rule_specs:
        if spec["id"] in disabled:
            continue
        if spec["id"] in overrides:
            spec = {**spec, "severity": overrides[spec["id"]]}
        kept.append((spec, file))
    return kept


def load_ruleset(data_dir: Path = DATA_DIR, policy: Mapping[str, Any] | None = None) -> RuleSet:
    policy = dict(policy or {})
    header = _read_yaml(data_dir / "ruleset.yaml")
    if not isinstance(header, Mapping) or not header.get("version"):
        raise RuleSyntaxError("ruleset.yaml: needs a version")
    sets = dict(header.get("sets") or {})
    rule_specs: list[tuple[dict, str]] = []
    hashed: dict[str, Any] = {name: _read_yaml(data_dir / name) for name in HASHED_FILES if (data_dir / name).exists()}
    for path in sorted((data_dir / "rules").glob("*.yaml")):
        doc = _read_yaml(path)
        hashed[f"rules/{path.name}"] = doc
        if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
            raise RuleSyntaxError(f"{path.name}: expected a mapping with a 'rules' list")
        rule_specs.extend((spec, path.name) for spec in doc["rules"])
    ids = [spec.get("id") for spec, _ in rule_specs if isinstance(spec, Mapping)]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RuleSyntaxError(f"duplicate rule ids: {', '.join(duplicates)}")
    rule_specs = _apply_policy(sets, rule_specs, policy)
    frozen_sets = {name: tuple(v) if isinstance(v, list) else v for name, v in sets.items()}
    rules = tuple(compile_rule(spec, frozen_sets, file) for spec, file in rule_specs)
    combinations = tuple(
        _compile_combination(spec, f"ruleset.yaml: combination {spec.get('id')}")
        for spec in header.get("combinations") or ()
    )
    hashed["policy"] = policy
    digest = hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()
    return RuleSet(
        version=str(header["version"]),
        hash=digest[:16],
        rules=rules,
        combinations=combinations,
        named_sets=frozen_sets,
        test_base=header.get("test_base") or {},
        policy=policy,
    )
