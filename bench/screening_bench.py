"""Screening throughput on one core: 10,000 varied synthetic proposals (1-5 partners each).

Runs (a) against the shipped lists and (b) against the shipped lists plus 20,000 synthetic
entries, prints proposals per second for both and the ratio b/a. Targets: (a) >= 2,000/s,
(b) >= 1,000/s; a ratio near 1 shows that list size does not drive the cost (lists are indexed).

    .venv/bin/python bench/screening_bench.py [--proposals N] [--extra-entries N]
"""

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules import Screener
from rules.lists import load_current_lists
from rules.matching import PartnerMatcher
from rules.matching_quality import clear_caches, load_negative_corpus, synthetic_list
from rules.ruleset import load_ruleset
from rules.taxonomy import FORD_FIELDS, TECHNOLOGY_AREAS

SEED = 4242
NEGATIVE = Path(__file__).resolve().parents[1] / "tests" / "data" / "negative_institutions.csv"
TITLES = [
    "Learning-based control of legged robots",
    "Paediatric asthma cohort",
    "Ming dynasty poetry in translation",
    "Radar signal processing for weather observation",
    "Catalytic conversion of biomass",
    "Quantum sensing of magnetic fields",
    "Soil carbon in alpine grasslands",
    "Additively manufactured titanium alloys",
    "Labour markets and migration",
]
SYLLABLES = ["ka", "lo", "ven", "dar", "mi", "sul", "tor", "ba", "ri", "quen", "zha", "ost", "mer", "lin"]


def make_partner(rng: random.Random, listed: list[tuple[str, str]], unlisted: list[tuple[str, str]]) -> dict:
    roll = rng.random()
    if roll < 0.2:
        name, country = rng.choice(listed)
    elif roll < 0.35:
        name, country = rng.choice(listed)
        name = name.upper() if rng.random() < 0.5 else name.replace("University", "Univ.").replace("Institute", "Inst.")
    elif roll < 0.75:
        name, country = rng.choice(unlisted)
    else:  # a name never seen before, so no cache can help
        place = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
        name = f"{place} {rng.choice(['University', 'Institute of Technology', 'Medical College', 'Research Centre'])}"
        country = rng.choice(["CN", "DE", "US", "RU", "IN", "BR"])
    return {"name": name, "country": country}


def make_proposals(count: int, screener: Screener) -> list[dict]:
    rng = random.Random(SEED)
    listed = [(n, e.country) for pl in screener.lists for e in pl.entries for n in e.names()]
    unlisted = load_negative_corpus(NEGATIVE)
    fields, areas = sorted(FORD_FIELDS), sorted(TECHNOLOGY_AREAS)
    proposals = []
    for number in range(count):
        prop = {
            "reference": f"bench-{number}",
            "title": rng.choice(TITLES),
            "research_fields": rng.sample(fields, rng.randint(1, 3)),
            "partners": [make_partner(rng, listed, unlisted) for _ in range(rng.randint(1, 5))],
        }
        if rng.random() < 0.4:
            prop["technology_areas"] = rng.sample(areas, rng.randint(1, 3))
        if rng.random() < 0.3:
            prop["funding"] = [
                {
                    "source": rng.choice(["China Scholarship Council", "DFG", "Horizon Europe"]),
                    "kind": "grant",
                }
            ]
        if rng.random() < 0.3:
            prop["data_transfers"] = [
                {
                    "direction": rng.choice(["inbound", "outbound", "both"]),
                    "country": rng.choice(["CN", "US", "CH", "RU"]),
                    "categories": rng.sample(["personal", "health", "anonymised", "source_code"], 2),
                    "data_subjects": rng.randint(0, 2_000_000),
                }
            ]
        if rng.random() < 0.1:
            prop["export_control"] = {"dual_use_codes": ["3A001"]}
        proposals.append(prop)
    return proposals


def throughput(screener: Screener, proposals: list[dict], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        clear_caches()
        gc.collect()
        start = time.perf_counter()
        for prop in proposals:
            screener.screen(prop)
        rates.append(len(proposals) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=10_000)
    parser.add_argument("--extra-entries", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    ruleset = load_ruleset()
    shipped = load_current_lists()
    plain = Screener(ruleset, shipped)
    start = time.perf_counter()
    grown_lists = [*shipped, synthetic_list(args.extra_entries)]
    grown = Screener(ruleset, grown_lists, PartnerMatcher(grown_lists))
    index_seconds = time.perf_counter() - start
    proposals = make_proposals(args.proposals, plain)
    partners = sum(len(p["partners"]) for p in proposals)

    rate_a = throughput(plain, proposals, args.repeats)
    rate_b = throughput(grown, proposals, args.repeats)
    entries_a = sum(len(pl.entries) for pl in shipped)
    print(f"proposals: {len(proposals)} ({partners} partners, {partners / len(proposals):.2f} per proposal), one core")
    print(f"(a) shipped lists ({entries_a} entries):            {rate_a:8.0f} proposals/s  (target >= 2000)")
    print(
        f"(b) shipped + {args.extra_entries} synthetic ({entries_a + args.extra_entries} entries): "
        f"{rate_b:8.0f} proposals/s  (target >= 1000)"
    )
    print(
        f"ratio b/a: {rate_b / rate_a:.2f}   (1.00 = list size costs nothing; index build took {index_seconds:.1f} s)"
    )
    return 0 if rate_a >= 2000 and rate_b >= 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
