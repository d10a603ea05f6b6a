"""Partner-matching quality and speed figures.

    .venv/bin/python bench/matching_bench.py

First the figures that count: recall per category on tests/data/partner_corpus/listed_names.csv
(listed institutions as affiliation lines and pages write them, collected from sources) and, per
category of tests/data/partner_corpus/unlisted_institutions.csv plus negative_institutions.csv,
the match, possible-match, namesake-note and severe (high or worse) rates. Then the older
self-made figures: recall on every listed name and alias with typed variants. Last, the time per
match() call with the shipped lists and with 20,000 synthetic entries added.
"""

import time
from pathlib import Path

from rules.affiliations import load_current_graph
from rules.corpus_quality import (
    HOLDOUT_LISTED_CORPUS,
    HOLDOUT_UNLISTED_CORPUS,
    evaluate_corpora,
    load_listed,
    load_unlisted,
    report_lines,
)
from rules.engine import Screener
from rules.lists import PartnerList, load_current_lists
from rules.matching import PartnerMatcher
from rules.matching_quality import (
    clear_caches,
    evaluate,
    load_negative_corpus,
    microseconds_per_match,
    positive_corpus,
    synthetic_list,
)

NEGATIVE_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "negative_institutions.csv"
SYNTHETIC_ENTRIES = 20_000
WARM_ROUNDS = 5


def timing(label: str, lists: list[PartnerList], queries: list[tuple[str, str | None]]) -> float:
    """Microseconds per match on a fresh index: first pass with empty caches, then the best warm pass."""
    clear_caches()
    started = time.perf_counter()
    matcher = PartnerMatcher(lists, graph=load_current_graph())
    built = time.perf_counter() - started
    cold = microseconds_per_match(matcher, queries)
    warm = min(microseconds_per_match(matcher, queries) for _ in range(WARM_ROUNDS))
    print(
        f"{label:<22} {matcher.entry_count:>6} entries (index {built:4.2f} s)"
        f"  cold {cold:5.1f} µs/match ({1e6 / cold:7.0f}/s)  warm {warm:5.1f} µs/match ({1e6 / warm:7.0f}/s)"
    )
    return cold


def main() -> None:
    screener = Screener.default()
    for line in report_lines(evaluate_corpora(screener, load_listed(), load_unlisted())):
        print(line)
    print()
    print("held-out corpus (written apart, measured, never tuned against):")
    holdout = evaluate_corpora(screener, load_listed(HOLDOUT_LISTED_CORPUS), load_unlisted([HOLDOUT_UNLISTED_CORPUS]))
    for line in report_lines(holdout):
        print(line)
    print()
    print("self-made variants of listed names (an upper bound, not the measure):")
    lists = load_current_lists()
    started = time.perf_counter()
    matcher = PartnerMatcher(lists, graph=load_current_graph())
    print(
        f"index of {matcher.entry_count} entries in {len(lists)} lists built in {time.perf_counter() - started:.2f} s"
    )

    positives = positive_corpus(lists)
    negatives = load_negative_corpus(NEGATIVE_CORPUS)
    report = evaluate(matcher, positives, negatives)
    print(f"recall                 {report.recall:7.2%}  ({report.found}/{report.positives} variants)")
    for kind, (found, total) in report.recall_by_kind.items():
        print(f"  {kind:<20} {found / total:7.2%}  ({found}/{total})")
    for label, rate, flagged in (
        ("false match rate", report.false_match_rate, report.false_matches),
        ("possible-match rate", report.possible_rate, report.false_possibles),
    ):
        print(f"{label:<22} {rate:7.2%}  ({len(flagged)}/{report.negatives} negatives)")
    for variant in report.misses[:20]:
        print(f"  missed {variant.kind}: {variant.text!r} -> {variant.entry_id}")
    for name, country, entry_id in report.false_matches + report.false_possibles:
        print(f"  flagged negative: {name!r} ({country}) -> {entry_id}")

    queries = [*negatives, *((v.text, v.country) for v in positives)]
    shipped = timing("shipped lists", lists, queries)
    large = timing(f"+{SYNTHETIC_ENTRIES} synthetic", [*lists, synthetic_list(SYNTHETIC_ENTRIES)], queries)
    print(f"slow-down with the larger lists: x{large / shipped:.2f} (cold)")


if __name__ == "__main__":
    main()
