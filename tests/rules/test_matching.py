"""Behaviour of the partner matcher against the shipped lists."""

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.lists import ListEntry, PartnerList, load_current_lists
from rules.matching import MatchSettings, PartnerMatcher, SettingsError

ASPI = "aspi-china-defence-universities"


@cache
def shipped_matcher() -> PartnerMatcher:
    return PartnerMatcher(load_current_lists())


def aspi_hits(name: str, country: str | None = None, name_local: str | None = None) -> dict[str, str]:
    """ASPI entry id -> band (other lists may hold the same institution)."""
    return {
        m.entry.id: m.band for m in shipped_matcher().match(name, country, name_local) if m.list_name == ASPI
    }


@pytest.mark.parametrize(
    ("name", "country", "entry_id", "method"),
    [
        ("Harbin Institute of Technology", "CN", "aspi-harbin-institute-of-technology", "exact"),
        ("HARBIN  institute, of technology.", None, "aspi-harbin-institute-of-technology", "exact"),
        ("Harbin Inst. of Tech.", "CN", "aspi-harbin-institute-of-technology", "normalised"),
        ("The Harbin Institute of Technology", "CN", "aspi-harbin-institute-of-technology", "normalised"),
        ("Technology Institute Harbin", "CN", "aspi-harbin-institute-of-technology", "normalised"),
        ("Beijing Univ. of Aeronautics & Astronautics", None, "aspi-beihang-university", "normalised"),
        ("Xián Jiaotong Universität", None, None, None),  # a foreign word is not an abbreviation
        ("Xīān Jiaotong University", None, "aspi-xian-jiaotong-university", "exact"),
        ("Xi’an Jiaotong University", None, "aspi-xian-jiaotong-university", "exact"),
        ("Sun Yatsen University", None, "aspi-sun-yat-sen-university", "normalised"),
        ("哈尔滨工程大学", None, "aspi-harbin-engineering-university", "native_script"),
        (
            "Harbin Engineering University (哈尔滨工程大学)",
            None,
            "aspi-harbin-engineering-university",
            "exact",
        ),
        ("Beijing Hangkong Hangtian Daxue", None, "aspi-beihang-university", "pinyin"),
        ("Shijiazhuang Tiedao Daxue", None, "aspi-shijiazhuang-tiedao-university", "pinyin"),
        ("北京航空航添大学", None, "aspi-beihang-university", "pinyin"),  # homophone typo
        ("HIT", "CN", "aspi-harbin-institute-of-technology", "acronym_country"),
        ("n.u.d.t.", "cn", "aspi-national-university-of-defense-technology", "acronym_country"),
        ("Harbin Institue of Technology", None, "aspi-harbin-institute-of-technology", "fuzzy"),
        (
            "Nanjing Univeristy of Aeronautics and Astronautics",
            None,
            "aspi-nanjing-university-of-aeronautics-and-astronautics",
            "fuzzy",
        ),
        ("Renmin University of China", "CN", "aspi-renmin-university", "qualified"),
    ],
)
def test_finds_listed_institution(name, country, entry_id, method):
    results = [m for m in shipped_matcher().match(name, country) if m.list_name == ASPI]
    if entry_id is None:
        assert results == []
        return
    assert results, name
    assert (results[0].entry.id, results[0].method) == (entry_id, method)


def test_chinese_name_given_separately():
    assert aspi_hits("Harbin Gongcheng", "CN", name_local="哈尔滨工程大学") == {
        "aspi-harbin-engineering-university": "match"
    }


@pytest.mark.parametrize(
    ("name", "country"),
    [
        ("HIT", "US"),
        ("HIT", None),
        ("Harvard University", "US"),
        ("Beijing Normal University", "CN"),
        ("Beijing University of Technology", "CN"),
        ("北京工业大学", "CN"),
        ("河南大学", "CN"),
        ("Henan University", "CN"),
        ("Hubei University", "CN"),
        ("Southwest University", "CN"),
        ("Northwestern University", "US"),
        ("Xi'an University of Technology", "CN"),
        ("East China University of Science and Technology", "CN"),
        ("Nanyang Technological University", "SG"),
        ("Harbin Medical University", "CN"),
        ("Hebei University of Technology", "CN"),
    ],
)
def test_unlisted_institution_is_not_flagged(name, country):
    assert shipped_matcher().match(name, country) == []


@pytest.mark.parametrize(
    ("name", "listed", "other"),
    [
        (
            "University of Science and Technology of China",
            "aspi-university-of-science-and-technology-of-china",
            "aspi-university-of-electronic-science-and-technology-of-china",
        ),
        (
            "University of Electronic Science and Technology of China",
            "aspi-university-of-electronic-science-and-technology-of-china",
            "aspi-university-of-science-and-technology-of-china",
        ),
        (
            "Nanjing University",
            "aspi-nanjing-university",
            "aspi-nanjing-university-of-science-and-technology",
        ),
        (
            "Nanjing University of Science and Technology",
            "aspi-nanjing-university-of-science-and-technology",
            "aspi-nanjing-university",
        ),
        (
            "Beijing Institute of Technology",
            "aspi-beijing-institute-of-technology",
            "aspi-beijing-normal-university",
        ),
        ("哈尔滨工业大学", "aspi-harbin-institute-of-technology", "aspi-harbin-engineering-university"),
    ],
)
def test_close_listed_names_do_not_flag_each_other(name, listed, other):
    hits = aspi_hits(name, "CN")
    assert hits == {listed: "match"}
    assert other not in hits
    assert "aspi-nanjing-university-of-aeronautics-and-astronautics" not in aspi_hits("Nanjing University")


@pytest.mark.parametrize(
    ("name", "country"),
    [
        ("北京航空航天大字", "CN"),  # one wrong character in a long Chinese name
        ("NUDT, Shanghai", "CN"),  # a listed acronym, but not where that institution is
    ],
)
def test_possible_band_asks_the_committee(name, country):
    bands = set(aspi_hits(name, country).values())
    assert bands == {"possible"}


@pytest.mark.parametrize(
    ("name", "country", "band"),
    [
        ("Harbin Institute of Technology", "US", "info"),  # the official name, but another country
        ("哈尔滨工业大学", "US", "info"),
        ("Harbin Institue of Technology", "US", None),  # resemblance never counts across countries
        ("Harbin Inst. of Tech.", "US", None),
        ("HIT", "US", None),
        ("Northeastern University", "US", "info"),
        ("Northeastern University", "CN", "match"),
        ("Harbin Institute of Technology", "HK", "match"),  # Hong Kong and Macao count as China
    ],
)
def test_country_decides_whether_resemblance_counts(name, country, band):
    bands = set(aspi_hits(name, country).values())
    assert bands == ({band} if band else set())


def one_entry_matcher(name: str) -> PartnerMatcher:
    entry = ListEntry("x", name, "CN", "civilian", "high")
    return PartnerMatcher([PartnerList("t", "1", "t", "", "test", "", (entry,))])


def test_typos_only_in_long_names():
    assert one_entry_matcher("Fudan Hall").match("Fudam Hall") == []  # 9 letters
    long_name = one_entry_matcher("Fudan Microelectronics")
    assert [m.method for m in long_name.match("Fudan Microelectronisc")] == ["fuzzy"]
    assert long_name.match("Fudan Mcroelectronisc") == []  # two typos
    assert long_name.match("Fudan Microelectronics Hall") == []  # an extra word


def test_results_sorted_and_deterministic():
    first = shipped_matcher().match("Beihang University", "CN")
    again = PartnerMatcher(load_current_lists()).match("Beihang University", "CN")
    assert first == again
    assert [(-m.score, m.entry.id) for m in first] == sorted((-m.score, m.entry.id) for m in first)


def test_settings_file_is_validated(tmp_path):
    bad = tmp_path / "matching.yaml"
    bad.write_text("match_threshold: 80\npossible_threshold: 90\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="possible_threshold"):
        MatchSettings.from_file(bad)
    bad.write_text("match_treshold: 80\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="match_treshold"):
        MatchSettings.from_file(bad)


# -- property: case, whitespace and punctuation never change the result -----------------------------

LISTED_NAMES = sorted({name for pl in load_current_lists() for entry in pl.entries for name in entry.names()})
SAMPLE_NAMES = [
    *LISTED_NAMES,
    "Beijing Normal University",
    "Harvard University",
    "Harbin Institue of Technology",
]
PUNCTUATION = '.:!?[]"/'  # commas, semicolons, dashes and brackets separate parts of a name
WHITESPACE = [" ", "  ", "\t", "\n", "\u00a0", "\u3000"]


@st.composite
def respelt(draw, name: str) -> str:
    words = name.split()
    out = [draw(st.sampled_from(["", *WHITESPACE]))]
    for word in words:
        word = (
            "".join(c.upper() if draw(st.booleans()) else c.lower() for c in word) if word.isascii() else word
        )
        before = draw(st.text(alphabet=PUNCTUATION, max_size=2))
        after = draw(st.text(alphabet=PUNCTUATION, max_size=2))
        out += [before, word, after, draw(st.sampled_from(WHITESPACE))]
    return "".join(out)


def outcome(name: str, country: str | None) -> list[tuple[str, str, str]]:
    return [(m.list_name, m.entry.id, m.band) for m in shipped_matcher().match(name, country)]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), name=st.sampled_from(SAMPLE_NAMES), country=st.sampled_from([None, "CN", "US"]))
def test_case_whitespace_and_punctuation_do_not_change_the_result(data, name, country):
    variant = data.draw(respelt(name))
    assert outcome(variant, country) == outcome(name, country)
