"""SVG charts: escaping, accessibility, determinism and small-number suppression."""

import xml.etree.ElementTree as ET

import pytest

from screening.portfolio.charts import PALETTE, TIER_COLOURS, bar_chart, small_number_suppression, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"
NASTY = ["<script>alert(1)</script>", "\"&'", "]]><x>", "ctrl\x01char", "{{7*7}}"]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("fill") != "#ffffff"]


def charts_with(label: str, title: str = "Title") -> list[str]:
    return [
        bar_chart(title, [(label, 7), ("other", 3)]),
        bar_chart(title, [(label, 7), ("other", 3)], horizontal=True),
        stacked_bar_chart(title, [label, "DE"], [("low", [1, 2]), (label, [3, 4])]),
    ]


@pytest.mark.parametrize("label", NASTY)
def test_labels_and_titles_are_escaped(label):
    for svg in charts_with(label, title=label):
        root = parse(svg)  # well-formed whatever the label
        assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
        assert "<script" not in svg and "<x>" not in svg
        shown = "\n".join(texts(root)) + root.find(f"{SVG}title").text + root.find(f"{SVG}desc").text
        expected = label.replace("\x01", "\ufffd")
        assert expected[:8] in shown
        assert root.get("aria-label") == expected


def test_no_script_style_link_or_external_reference_can_appear():
    for svg in charts_with("<a href='http://evil'>x</a>", title="javascript:alert(1)"):
        root = parse(svg)
        for element in root.iter():
            for name in element.attrib:
                assert not name.lower().startswith("on")
                assert "href" not in name and name != "style"
            assert element.tag.split("}")[-1] not in ("script", "style", "a", "image", "foreignObject", "use")
        assert "url(" not in svg and "@import" not in svg
        rest = svg.replace('xmlns="http://www.w3.org/2000/svg"', "", 1)
        assert rest.count("http") == rest.count("http://evil")  # only the caller's (escaped) text
        assert "xlink" not in svg


def test_charts_are_accessible():
    svg = bar_chart("Partners by country", [("CN", 892), ("US", 130)])
    root = parse(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "Partners by country"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert list(root)[:2] == [title, desc]
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert desc.text == "Bar chart with 2 bars. CN: 892; US: 130."
    assert root.get("viewBox") == "0 0 640 320"


def test_output_is_deterministic_and_ids_differ_between_charts():
    data = [("CN", 892), ("US", 130.5)]
    assert bar_chart("A", data) == bar_chart("A", data)
    ids = {parse(bar_chart(t, data)).find(f"{SVG}title").get("id") for t in ("A", "B")}
    assert len(ids) == 2


def test_small_number_suppression():
    counts = {"CN": 892, "RU": 3, "IR": 0, "KR": 1, "FR": 5, "JP": 4}
    assert small_number_suppression(counts) == [
        ("CN", 892), ("RU", "<5"), ("IR", 0), ("KR", "<5"), ("FR", 5), ("JP", "<5"),
    ]
    assert small_number_suppression([("a", 9), ("b", 10)], threshold=10) == [("a", "<10"), ("b", 10)]


@pytest.mark.parametrize("horizontal", [False, True])
def test_suppressed_values_draw_no_bar_but_a_label(horizontal):
    svg = bar_chart("Tiers", small_number_suppression({"CN": 40, "RU": 3, "IR": 0}), horizontal=horizontal)
    root = parse(svg)
    assert len(bars(root)) == 2  # CN and IR (a zero-height bar); nothing for RU
    assert "<5" in texts(root) and "3" not in texts(root)
    assert "RU: fewer than 5 (not drawn)" in root.find(f"{SVG}desc").text
    assert ">3<" not in svg


def test_suppress_below_applies_the_same_rule():
    assert bar_chart("T", [("a", 4), ("b", 9)], suppress_below=5) == bar_chart("T", [("a", "<5"), ("b", 9)])


def test_stacked_bars_hide_suppressed_segments_and_do_not_give_them_away_in_totals():
    svg = stacked_bar_chart(
        "Tier by country",
        ["CN", "RU"],
        [("low", [100, 3]), ("medium", [200, 10]), ("high", [150, 2]), ("critical", [30, 0])],
        suppress_below=5,
    )
    root = parse(svg)
    labels = texts(root)
    assert "480" in labels and "10 + <5" in labels
    segments = [r for r in bars(root) if r.get("width") != "12"]  # legend swatches are 12 wide
    assert len(segments) == 5  # CN: four tiers; RU: medium only
    assert {r.get("fill") for r in segments} == set(TIER_COLOURS.values())
    assert ">3<" not in svg and ">2<" not in svg


def test_empty_and_invalid_data():
    assert "No data" in texts(parse(bar_chart("Nothing", [])))
    assert "No data" in texts(parse(stacked_bar_chart("Nothing", [], [])))
    for bad in (-1, float("nan"), float("inf"), None, True):
        with pytest.raises(ValueError, match="finite numbers"):
            bar_chart("Bad", [("x", bad)])
    with pytest.raises(ValueError, match="2 categories"):
        stacked_bar_chart("Bad", ["a", "b"], [("low", [1])])


def test_long_labels_are_shortened_on_the_chart_but_kept_whole_for_screen_readers():
    label = "University of Electronic Science and Technology of China"
    root = parse(bar_chart("T", [(label, 5)] + [(str(i), i) for i in range(12)]))
    assert label not in texts(root)
    assert any(t.endswith("…") for t in texts(root))
    assert label in root.find(f"{SVG}desc").text


def contrast_with_white(colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


@pytest.mark.parametrize("colour", [*TIER_COLOURS.values(), *PALETTE])
def test_fill_colours_contrast_with_the_white_background(colour):
    assert contrast_with_white(colour) >= 4.5
