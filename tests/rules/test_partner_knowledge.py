"""Partner knowledge: the shipped official lists, the affiliation graph, one finding per partner,
and the forms in which people write listed names."""

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from rules.affiliations import AffiliationGraph, Unit, load_current_graph
from rules.engine import Screener
from rules.lists import ListEntry, PartnerList, diff_lists, dump_list, load_current_lists, load_list_file, stored_diff
from rules.matching import PartnerMatcher


@cache
def screener() -> Screener:
    return Screener.default()


def partner_flags(name: str, country: str = "CN", **project) -> list[dict]:
    proposal = {
        "title": "Joint optics project",
        "research_fields": ["2.2"],
        **project,
        "partners": [{"name": name, "country": country}],
    }
    return [f for f in screener().screen(proposal)["flags"] if f["category"] == "partner"]


def test_shipped_lists_are_the_official_ones_with_publisher_dates_and_sources():
    lists = {pl.name: pl for pl in load_current_lists()}
    assert {"canada-named-research-organizations", "us-entity-list-research", "us-dod-1260h"} <= set(lists)
    nro = lists["canada-named-research-organizations"]
    assert nro.published == "2024-01-16"
    assert Counter(e.country for e in nro.entries) == {"CN": 85, "IR": 12, "RU": 6}  # as published: 103 entries
    entity_list = lists["us-entity-list-research"]
    assert any(e.citation == "85 FR 34495" for e in entity_list.entries)
    for partner_list in lists.values():
        assert partner_list.published and partner_list.source
        assert all(entry.sources for entry in partner_list.entries), partner_list.name


# -- sub-units: the flag names the unit and its listed parent ------------------------------------------


@pytest.mark.parametrize(
    ("written", "kind", "parent"),
    [
        ("Harbin Institute of Technology, Weihai", "campus", "Harbin Institute of Technology"),
        ("哈尔滨工业大学（深圳）", "campus", "Harbin Institute of Technology"),
        ("School of Astronautics, Beihang University", "school", "Beihang University"),
        ("CETC 38th Research Institute", "numbered_institute", "China Electronics Technology Group Corporation"),
        ("中国电子科技集团公司第二十九研究所", "numbered_institute", "China Electronics Technology Group Corporation"),
        (
            "State Key Laboratory of Robotics and System, Harbin Institute of Technology",
            "laboratory",
            "Harbin Institute of Technology",
        ),
    ],
)
def test_a_sub_unit_is_flagged_naming_unit_and_parent(written, kind, parent):
    flags = partner_flags(written)
    assert len(flags) == 1, flags
    evidence = flags[0]["evidence"]
    assert evidence["entry"] == parent
    assert evidence["unit_kind"] == kind
    assert evidence["unit"]
    assert parent in flags[0]["explanation"] and evidence["unit"] in flags[0]["explanation"]


def test_graph_units_carry_the_parents_risk_level_and_a_lab_of_the_graph_is_found_by_its_own_name():
    graph = load_current_graph()
    labs = [u for u in graph.units if u.kind == "laboratory" and u.parent == "Harbin Institute of Technology"]
    assert labs
    matches = screener().matcher.match(labs[0].name, "CN")
    assert matches and all(m.method == "sub_unit" and m.unit == labs[0].name for m in matches)
    assert {m.entry.risk_level for m in matches} == {
        e.risk_level for pl in screener().lists for e in pl.entries if e.id in {m.entry.id for m in matches}
    }


def test_a_sub_unit_listed_in_its_own_right_keeps_its_own_listing():
    parent = ListEntry("p", "Example Academy of Physics", "CN", "military", "very_high", sources=("s",))
    institute = ListEntry(
        "i",
        "Example Institute of Optics",
        "CN",
        "entity_list",
        "high",
        sources=("s",),
        parent="Example Academy of Physics",
    )
    lists = [PartnerList("t", "1", "t", "", "src", "", (parent, institute))]
    graph = AffiliationGraph(
        "1",
        "g",
        "",
        (Unit("u", "Example Institute of Optics", "institute", "Example Academy of Physics", "CN", sources=("s",)),),
    )
    matches = PartnerMatcher(lists, graph=graph).match("Example Institute of Optics", "CN")
    direct = [m for m in matches if m.entry.id == "i"]
    assert direct and direct[0].method == "exact"


def test_units_whose_parent_is_on_no_list_are_reported():
    graph = AffiliationGraph("1", "g", "", (Unit("u", "Lab of Nowhere", "laboratory", "Unlisted Univ", "CN"),))
    assert [u.id for u in PartnerMatcher(load_current_lists(), graph=graph).orphan_units] == ["u"]


# -- one card per partner ------------------------------------------------------------------------------


def test_a_partner_on_several_lists_is_one_flag_listing_each_listing():
    flags = partner_flags("Harbin Institute of Technology", technology_areas=["robotics"])
    assert len(flags) == 1
    evidence = flags[0]["evidence"]
    assert evidence["entry"] == "Harbin Institute of Technology"
    lists = {listing["list"] for listing in evidence["listings"]}
    assert {
        "aspi-china-defence-universities",
        "canada-named-research-organizations",
        "us-entity-list-research",
    } <= lists
    assert all(listing["sources"] for listing in evidence["listings"])
    assert flags[0]["severity"] == "critical"  # the most severe listing decides
    assert len(flags[0]["mitigations"]) == len(set(flags[0]["mitigations"]))


def test_the_most_severe_listing_leads_the_merged_flag():
    mild = ListEntry(
        "m", "Example University of Optics", "CN", "civilian", "medium", topics=("sensing",), sources=("a",)
    )
    severe = ListEntry("s", "Example University of Optics", "CN", "military", "very_high", sources=("b",))
    merged = Screener(
        screener().ruleset,
        [PartnerList("a", "1", "a", "", "a", "", (mild,)), PartnerList("b", "1", "b", "", "b", "", (severe,))],
    )
    flags = [
        f
        for f in merged.screen(
            {
                "title": "Joint optics project",
                "research_fields": ["1.1"],
                "partners": [{"name": "Example University of Optics", "country": "CN"}],
            }
        )["flags"]
        if f["category"] == "partner"
    ]
    assert len(flags) == 1
    assert flags[0]["evidence"]["risk_level"] == "very_high"
    assert flags[0]["severity"] == "high"
    assert {x["list"] for x in flags[0]["evidence"]["listings"]} == {"a", "b"}


# -- names as people write them -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "country", "method"),
    [
        ("National University of Defense Technology (NUDT)", "CN", "exact"),
        ("NUDT (National University of Defense Technology)", "CN", "exact"),
        ("NUDT, Changsha", "CN", "acronym_city"),
        ("Changsha NUDT", "CN", "acronym_city"),
        ("HIT Harbin", "CN", "acronym_city"),
        ("Harbin Institute of Technology（Shenzhen）", "CN", "sub_unit"),
        ("國防科技大學", "CN", "native_script"),
        ("Department of Physics Harbin Institute of Technology Harbin 150001 China", "CN", "sub_unit"),
        ("College of Computer Science, Hunan UniversityChangsha410082, China", "CN", "sub_unit"),
        ("Chinese People's Liberation Army Naval Medical University", "CN", "qualified"),
        ("Moscow Inst. of Physics & Technology", "RU", "normalised"),
        (
            "Univ Elect Sci & Technol China, Natl Key Lab Wireless Commun, Chengdu 611731, Peoples R China",
            "CN",
            "sub_unit",
        ),
        ("V.A. Trapeznikov Institute of Control Sciences of RAS (Moscow)", "RU", "qualified"),
        ("Boreskov Institute of Catalysis SB RAS, Novosibirsk", "RU", "qualified"),
        ("Shenyang Aircraft Design Institute or 601 Institute", "CN", "exact"),
        ("国防科大", "CN", "native_script"),
        ("中國人民解放軍國防科學技術大學", "CN", "native_script"),
        ("西安电子科技大学物理与光电工程学院西安710071", "CN", "sub_unit"),
        ("Harbin Insitute of Technology", "CN", "fuzzy"),
        ("Chongqing University of Post and Telecommunications", "CN", "fuzzy"),
    ],
)
def test_written_forms_find_the_listed_organisation(written, country, method):
    matches = screener().matcher.match(written, country)
    assert matches and matches[0].band == "match", matches
    assert matches[0].method in (method, "alias", "sub_unit"), matches[0]


@pytest.mark.parametrize(
    ("written", "country"),
    [
        ("Nanjing University of Chinese Medicine", "CN"),
        ("Beijing University of Chinese Medicine", "CN"),
        ("Tianjin University of Technology", "CN"),
        ("Holon Institute of Technology", "IL"),
        ("HIT, Holon", "IL"),
        ("Institute of Physics, University of Tartu", "EE"),
        ("Southwest University", "CN"),
        ("Zhejiang Chinese Medical University", "CN"),
        ("ShanghaiTech University", "CN"),
        ("北京市第一〇一中学", "CN"),
    ],
)
def test_unlisted_institutions_with_similar_names_are_not_flagged(written, country):
    assert [m for m in screener().matcher.match(written, country) if m.band != "info"] == []


def test_a_typo_in_the_word_that_tells_institutions_apart_is_only_a_possible_match():
    # Xiangnan University is a real university; one letter away from the listed Xiangtan University.
    matches = screener().matcher.match("Xiangnan University", "CN")
    assert [(m.entry.name, m.band) for m in matches] == [("Xiangtan University", "possible")]


def test_a_numbered_institute_is_found_with_or_without_its_ordinal_suffix():
    for written in ("CETC 38th Research Institute", "CETC 38 Research Institute"):
        names = {m.entry.name for m in screener().matcher.match(written, "CN")}
        assert any("38th" in name for name in names), (written, names)


def _russian_institute_list() -> list[PartnerList]:
    institute = ListEntry(
        "mipt",
        "Example Physics Institute",
        "RU",
        "entity_list",
        "high",
        aliases=("Московский физико-технический институт", "Физтех", "ИППИ РАН"),
        sources=("s",),
    )
    return [PartnerList("t", "1", "t", "", "src", "", (institute,))]


@pytest.mark.parametrize(
    "written",
    ["Moskovskiy fiziko-tekhnicheskiy institut", "Moskovskii fiziko-tekhnicheskii institut", "Fizteh", "IPPI"],
)
def test_russian_names_are_found_in_the_latin_spellings_people_use(written):
    matches = PartnerMatcher(_russian_institute_list()).match(written, "RU")
    assert [(m.entry.id, m.band, m.method) for m in matches] == [("mipt", "match", "transliteration")]


def test_a_chinese_name_with_the_country_or_the_pla_written_before_it_is_the_listed_name():
    entry = ListEntry(
        "r", "Example People's University", "CN", "civilian", "medium", aliases=("人民大学",), sources=("s",)
    )
    matcher = PartnerMatcher([PartnerList("t", "1", "t", "", "src", "", (entry,))])
    assert [m.method for m in matcher.match("中国人民大学", "CN")] == ["qualified"]
    assert [m.method for m in matcher.match("中国人民解放军人民大学", "CN")] == ["qualified"]


def test_another_name_of_a_listed_organisation_is_explained_as_such():
    flags = partner_flags("Guilin University of Electronic Technology")
    assert len(flags) == 1
    assert flags[0]["evidence"]["entry"] == "Guilin University of Electronic Science and Technology"
    assert flags[0]["evidence"]["unit_kind"] == "other_name"
    assert "another name of Guilin University of Electronic Science and Technology" in flags[0]["explanation"]


def test_namesake_abroad_is_at_most_an_info_note():
    flags = partner_flags("Northeastern University", "US", technology_areas=["robotics"])
    assert [(f["rule"], f["severity"]) for f in flags] == [("PARTNER-NAMESAKE-ABROAD", "info")]
    assert (
        screener().screen(
            {
                "title": "Joint robotics project",
                "research_fields": ["2.2"],
                "partners": [{"name": "Northeastern University", "country": "US"}],
            }
        )["tier"]
        == "low"
    )


# -- list updates -------------------------------------------------------------------------------------


def test_a_new_list_version_records_its_diff(tmp_path):
    current = next(pl for pl in load_current_lists() if pl.name == "canada-named-research-organizations")
    _first, second, *rest = current.entries
    changed = ListEntry(**{**second.__dict__, "risk_level": "very_high" if second.risk_level == "high" else "high"})
    added = ListEntry(
        "nro-test-new", "Institute of Imaginary Sciences", "CN", "named_research_org", "high", sources=("s",)
    )
    new = PartnerList(**{**current.__dict__, "version": "2099-01-01", "entries": (changed, *rest, added), "path": None})
    diff = diff_lists(current, new)
    assert diff.counts == {"added": 1, "removed": 1, "changed": 1}
    assert diff.changed[0].fields == ("risk_level",)
    path = dump_list(new, tmp_path, diff)
    assert stored_diff(load_list_file(path)).counts == diff.counts
    assert diff.lines()[0].startswith("canada-named-research-organizations 2099-01-01 (since 2026-12-06.2): 1 added")


def test_stored_diff_is_recomputed_from_the_previous_version_when_none_was_stored(tmp_path):
    entry = ListEntry("a", "Alpha Institute", "CN", "c", "high", sources=("s",))
    old = PartnerList("x", "2026-01-01", "x", "", "src", "", (entry,))
    dump_list(old, tmp_path)
    newer = PartnerList("x", "2026-02-01", "x", "", "src", "", ())
    path = dump_list(newer, tmp_path)
    assert stored_diff(load_list_file(Path(path))).counts == {"added": 0, "removed": 1, "changed": 0}
