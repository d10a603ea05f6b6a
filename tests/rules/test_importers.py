"""Importers of third-party and hand-written lists."""

from collections import Counter
from pathlib import Path

import pytest

from rules.importers import import_csl, import_csv, import_list, import_misp_galaxy, load_topic_map
from rules.lists import ListError, dump_list, load_list_file
from rules.taxonomy import TECHNOLOGY_AREAS

DATA = Path(__file__).resolve().parents[1] / "data"
SOURCES = Path(__file__).resolve().parents[2] / "rules" / "data" / "sources"
ASPI_FILE = SOURCES / "china-defence-universities.misp-galaxy.json"
SHIPPED_ASPI = SOURCES.parent / "lists" / "aspi-china-defence-universities" / "2026-08-06.yaml"


@pytest.fixture(scope="module")
def aspi():
    return import_misp_galaxy(ASPI_FILE, version="2026-08-06")


def by_name(partner_list, name):
    return next(e for e in partner_list.entries if e.name == name)


def test_misp_import_of_the_aspi_tracker(aspi):
    assert (aspi.name, aspi.version, aspi.licence) == (
        "aspi-china-defence-universities",
        "2026-08-06",
        "CC0 1.0",
    )
    assert aspi.publisher == "ASPI International Cyber Policy Centre"
    assert len(aspi.entries) == 159
    assert len({e.id for e in aspi.entries}) == 159
    assert {e.country for e in aspi.entries} == {"CN"}
    assert Counter(e.category for e in aspi.entries) == {
        "civilian": 80,
        "military": 52,
        "defence_industry": 12,
        "security": 8,
        "seven_sons": 7,
    }


@pytest.mark.parametrize(
    ("name", "category", "risk_level"),
    [
        ("Beihang University", "seven_sons", "very_high"),
        ("Academy of Military Science", "military", "very_high"),
        ("China Electronics Technology Group Corporation", "defence_industry", "very_high"),
        ("Beijing Electronic Science and Technology Institute", "security", "very_high"),
        ("Tsinghua University", "civilian", "high"),  # hosts major defence laboratories
        ("Anhui University", "civilian", "medium"),  # none listed
    ],
)
def test_category_sets_risk_level(aspi, name, category, risk_level):
    entry = by_name(aspi, name)
    assert (entry.category, entry.risk_level) == (category, risk_level)
    assert entry.reason.startswith("ASPI China Defence Universities Tracker")


def test_chinese_name_becomes_an_alias(aspi):
    beihang = by_name(aspi, "Beihang University")
    assert beihang.id == "aspi-beihang-university"
    assert beihang.aliases[0] == "北京航空航天大学"
    assert "BUAA" in beihang.aliases
    assert beihang.sources[0] == "https://unitracker.aspi.org.au/universities/beihang-university"
    wuhan = by_name(aspi, "China University of Geosciences (Wuhan)")
    assert "中国地质大学" in wuhan.aliases


def test_topics_are_mapped_to_taxonomy_keys(aspi):
    assert by_name(aspi, "Beihang University").topics[:2] == ("aerospace", "space")
    assert all(topic in TECHNOLOGY_AREAS for e in aspi.entries for topic in e.topics)
    assert sum(1 for e in aspi.entries if e.topics) > 100


def test_topic_map_covers_every_aspi_topic():
    import json

    doc = json.loads(ASPI_FILE.read_text(encoding="utf-8"))
    topics = {t for value in doc["values"] for t in value["meta"].get("topics", ())}
    assert topics <= set(load_topic_map())


def test_shipped_aspi_list_is_what_the_importer_makes(aspi, tmp_path):
    shipped = load_list_file(SHIPPED_ASPI)
    assert shipped.source.startswith("https://github.com/MISP/misp-galaxy/blob/9434ace4")
    rebuilt = load_list_file(
        dump_list(import_misp_galaxy(ASPI_FILE, version="2026-08-06", source=shipped.source), tmp_path)
    )
    assert rebuilt.entries == shipped.entries


def test_misp_rejects_unknown_category_and_topic(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"values": [{"value": "X Univ (某大学)", "meta": {"categories": ["Alien"]}}]}', encoding="utf-8"
    )
    with pytest.raises(ListError, match=r"bad\.json: value 0 \(X Univ\): category"):
        import_misp_galaxy(bad)
    bad.write_text(
        '{"values": [{"value": "X Univ", "meta": {"categories": ["Civilian"], "topics": ["Alchemy"]}}]}',
        encoding="utf-8",
    )
    with pytest.raises(ListError, match="topic 'Alchemy'"):
        import_misp_galaxy(bad)
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ListError, match="cannot read JSON"):
        import_misp_galaxy(bad)


def test_csl_official_file_keeps_only_research_organisations_in_countries_of_concern():
    csl = import_list("csl", DATA / "csl_official_sample.csv", version="2026-12-06")
    assert csl.name == "us-csl-research-organisations"
    assert [e.name for e in csl.entries] == [
        "Harbin Institute of Technology",
        "Southwest Institute of Fluid Physics",
        "Moscow Institute of Physics and Technology",
    ]  # not the trading company, the person, the vessel, nor the institute outside the countries
    hit, fluid, mipt = csl.entries
    assert hit.aliases == ("HIT", "Harbin Polytechnic University")
    assert (hit.city, hit.citation, hit.listed) == ("Harbin", "85 FR 34495", "2020-06-05")
    assert fluid.city == "Chengdu"  # the first address
    assert "Московский физико-технический институт" in mipt.aliases
    assert "research" in csl.method and "left out" in csl.method


def test_csl_csv():
    csl = import_csl(DATA / "csl_sample.csv", version="2026-01-01", research_only=False)
    assert csl.name == "us-consolidated-screening-list"
    polytechnic, aviation, missiles = csl.entries
    assert (polytechnic.country, polytechnic.category, polytechnic.risk_level) == (
        "CN",
        "entity_list",
        "high",
    )
    assert polytechnic.aliases == ("Example Poly", "EPI")
    assert "85 FR 34495" in polytechnic.reason
    assert polytechnic.sources[0].startswith("https://www.bis.doc.gov/")
    # the last address decides the country; a military end user is very high risk
    assert (aviation.country, aviation.risk_level) == ("CN", "very_high")
    assert aviation.category == "military_end_user_meu_list_bureau_of_industry_and_security"
    assert (missiles.country, missiles.risk_level) == ("IR", "very_high")


def test_csl_json_results_and_bare_list(tmp_path):
    csl = import_csl(DATA / "csl_sample.json", research_only=False)
    optics, trading = csl.entries
    assert (optics.country, optics.risk_level, optics.aliases) == (
        "CN",
        "high",
        ("EIO", "Example Optics Institute"),
    )
    assert (trading.country, trading.category) == (
        "ZZ",
        "unverified_list_uvl_bureau_of_industry_and_security",
    )
    bare = tmp_path / "bare.json"
    bare.write_text('[{"name": "Lone Lab", "source": "Entity List", "country": "cn"}]', encoding="utf-8")
    assert import_list("csl", bare).entries[0].country == "CN"  # "Lab" names a research organisation


def test_csl_rejects_nameless_record(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": [{"source": "Entity List"}]}', encoding="utf-8")
    with pytest.raises(ListError, match=r"bad\.json: record 0, column 'name': empty"):
        import_csl(bad, research_only=False)


def test_own_csv():
    partner_list = import_list("csv", DATA / "partner_list_sample.csv", version="2026-02-01")
    assert (partner_list.name, partner_list.version) == ("partner-list-sample", "2026-02-01")
    first, second = partner_list.entries
    assert first.id == "example-institute-of-technology"
    assert first.aliases == ("EIT", "示例理工大学")
    assert first.topics == ("aerospace", "space")
    assert first.sources == ("https://example.org/list", "https://example.org/notice")
    assert (second.country, second.risk_level, second.aliases) == ("RU", "very_high", ())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,country,category,risk_level,colour\nX,CN,c,high,red\n", r"row 1, column 'colour': unknown"),
        ("name,country,category\nX,CN,c\n", r"row 1: missing column 'risk_level'"),
        ("name,country,category,risk_level\nX,China,c,high\n", r"row 2, column 'country'"),
        ("name,country,category,risk_level\nX,CN,c,high\nY,CN,c,extreme\n", r"row 3, column 'risk_level'"),
        (
            "name,country,category,risk_level,topics\nX,CN,c,high,ai;alchemy\n",
            r"row 2, column 'topics': 'alchemy'",
        ),
        ("name,country,category,risk_level\n,CN,c,high\n", r"row 2, column 'name': empty"),
        ("name,country,category,risk_level\nX,CN,Entity List,high\n", r"row 2, column 'category'"),
        (
            "name,country,category,risk_level\nX,CN,c,high\nx,CN,c,high\n",
            r"row 3, column 'name'.*repeats row 2",
        ),
        ("", "header row is required"),
    ],
)
def test_own_csv_rejects_bad_rows(tmp_path, content, message):
    bad = tmp_path / "list.csv"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ListError, match=message):
        import_csv(bad)


def test_unknown_format():
    with pytest.raises(ListError, match="unknown list format 'xml'"):
        import_list("xml", DATA / "partner_list_sample.csv")
