"""Properties that must hold for every proposal, checked on generated ones (hypothesis)."""

import csv
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import Screener
from rules.ruleset import SEVERITIES, TIERS, tier_for_severity
from rules.taxonomy import FORD_FIELDS, TECHNOLOGY_AREAS


@cache
def screener() -> Screener:
    return Screener.default()


@cache
def partner_pool() -> list[tuple[str, str]]:
    listed = [(name, e.country) for pl in screener().lists for e in pl.entries[:40] for name in e.names()[:2]]
    with Path("tests/data/negative_institutions.csv").open(encoding="utf-8") as fh:
        unlisted = [(row["name"], row["country"]) for row in csv.DictReader(fh)][:200]
    return listed + unlisted


COUNTRIES = ["CN", "RU", "IR", "FR", "US", "IN", "JP", "CH", "BY", "KP", "DE", "GB"]
partners = st.builds(
    lambda pick, kind: {"name": pick[0], "country": pick[1], **({"type": kind} if kind else {})},
    st.deferred(lambda: st.sampled_from(partner_pool())),
    st.sampled_from([None, "university", "research_institute", "company", "military", "ngo"]),
)
funding = st.fixed_dictionaries(
    {"source": st.sampled_from(["China Scholarship Council", "DFG", "Office of Naval Research", "Horizon Europe"])},
    optional={
        "country": st.sampled_from(COUNTRIES),
        "kind": st.sampled_from(["grant", "scholarship", "government", "industry"]),
        "co_selected_by": st.lists(st.sampled_from(["DAAD", "University board"]), max_size=2),
    },
)
transfers = st.fixed_dictionaries(
    {
        "direction": st.sampled_from(["outbound", "inbound", "both"]),
        "country": st.sampled_from(COUNTRIES),
        "categories": st.lists(
            st.sampled_from(
                [
                    "anonymised",
                    "personal",
                    "health",
                    "human_genetic",
                    "geospatial",
                    "source_code",
                    "export_controlled_technology",
                    "important_data",
                ]
            ),
            min_size=1,
            max_size=3,
            unique=True,
        ),
    },
    optional={"data_subjects": st.integers(min_value=0, max_value=3_000_000)},
)
proposals = st.fixed_dictionaries(
    {
        "title": st.sampled_from(
            [
                "Thermal protection for hypersonic vehicles",
                "Medieval manuscripts",
                "Asthma adherence study",
                "Quantum key distribution in metropolitan networks",
                "Catalytic conversion of biomass",
            ]
        ),
        "research_fields": st.lists(st.sampled_from(sorted(FORD_FIELDS)), min_size=1, max_size=3, unique=True),
        "partners": st.lists(partners, min_size=1, max_size=5),
    },
    optional={
        "technology_areas": st.lists(st.sampled_from(sorted(TECHNOLOGY_AREAS)), max_size=3, unique=True),
        "funding": st.lists(funding, max_size=2),
        "data_transfers": st.lists(transfers, max_size=2),
        "export_control": st.fixed_dictionaries(
            {},
            optional={
                "dual_use_codes": st.lists(st.sampled_from(["3A001", "0B001", "5A002"]), max_size=2, unique=True),
                "military_end_use": st.booleans(),
            },
        ),
    },
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def without_time(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "screened_at"}


@SETTINGS
@given(proposals)
def test_tier_is_at_least_the_most_severe_flag_and_fast_track_only_when_low(prop):
    result = screener().screen(prop)
    worst = max((SEVERITIES.index(f["severity"]) for f in result["flags"]), default=0)
    assert TIERS.index(result["tier"]) >= TIERS.index(tier_for_severity(SEVERITIES[worst]))
    assert (result["route"] == "fast_track") == (result["tier"] == "low")


@SETTINGS
@given(proposals)
def test_same_input_same_result(prop):
    assert without_time(screener().screen(prop)) == without_time(screener().screen(prop))


@SETTINGS
@given(proposals, partners)
def test_adding_a_partner_never_lowers_the_tier(prop, extra):
    before = screener().screen(prop)["tier"]
    if len(prop["partners"]) >= 50:
        return
    after = screener().screen({**prop, "partners": [*prop["partners"], extra]})["tier"]
    assert TIERS.index(after) >= TIERS.index(before)


def _partner_matches(result: dict, index: int) -> set:
    return {
        (f["rule"], f["evidence"].get("entry_id"), f["evidence"].get("band"))
        for f in result["flags"]
        if f["category"] == "partner" and f["evidence"].get("partner_index") == index
    }


SPELLINGS = [
    str.upper,
    str.lower,
    str.title,
    lambda s: f"  {s}  ",
    lambda s: s.replace(" ", "   "),
    lambda s: s + ".",
    lambda s: s.replace(" ", ". ", 1),
    lambda s: f"({s})",
]  # commas and dashes are left out: they separate the parts of a name ("School of X, Beihang University")


@SETTINGS
@given(st.deferred(lambda: st.sampled_from(partner_pool())), st.sampled_from(SPELLINGS))
def test_case_whitespace_and_punctuation_never_change_a_partners_match(pick, spell):
    name, country = pick
    base = {"title": "Joint project", "research_fields": ["2.2"]}
    original = screener().screen({**base, "partners": [{"name": name, "country": country}]})
    respelt = screener().screen({**base, "partners": [{"name": spell(name), "country": country}]})
    assert _partner_matches(respelt, 0) == _partner_matches(original, 0)
