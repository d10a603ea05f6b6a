"""Bulk-import timing for the 1,400-row portfolio fixture: parse + validate, then screen.

Prints (does not assert) the time to read and validate tests/data/collaborations_1400.csv and the
same rows as XLSX, and to screen every proposal with the shipped rules. The issue's target is
import + screening of 1,400 rows in at most 30 s on the embedded default set-up; reading,
validation and screening alone should take around a second.

    .venv/bin/python bench/import_bench.py [--repeat N]
"""

import argparse
import collections
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules import Screener
from screening.portfolio.exports import to_xlsx
from screening.portfolio.import_columns import COLUMN_NAMES
from screening.portfolio.import_parsing import parse_upload

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "collaborations_1400.csv"


def timed(function, repeat: int):
    """(result of the last run, first run in seconds, best run in seconds)."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return result, times[0], min(times)


def bench(repeat: int = 3) -> dict[str, float]:
    csv_bytes = FIXTURE.read_bytes()
    with FIXTURE.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    xlsx_bytes = to_xlsx(COLUMN_NAMES, ([row[name] for name in COLUMN_NAMES] for row in rows), sheet_title="x")

    result, csv_first, csv_best = timed(lambda: parse_upload(FIXTURE.name, csv_bytes), repeat)
    assert result.is_valid, result.errors[:3]
    _, xlsx_first, xlsx_best = timed(lambda: parse_upload("portfolio.xlsx", xlsx_bytes), repeat)

    started = time.perf_counter()
    screener = Screener.default()
    build = time.perf_counter() - started
    proposals = result.importable()
    results, screen_first, screen_best = timed(lambda: [screener.screen(p) for p in proposals], repeat)
    tiers = collections.Counter(r["tier"] for r in results)

    print(f"fixture: {len(proposals)} rows, CSV {len(csv_bytes):,} bytes, XLSX {len(xlsx_bytes):,} bytes")
    print(f"CSV  parse+validate: first {csv_first:.3f} s, best of {repeat} {csv_best:.3f} s")
    print(f"XLSX parse+validate: first {xlsx_first:.3f} s, best of {repeat} {xlsx_best:.3f} s")
    print(f"Screener.default() built in {build:.3f} s")
    print(f"screening:           first {screen_first:.3f} s, best of {repeat} {screen_best:.3f} s")
    print(f"CSV import + screening (first runs, screener built): {csv_first + build + screen_first:.3f} s")
    print("tiers: " + ", ".join(f"{tier} {tiers[tier]}" for tier in ("low", "medium", "high", "critical")))
    return {"csv": csv_first, "xlsx": xlsx_first, "build": build, "screen": screen_first}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    bench(parser.parse_args(argv).repeat)


if __name__ == "__main__":
    main()
