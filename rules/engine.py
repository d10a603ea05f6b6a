"""The screener: a validated proposal in, an explained screening result out."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rules.affiliations import EMPTY_GRAPH, AffiliationGraph, load_current_graph
from rules.facts import build_facts
from rules.lists import PartnerList, load_current_lists
from rules.matching import PartnerMatcher
from rules.ruleset import (
    DATA_DIR,
    LANGUAGES,
    TIERS,
    Rule,
    RuleSet,
    load_ruleset,
    severity_rank,
    tier_for_severity,
)
from rules.validation import validate_proposal


class Screener:
    """Holds one rule set and one set of list versions; screening is a pure function of them.

    Build it once per process (``Screener.default()``); it is immutable and thread-safe.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        lists: Sequence[PartnerList],
        matcher: PartnerMatcher | None = None,
        graph: AffiliationGraph = EMPTY_GRAPH,
    ):
        self.ruleset = ruleset
        self.lists = tuple(lists)
        self.graph = graph
        self.matcher = matcher or PartnerMatcher(self.lists, graph=graph)
        self._concern_countries = frozenset(ruleset.named_sets.get("countries_of_concern", ()))
        self.list_summaries = tuple(
            [pl.summary() for pl in self.lists] + ([graph.summary()] if graph.units else [])
        )

    @classmethod
    def default(
        cls,
        policy: Mapping[str, Any] | None = None,
        data_dir: Path = DATA_DIR,
        list_dirs: list[Path] | None = None,
    ) -> "Screener":
        """The shipped rule set (with an institution's policy, if given), the newest list versions and graph."""
        return cls(load_ruleset(data_dir, policy), load_current_lists(list_dirs), graph=load_current_graph())

    def screen(self, proposal: Any, language: str = "en", now: datetime | None = None) -> dict[str, Any]:
        """Screen one proposal; raises ``ProposalError`` when it does not satisfy the contract."""
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}")
        validate_proposal(proposal)
        facts = build_facts(proposal, self.matcher, self._concern_countries)
        flags = [flag for rule in self.ruleset.rules for flag in self._fire(rule, facts, language)]
        flags.sort(key=lambda f: -severity_rank(f["severity"]))
        tier = max((tier_for_severity(f["severity"]) for f in flags), key=TIERS.index, default="low")
        raised_by = []
        for combination in self.ruleset.combinations:
            if combination.applies(flags) and TIERS.index(combination.raise_to) > TIERS.index(tier):
                tier = combination.raise_to
                raised_by.append(
                    {
                        "id": combination.id,
                        "tier": combination.raise_to,
                        "explanation": combination.explanation[language],
                        "sources": list(combination.sources),
                    }
                )
        result: dict[str, Any] = {}
        if "reference" in proposal:
            result["reference"] = proposal["reference"]
        result.update(
            tier=tier,
            route="fast_track" if tier == "low" else "committee",
            flags=flags,
            tier_raised_by=raised_by,
            ruleset_version=self.ruleset.version,
            ruleset_hash=self.ruleset.hash,
            lists=[dict(summary) for summary in self.list_summaries],
            language=language,
            screened_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        )
        return result

    def _fire(self, rule: Rule, facts: dict[str, Any], language: str) -> list[dict[str, Any]]:
        if rule.for_each is None:
            scopes = [facts] if rule.when(facts) else []
        else:
            scopes = []
            for item in facts[rule.for_each]:
                scope = {**facts, "item": item}
                if rule.when(scope):
                    scopes.append(scope)
        return [
            {
                "rule": rule.id,
                "category": rule.category,
                "severity": rule.severity(scope),
                "title": rule.title[language].render(scope),
                "explanation": rule.explanation[language].render(scope),
                "evidence": {name: get(scope) for name, get in rule.evidence.items()},
                "sources": rule.sources_for(scope),
                "mitigations": list(rule.mitigations[language]),
            }
            for scope in scopes
        ]
