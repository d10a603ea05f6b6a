"""Compiled conditions, flag builders and templates: what rule data means once it is compiled."""

import re

import pytest

from rules import RuleSyntaxError
from rules.conditions import compile_cases, compile_condition, flag_builder
from rules.ruleset import Template

SETS = {"concern": ("CN", "RU"), "funders": ("China Scholarship Council",)}
FACTS = {
    "project": {"areas": ["ai", "quantum"], "fields": ["1.2"], "budget": 120_000, "welcome_only": False},
    "item": {"country": "CN", "source": "the China Scholarship Council grant", "listed": True, "note": None},
}


def holds(condition, facts=FACTS) -> bool:
    return compile_condition(condition, SETS, "test")(facts)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"fact": "item.country", "op": "eq", "value": "CN"}, True),
        ({"fact": "item.country", "op": "ne", "value": "CN"}, False),
        ({"fact": "item.country", "op": "in", "value": "$concern"}, True),
        ({"fact": "item.country", "op": "not_in", "value": ["FR", "DE"]}, True),
        ({"fact": "project.budget", "op": "gt", "value": 120_000}, False),
        ({"fact": "project.budget", "op": "gte", "value": 120_000}, True),
        ({"fact": "project.budget", "op": "lt", "value": 1}, False),
        ({"fact": "project.budget", "op": "lte", "value": 120_000}, True),
        ({"fact": "project.missing", "op": "gt", "value": 0}, False),
        ({"fact": "project.areas", "op": "intersects", "value": ["ai", "space"]}, True),
        ({"fact": "project.areas", "op": "not_intersects", "value": ["space"]}, True),
        ({"fact": "project.areas", "op": "subset_of", "value": ["ai", "quantum", "space"]}, True),
        ({"fact": "project.missing", "op": "subset_of", "value": ["ai"]}, False),
        ({"fact": "project.areas", "op": "contains", "value": "quantum"}, True),
        ({"fact": "item.listed", "op": "is_true"}, True),
        ({"fact": "project.welcome_only", "op": "is_false"}, True),
        ({"fact": "item.note", "op": "exists"}, False),
        ({"fact": "item.note", "op": "missing"}, True),
        ({"fact": "project.fields", "op": "not_empty"}, True),
        ({"fact": "project.fields", "op": "empty"}, False),
        ({"fact": "item.country", "op": "startswith_any", "value": ["C", "R"]}, True),
        ({"fact": "item.source", "op": "mentions_any", "value": "$funders"}, True),
        ({"fact": "item.source", "op": "mentions_any", "value": ["Council grant of"]}, False),
    ],
)
def test_each_operator_compares_the_fact_with_the_value(condition, expected):
    assert holds(condition) is expected


def test_all_any_and_not_combine_conditions_and_no_condition_always_holds():
    china = {"fact": "item.country", "op": "eq", "value": "CN"}
    france = {"fact": "item.country", "op": "eq", "value": "FR"}
    assert holds({"all": [china, {"not": france}]}) is True
    assert holds({"all": [china, france]}) is False
    assert holds({"any": [france, china]}) is True
    assert holds({"not": {"any": [france]}}) is True
    assert holds(None) is True


def build_flag(evidence=None, cite=(), title=("Partner ", "{item.country}", "."), facts=FACTS) -> dict:
    """The flag of a rule with this evidence, cite paths and title (literals and ``{paths}`` in turn)."""
    literals = [piece for piece in title if not piece.startswith("{")]
    paths = [piece.strip("{}") for piece in title if piece.startswith("{")]
    build = flag_builder(
        {"rule": "PARTNER-TEST", "category": "partner"},
        lambda facts: "high",
        {"title": (literals, paths), "explanation": (["Always the same."], [])},
        lambda value: f"<{value}>",
        evidence or {},
        ("https://example.org/rule-source",),
        cite,
        ("Ask the export-control officer.",),
    )
    return build(facts)


def test_a_flag_holds_its_parts_in_the_contract_order():
    flag = build_flag(evidence={"partner_country": "item.country"})
    assert list(flag) == ["rule", "category", "severity", "title", "explanation", "evidence", "sources", "mitigations"]
    assert flag == {
        "rule": "PARTNER-TEST",
        "category": "partner",
        "severity": "high",
        "title": "Partner CN.",
        "explanation": "Always the same.",
        "evidence": {"partner_country": "CN"},
        "sources": ["https://example.org/rule-source"],
        "mitigations": ["Ask the export-control officer."],
    }


def test_a_missing_step_or_one_through_a_non_mapping_reads_as_none():
    paths = ["item.country", "item.country.code", "nothing.at.all", "project.fields", "item"]
    evidence = build_flag(evidence={str(i): path for i, path in enumerate(paths)})["evidence"]
    assert list(evidence.values()) == ["CN", None, None, ["1.2"], FACTS["item"]]


def test_evidence_names_map_to_the_facts_they_name_in_their_order():
    evidence = build_flag(evidence={"partner_country": "item.country", "areas": "project.areas", "gone": "item.gone"})
    assert evidence["evidence"] == {"partner_country": "CN", "areas": ["ai", "quantum"], "gone": None}
    assert list(evidence["evidence"]) == ["partner_country", "areas", "gone"]


def test_facts_other_than_text_pass_through_the_text_function_in_titles():
    title = ("Areas: ", "{project.areas}", ", budget ", "{project.budget}", ", note ", "{item.note}", "")
    flag = build_flag(title=title)
    assert flag["title"] == "Areas: <['ai', 'quantum']>, budget <120000>, note <None>"


def test_sources_are_the_rules_then_each_cited_one_once():
    facts = {"item": {"entry": {"sources": ["https://a.example", "https://example.org/rule-source", "", None]},
                      "funder_source": "https://b.example", "again": ["https://a.example"]}}
    flag = build_flag(cite=("item.entry.sources", "item.funder_source", "item.again", "item.missing"), facts=facts)
    assert flag["sources"] == ["https://example.org/rule-source", "https://a.example", "https://b.example"]


def test_each_flag_gets_lists_of_its_own():
    first, second = build_flag(), build_flag()
    first["sources"].append("changed")
    first["mitigations"].clear()
    first["evidence"]["added"] = True
    assert second["sources"] == ["https://example.org/rule-source"]
    assert second["mitigations"] == ["Ask the export-control officer."]
    assert build_flag()["evidence"] == {}


def test_paths_values_and_names_from_rule_data_stay_data():
    hostile = "item') or __import__('os').system('false') or ('"
    flag = build_flag(evidence={hostile: hostile}, cite=(hostile,), title=(hostile, f"{{{hostile}}}", ""))
    assert flag["evidence"] == {hostile: None}
    assert flag["sources"] == ["https://example.org/rule-source"]
    assert flag["title"] == hostile + "<None>"
    assert holds({"fact": "item.country", "op": "eq", "value": "CN') or ('x"}) is False
    assert holds({"fact": "item.country", "op": "in", "value": ["__import__('os')", "CN"]}) is True
    assert Template("Partner {item.country} said '{X}\" + \\n").render(FACTS) == "Partner CN said '{X}\" + \\n"


def test_severity_cases_give_the_first_level_whose_condition_holds():
    level = compile_cases(
        [
            ({"fact": "item.country", "op": "eq", "value": "FR"}, "critical", "case 0"),
            ({"fact": "item.listed", "op": "is_true"}, "high", "case 1"),
            (None, "info", "case 2"),
        ],
        SETS,
    )
    assert level(FACTS) == "high"
    assert level({"item": {"country": "DE"}}) == "info"


def test_a_malformed_case_is_reported_where_it_stands():
    cases = [(None, "low", "case 0"), ({"fact": "item.country", "op": "like", "value": 1}, "high", "case 1")]
    with pytest.raises(RuleSyntaxError, match=re.escape("case 1: unknown operator")):
        compile_cases(cases, SETS)


def test_templates_show_facts_as_people_read_them():
    facts = {
        "n": 1234567,
        "none": None,
        "yes": True,
        "areas": ["ai", "quantum"],
        "empty": [],
        "mixed": ["a", 2, None],
        "how": {"en": "alias", "de": "Alias"},
        "score": 0.93,
    }
    rendered = Template("{n}|{none}|{yes}|{areas}|{empty}|{mixed}|{how}|{score}|{missing.path}").render(facts)
    assert rendered == "1\u202f234\u202f567|—|yes|ai, quantum|—|a, 2, —|en: alias; de: Alias|0.93|—"
