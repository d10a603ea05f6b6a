"""Server-side SVG bar charts for portfolio reports: no JavaScript, no fonts or URLs from outside.

Every chart is a self-contained ``<svg>`` string with ``role="img"``, an ``aria-label``, a
``<title>`` and a ``<desc>`` that lists every value in words, so a screen reader gets the data
rather than the picture. Styling uses presentation attributes only (no ``style`` attributes or
``<style>`` elements), so the markup works inline under a Content-Security-Policy without
``'unsafe-inline'``. All text from callers is XML-escaped. Output is a pure function of the
arguments: the same data gives the same bytes.

Small numbers: ``small_number_suppression`` replaces counts from 1 to threshold-1 by a label
such as ``"<5"``. The charts draw **no bar** for such a value and print the label at the
baseline instead: a bar of any height would suggest a number. Zero stays zero.
"""

import hashlib
import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "PALETTE",
    "TIER_COLOURS",
    "bar_chart",
    "small_number_suppression",
    "stacked_bar_chart",
]

Value = int | float | str  # a str is a suppressed count's label, e.g. "<5"

TEXT = "#1f2937"  # 14.7:1 on white
MUTED = "#4b5563"  # 7.6:1 on white
GRID = "#d1d5db"
BAR = "#1d4e89"  # 8.9:1 on white
# Tier colours: each at least 4.5:1 against white, ordered light-to-dark in perceived severity.
TIER_COLOURS = {"low": "#1b6e3c", "medium": "#8a5a00", "high": "#c2410c", "critical": "#7f1d1d"}
# Series colours for other stacked charts (Okabe-Ito hues darkened to 4.5:1 against white).
PALETTE = ("#1d4e89", "#b45309", "#0f766e", "#9d174d", "#5b21b6", "#4d5b00", "#a21caf", "#374151")
FONT = "sans-serif"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def small_number_suppression(
    counts: Mapping[str, int] | Iterable[tuple[str, int]], threshold: int = 5
) -> list[tuple[str, int | str]]:
    """Counts with every value from 1 to ``threshold - 1`` replaced by the label ``"<threshold"``.

    Order is kept; zero and counts at or above the threshold stay numbers. Note that a total
    shown elsewhere can give a single suppressed value away by subtraction; callers that show
    totals must not show them next to exactly one suppressed cell.
    """
    items = counts.items() if isinstance(counts, Mapping) else counts
    label = f"<{threshold}"
    return [(name, label if 0 < count < threshold else count) for name, count in items]


def _suppress(data: list[tuple], threshold: int) -> list[tuple]:
    """Like small_number_suppression, for whole numbers only (fractions are not counts)."""
    label = f"<{threshold}"
    return [
        (key, label if isinstance(v, int) and not isinstance(v, bool) and 0 < v < threshold else v) for key, v in data
    ]


# --- helpers -------------------------------------------------------------------------------------


def _esc(text: object) -> str:
    return html.escape(_XML_ILLEGAL.sub("\ufffd", str(text)), quote=True)


def _num(value: float) -> str:
    """A number for SVG coordinates: fixed precision, no trailing zeros, deterministic."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fmt(value: Value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _check(value: Value) -> Value:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"chart values must be finite numbers >= 0 or suppression labels, not {value!r}")
    return value


def _truncate(text: str, max_chars: int) -> str:
    max_chars = max(max_chars, 2)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _nice_ticks(maximum: float, count: int = 5) -> list[float]:
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if maximum >= 1 and step < 1:
        step = 1.0
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(round(top / step) + 1)]


def _chart_id(*parts: object) -> str:
    return "chart-" + hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:10]


def _open(chart_id: str, title: str, description: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="{FONT}">',
        f'<title id="{chart_id}-title">{_esc(title)}</title>',
        f'<desc id="{chart_id}-desc">{_esc(description)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="22" font-size="15" font-weight="bold" fill="{TEXT}">'
        f"{_esc(_truncate(title, max(10, (width - 24) // 8)))}</text>",
    ]


def _describe(kind: str, data: Sequence[tuple[str, Value]]) -> str:
    if not data:
        return f"{kind} without data."
    parts = [
        f"{label}: fewer than {value[1:]} (not drawn)" if isinstance(value, str) and value.startswith("<")
        else f"{label}: {_fmt(value)}"
        for label, value in data
    ]
    return f"{kind} with {len(data)} bars. " + "; ".join(parts) + "."


# --- simple bars ---------------------------------------------------------------------------------


def bar_chart(
    title: str,
    data: Sequence[tuple[str, Value]],
    *,
    width: int = 640,
    height: int = 320,
    horizontal: bool = False,
    colour: str = BAR,
    description: str | None = None,
    suppress_below: int | None = None,
) -> str:
    """One series as bars; ``data`` is (label, value) pairs, a str value is a suppressed count's label.

    ``suppress_below=5`` applies ``small_number_suppression`` to the data first.
    """
    data = [(str(label), _check(value)) for label, value in data]
    if suppress_below:
        data = _suppress(data, suppress_below)
    chart_id = _chart_id("bar", title, data, width, height, horizontal, colour)
    desc = description or _describe("Horizontal bar chart" if horizontal else "Bar chart", data)
    out = _open(chart_id, title, desc, width, height)
    if not data:
        out.append(f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" font-size="13" '
                   f'fill="{MUTED}">No data</text>')
        return "\n".join([*out, "</svg>"])
    numbers = [v for _, v in data if not isinstance(v, str)]
    ticks = _nice_ticks(max(numbers, default=0))
    top = ticks[-1]
    if horizontal:
        out += _horizontal_bars(data, ticks, top, width, height, colour)
    else:
        out += _vertical_bars(data, ticks, top, width, height, colour)
    out.append("</svg>")
    return "\n".join(out)


def _vertical_bars(data, ticks, top, width, height, colour) -> list[str]:
    left, right, top_margin, bottom = 56, 16, 44, 40
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    base = top_margin + plot_h
    out = []
    for tick in ticks:
        y = base - plot_h * tick / top
        out.append(f'<line x1="{left}" y1="{_num(y)}" x2="{width - right}" y2="{_num(y)}" stroke="{GRID}" '
                   'stroke-width="1"/>')
        out.append(f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" font-size="11" fill="{MUTED}">'
                   f"{_esc(_fmt(tick))}</text>")
    slot = plot_w / len(data)
    bar_w = max(slot * 0.7, 1)
    max_chars = max(int(slot / 7), 2)
    for index, (label, value) in enumerate(data):
        x = left + slot * index + (slot - bar_w) / 2
        centre = _num(left + slot * index + slot / 2)
        out.append(f"<g><title>{_esc(label)}: {_esc(_fmt(value))}</title>")
        if isinstance(value, str):
            out.append(f'<text x="{centre}" y="{_num(base - 4)}" text-anchor="middle" font-size="11" '
                       f'fill="{MUTED}">{_esc(value)}</text>')
        else:
            bar_h = plot_h * value / top
            out.append(f'<rect x="{_num(x)}" y="{_num(base - bar_h)}" width="{_num(bar_w)}" height="{_num(bar_h)}" '
                       f'fill="{colour}"/>')
            out.append(f'<text x="{centre}" y="{_num(base - bar_h - 4)}" text-anchor="middle" font-size="11" '
                       f'fill="{TEXT}">{_esc(_fmt(value))}</text>')
        out.append(f'<text x="{centre}" y="{_num(base + 16)}" text-anchor="middle" font-size="11" fill="{TEXT}">'
                   f"{_esc(_truncate(label, max_chars))}</text>")
        out.append("</g>")
    out.append(f'<line x1="{left}" y1="{_num(base)}" x2="{width - right}" y2="{_num(base)}" stroke="{TEXT}" '
               'stroke-width="1"/>')
    return out


def _horizontal_bars(data, ticks, top, width, height, colour) -> list[str]:
    label_w = min(max(len(label) for label, _ in data) * 7 + 12, int(width * 0.35))
    left, right, top_margin, bottom = label_w, 48, 44, 24
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    out = []
    for tick in ticks:
        x = left + plot_w * tick / top
        out.append(f'<line x1="{_num(x)}" y1="{top_margin}" x2="{_num(x)}" y2="{top_margin + plot_h}" '
                   f'stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text x="{_num(x)}" y="{height - 8}" text-anchor="middle" font-size="11" fill="{MUTED}">'
                   f"{_esc(_fmt(tick))}</text>")
    slot = plot_h / len(data)
    bar_h = max(slot * 0.7, 1)
    max_chars = max((label_w - 12) // 7, 2)
    for index, (label, value) in enumerate(data):
        y = top_margin + slot * index + (slot - bar_h) / 2
        middle = _num(top_margin + slot * index + slot / 2 + 4)
        out.append(f"<g><title>{_esc(label)}: {_esc(_fmt(value))}</title>")
        out.append(f'<text x="{left - 6}" y="{middle}" text-anchor="end" font-size="11" fill="{TEXT}">'
                   f"{_esc(_truncate(label, max_chars))}</text>")
        if isinstance(value, str):
            out.append(f'<text x="{left + 4}" y="{middle}" font-size="11" fill="{MUTED}">{_esc(value)}</text>')
        else:
            bar_w = plot_w * value / top
            out.append(f'<rect x="{left}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(bar_h)}" '
                       f'fill="{colour}"/>')
            out.append(f'<text x="{_num(left + bar_w + 4)}" y="{middle}" font-size="11" fill="{TEXT}">'
                       f"{_esc(_fmt(value))}</text>")
        out.append("</g>")
    out.append(f'<line x1="{left}" y1="{top_margin}" x2="{left}" y2="{top_margin + plot_h}" stroke="{TEXT}" '
               'stroke-width="1"/>')
    return out


# --- stacked bars --------------------------------------------------------------------------------


def stacked_bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Value]]],
    *,
    width: int = 640,
    height: int | None = None,
    colours: Mapping[str, str] | None = None,
    description: str | None = None,
    suppress_below: int | None = None,
) -> str:
    """Horizontal stacked bars, one per category (e.g. country), one segment per series (e.g. tier).

    ``series`` is (name, values) with one value per category; a str value is a suppressed count
    and draws no segment. The number after each bar is the sum of the drawn segments, followed
    by "+ <5" when some segment was suppressed, so a suppressed count cannot be worked out from
    the chart. ``suppress_below=5`` suppresses small counts first. Colours come from ``colours``
    by series name, then ``TIER_COLOURS``, then ``PALETTE``.
    """
    categories = [str(c) for c in categories]
    series = [(str(name), [_check(v) for v in values]) for name, values in series]
    if suppress_below:
        series = [(name, [v for _, v in _suppress(list(enumerate(values)), suppress_below)]) for name, values in series]
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(categories)} categories")
    row_h = 26
    legend_h = 24
    height = height or 44 + legend_h + row_h * max(len(categories), 1) + 12
    chart_id = _chart_id("stacked", title, categories, series, width, height)

    def colour_of(index: int, name: str) -> str:
        return (colours or {}).get(name) or TIER_COLOURS.get(name) or PALETTE[index % len(PALETTE)]

    if description is None:
        rows = []
        for c, category in enumerate(categories):
            parts = [f"{name} {_fmt(values[c])}" for name, values in series]
            rows.append(f"{category}: " + ", ".join(parts))
        description = (f"Stacked bar chart, {len(categories)} bars; segments: "
                       + ", ".join(name for name, _ in series) + ". " + "; ".join(rows)
                       + ". Values shown as <N are fewer than N and not drawn.")
    out = _open(chart_id, title, description, width, height)
    if not categories or not series:
        out.append(f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" font-size="13" '
                   f'fill="{MUTED}">No data</text>')
        return "\n".join([*out, "</svg>"])

    x = 12.0
    legend_y = 44
    for index, (name, _) in enumerate(series):
        out.append(f'<rect x="{_num(x)}" y="{legend_y - 10}" width="12" height="12" fill="{colour_of(index, name)}"/>')
        out.append(f'<text x="{_num(x + 16)}" y="{legend_y}" font-size="11" fill="{TEXT}">{_esc(name)}</text>')
        x += 16 + 7 * len(name) + 18

    totals = []
    for c in range(len(categories)):
        shown = [values[c] for _, values in series if not isinstance(values[c], str)]
        hidden = [values[c] for _, values in series if isinstance(values[c], str)]
        totals.append((sum(shown), hidden))
    top = max((t for t, _ in totals), default=0) or 1
    label_w = min(max(len(c) for c in categories) * 7 + 12, int(width * 0.3))
    left, right = label_w, 72
    plot_w = width - left - right
    top_margin = legend_y + legend_h - 8
    for c, category in enumerate(categories):
        y = top_margin + row_h * c
        out.append(f"<g><title>{_esc(category)}: "
                   + _esc(", ".join(f"{name} {_fmt(values[c])}" for name, values in series)) + "</title>")
        out.append(f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" font-size="11" fill="{TEXT}">'
                   f"{_esc(_truncate(category, max((label_w - 12) // 7, 2)))}</text>")
        offset = float(left)
        for index, (name, values) in enumerate(series):
            value = values[c]
            if isinstance(value, str) or value == 0:
                continue
            seg = plot_w * value / top
            out.append(f'<rect x="{_num(offset)}" y="{y + 4}" width="{_num(seg)}" height="18" '
                       f'fill="{colour_of(index, name)}" stroke="#ffffff" stroke-width="1"/>')
            offset += seg
        total, hidden = totals[c]
        label = _fmt(total) + ("".join(f" + {h}" for h in sorted(set(hidden))) if hidden else "")
        out.append(f'<text x="{_num(offset + 4)}" y="{y + 17}" font-size="11" fill="{TEXT}">{_esc(label)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
