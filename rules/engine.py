"""The screener: a validated proposal in, an explained screening result out."""

import time
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
    SEVERITY_RANKS,
    TIERS,
    RuleSet,
    load_ruleset,
    tier_for_severity,
)
from rules.validation import validate_proposal

_last_second: tuple[int, str] = (0, "")


def _current_second() -> str:
    """The time now in ISO 8601 to the second, UTC: written once a second, as each of thousands of
    screenings a second would otherwise format the same text again."""
    global _last_second
    second = int(time.time())
    last = _last_second  # one tuple, read once and replaced whole, so threads need no lock
    if last[0] == second:
        return last[1]
    text = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")
    _last_second = (second, text)
    return text


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
        flags = self._fire(facts, language)
        # Stable sort: flags of equal severity keep the rule order. The first flag is then the most severe.
        flags.sort(key=lambda f: -SEVERITY_RANKS[f["severity"]])
        tier = tier_for_severity(flags[0]["severity"]) if flags else "low"
        raised_by = []
        most_severe: dict[str, int] = {}
        for flag in flags:
            rank = SEVERITY_RANKS[flag["severity"]]
            if rank > most_severe.get(flag["category"], -1):
                most_severe[flag["category"]] = rank
        for combination in self.ruleset.combinations:
            if TIERS.index(combination.raise_to) > TIERS.index(tier) and combination.applies(most_severe):
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
            screened_at=now.isoformat(timespec="seconds") if now else _current_second(),
        )
        return result

    def _fire(self, facts: dict[str, Any], language: str) -> list[dict[str, Any]]:
        """The flags of every rule that applies, in rule order (and item order within a rule)."""
        flags = []
        # One scope for all for_each items, its "item" replaced per item, saves a copy of the facts
        # per item. That is safe because a flag is built before the next item replaces "item",
        # and flags hold values from the scope, never the scope itself.
        item_scope = dict(facts)
        for rule in self.ruleset.rules:
            if rule.for_each is None:
                if rule.when(facts):
                    flags.append(rule.flag(facts, language))
            else:
                for item in facts[rule.for_each]:
                    item_scope["item"] = item
                    if rule.when(item_scope):
                        flags.append(rule.flag(item_scope, language))
        return flags
