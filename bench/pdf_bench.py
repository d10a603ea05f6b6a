"""Decision-letter rendering speed in one process, against the cost of WeasyPrint itself.

Renders the realistic two-page decision letter (3 partners, 6 findings, 3 conditions) warm and
reports the median and p95 time, letters per minute for one worker process, and the "floor": the
time WeasyPrint needs for a bare HTML page with the same text and no styling, fonts or images.
Targets: median <= 1.5 x floor, >= 150 letters/min, peak memory <= 300 MB.

    .venv/bin/python bench/pdf_bench.py [--letters N] [--language de|en]
"""

import argparse
import gc
import html
import io
import os
import resource
import statistics
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pypdf import PdfReader
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

from screening.documents import render_html, render_pdf
from screening.documents.render import PDF_VARIANT
from screening.documents.samples import decision_context

TARGET_RATIO = 1.5
TARGET_PER_MINUTE = 150
TARGET_PEAK_MB = 300


class _Text(HTMLParser):
    """Collects the visible text of the letter (what a bare page would show)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "title", "svg"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "title", "svg"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.blocks.append(data.strip())


def bare_page(letter_html: str) -> str:
    parser = _Text()
    parser.feed(letter_html)
    body = "\n".join(f"<p>{html.escape(block)}</p>" for block in parser.blocks)
    return f"<!DOCTYPE html><html><head><meta charset=utf-8></head><body>{body}</body></html>"


def timed(function) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=60)
    parser.add_argument("--language", choices=("de", "en"), default="de")
    args = parser.parse_args()

    context = decision_context()
    kwargs = {"language": args.language, "title": "Prüfentscheidung RSC-2026-0142", "author": "Universität Nordhafen"}

    cold_start = time.perf_counter()
    first = render_pdf("decision_letter.html", context, **kwargs)
    cold = time.perf_counter() - cold_start
    pages = len(PdfReader(io.BytesIO(first.data)).pages)

    bare = bare_page(render_html("decision_letter.html", context, **kwargs))
    shared_fonts = FontConfiguration()

    def floor_default():
        HTML(string=bare).write_pdf()

    def floor_shared_fonts():
        HTML(string=bare).write_pdf(font_config=shared_fonts)

    def floor_archival():
        # The same bare page written in the letter's required output format (PDF/A, tagged): what the
        # format itself costs, apart from our template and styling.
        HTML(string=bare).write_pdf(font_config=shared_fonts, pdf_variant=PDF_VARIANT, pdf_tags=True)

    def letter():
        render_pdf("decision_letter.html", context, **kwargs)

    for function in (letter, floor_default, floor_shared_fonts, floor_archival):
        for _ in range(3):  # warm up
            timed(function)
    gc.collect()

    # Interleaved, so that load from other processes weighs on letter and floor alike. CPU time is
    # printed beside wall time: on a busy machine it is the steadier figure.
    runs = {"letter": [], "floor": [], "floor_shared": [], "floor_archival": []}
    for _ in range(args.letters):
        runs["letter"].append(timed(letter))
        runs["floor"].append(timed(floor_default))
        runs["floor_shared"].append(timed(floor_shared_fonts))
        runs["floor_archival"].append(timed(floor_archival))
    wall = {name: [w for w, _ in values] for name, values in runs.items()}
    cpu = {name: [c for _, c in values] for name, values in runs.items()}

    median = statistics.median(wall["letter"])
    floor = statistics.median(wall["floor"])
    floor_shared = statistics.median(wall["floor_shared"])
    cpu_median = statistics.median(cpu["letter"])
    cpu_floor = statistics.median(cpu["floor"])
    per_minute = 60 * args.letters / sum(wall["letter"])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB

    print(
        f"decision letter ({args.language}, {pages} pages, {len(first.data):,} bytes, PDF/A-3u tagged), "
        f"{args.letters} warm renders; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"  cold first render             {cold * 1000:7.1f} ms")
    print(f"  median warm render            {median * 1000:7.1f} ms   (CPU {cpu_median * 1000:.1f} ms)")
    print(f"  p95 warm render               {p95(wall['letter']) * 1000:7.1f} ms")
    print(f"  floor: bare HTML, same text   {floor * 1000:7.1f} ms   (CPU {cpu_floor * 1000:.1f} ms)")
    print(f"  floor, shared font config     {floor_shared * 1000:7.1f} ms")
    ratio, cpu_ratio = median / floor, cpu_median / cpu_floor
    print(f"  ratio median / floor          {ratio:7.2f}      (target <= {TARGET_RATIO}; CPU {cpu_ratio:.2f})")
    print(f"  ratio to floor, shared fonts  {median / floor_shared:7.2f}")
    floor_archival_median = statistics.median(wall["floor_archival"])
    print(f"  floor as PDF/A-3u tagged      {floor_archival_median * 1000:7.1f} ms   "
          f"(ratio {median / floor_archival_median:.2f}: the letter's cost beyond its required format)")
    print(f"  letters per minute, 1 process {per_minute:7.0f}      (target >= {TARGET_PER_MINUTE})")
    print(f"  peak RSS                      {peak_mb:7.1f} MB   (target <= {TARGET_PEAK_MB})")
    ok = median <= TARGET_RATIO * floor and per_minute >= TARGET_PER_MINUTE and peak_mb <= TARGET_PEAK_MB
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
