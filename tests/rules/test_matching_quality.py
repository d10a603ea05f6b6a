"""Recall and false-positive rates of the partner matcher on the shared corpora.

bench/matching_bench.py prints the same figures in detail, with its speed.
"""

from functools import cache
from pathlib import Path

import pytest

from rules.lists import load_current_lists
from rules.matching import PartnerMatcher
from rules.matching_quality import (
    QualityReport,
    evaluate,
    load_negative_corpus,
    positive_corpus,
)

NEGATIVE_CORPUS = Path(__file__).resolve().parents[1] / "data" / "negative_institutions.csv"
MIN_RECALL = 0.98
MAX_POSSIBLE_RATE = 0.02


@cache
def report() -> QualityReport:
    lists = load_current_lists()
    return evaluate(PartnerMatcher(lists), positive_corpus(lists), load_negative_corpus(NEGATIVE_CORPUS))


def test_corpora_are_substantial():
    assert report().positives > 3000
    assert report().negatives >= 300
    assert set(report().recall_by_kind) >= {
        "as_listed",
        "upper",
        "lower",
        "punctuation",
        "the",
        "abbreviation",
        "typo",
        "chinese",
    }


def test_recall_on_listed_names_and_variants():
    misses = [(v.kind, v.text, v.entry_id) for v in report().misses]
    assert report().recall >= MIN_RECALL, misses[:20]


@pytest.mark.parametrize("kind", ["as_listed", "chinese", "abbreviation", "typo"])
def test_recall_per_variant_kind(kind):
    found, total = report().recall_by_kind[kind]
    assert found / total >= MIN_RECALL


def test_no_negative_reaches_the_match_band():
    assert report().false_matches == []


def test_few_negatives_reach_the_possible_band():
    assert report().possible_rate <= MAX_POSSIBLE_RATE, report().false_possibles

