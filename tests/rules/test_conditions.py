"""Compiled conditions, fact readers and templates: what rule data means once it is compiled."""

import re

import pytest

from rules import RuleSyntaxError
from rules.conditions import compile_cases, compile_condition, fact_dict_reader, fact_reader
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


def test_a_missing_step_or_one_through_a_non_mapping_reads_as_none():
    read = fact_reader(["item.country", "item.country.code", "nothing.at.all", "project.fields", "item"])
    assert read(FACTS) == ("CN", None, None, ["1.2"], FACTS["item"])
    assert fact_reader([])(FACTS) == ()


def test_evidence_names_map_to_the_facts_they_name_in_their_order():
    read = fact_dict_reader({"partner_country": "item.country", "areas": "project.areas", "gone": "item.gone"})
    evidence = read(FACTS)
    assert evidence == {"partner_country": "CN", "areas": ["ai", "quantum"], "gone": None}
    assert list(evidence) == ["partner_country", "areas", "gone"]


def test_paths_values_and_names_from_rule_data_stay_data():
    hostile = "item') or __import__('os').system('false') or ('"
    assert fact_reader([hostile])(FACTS) == (None,)
    assert fact_dict_reader({hostile: hostile})(FACTS) == {hostile: None}
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
