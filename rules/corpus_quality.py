"""Matcher quality on corpora written from sources, not from the lists or the matcher.

``tests/data/partner_corpus/listed_names.csv`` holds listed institutions (and their sub-units) as
real affiliation lines and pages write them, each with the listed organisation it refers to and a
category (parenthetical, acronym_city, campus, typo, ...). ``unlisted_institutions.csv`` holds real
institutions that are on no list, including namesakes abroad and similar Chinese names.
``tests/data/negative_institutions.csv`` is the older hand-made negative corpus. The figures:
recall per category, and per category of unlisted names the share raised as a match or a possible
match, the namesake notes (``info``), and severe false positives: unlisted institutions whose flag
would be ``high`` or worse in a sensitive project.
"""

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rules.engine import Screener
from rules.lists import PartnerList
from rules.names import fold_words, prepare
from rules.ruleset import severity_rank

CORPUS_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "partner_corpus"
LISTED_CORPUS = CORPUS_DIR / "listed_names.csv"
UNLISTED_CORPUS = CORPUS_DIR / "unlisted_institutions.csv"
#: Written by someone who never saw the matcher or the corpus above; never tuned against, only measured.
HOLDOUT_LISTED_CORPUS = CORPUS_DIR / "holdout_listed_names.csv"
HOLDOUT_UNLISTED_CORPUS = CORPUS_DIR / "holdout_unlisted_institutions.csv"
OLD_NEGATIVE_CORPUS = CORPUS_DIR.parent / "negative_institutions.csv"
#: A project that touches most defence topics: a listed partner's flag is as severe as it gets.
SENSITIVE_PROJECT = {
    "title": "Autonomous hypersonic guidance with AI and quantum sensing",
    "research_fields": ["2.3"],
    "technology_areas": ["aerospace", "ai", "robotics", "autonomous_systems", "quantum", "weapons", "sensing"],
}


@dataclass(frozen=True)
class WrittenName:
    text: str
    name_local: str
    country: str
    expected: str  # the listed organisation's name as a list entry writes it
    category: str
    source: str


@dataclass(frozen=True)
class UnlistedName:
    name: str
    country: str
    category: str


@dataclass
class CorpusReport:
    recall: dict[str, tuple[int, int]] = field(default_factory=dict)  # category -> (found, total)
    misses: list[tuple[WrittenName, str]] = field(default_factory=list)  # (row, what was found instead)
    unresolved: list[str] = field(default_factory=list)  # expected names that no list entry carries
    negatives: dict[str, Counter] = field(default_factory=dict)  # category -> rows, match, possible, info, severe
    flagged: list[tuple[UnlistedName, str, str]] = field(default_factory=list)  # (row, band, entry)

    @property
    def found(self) -> int:
        return sum(found for found, _ in self.recall.values())

    @property
    def positives(self) -> int:
        return sum(total for _, total in self.recall.values())

    @property
    def overall_recall(self) -> float:
        return self.found / self.positives if self.positives else 1.0

    def negative_total(self, what: str) -> int:
        return sum(counts[what] for counts in self.negatives.values())

    @property
    def possible_rate(self) -> float:
        rows = self.negative_total("rows")
        return self.negative_total("possible") / rows if rows else 0.0


def _read(path: Path) -> list[dict[str, str]]:
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def load_listed(path: Path = LISTED_CORPUS) -> list[WrittenName]:
    return [
        WrittenName(r["text"], r.get("name_local", ""), r["country"], r["expected"], r["category"], r.get("source", ""))
        for r in _read(path)
        if r.get("text")
    ]


def load_unlisted(paths: Iterable[Path] = (UNLISTED_CORPUS, OLD_NEGATIVE_CORPUS)) -> list[UnlistedName]:
    rows: dict[tuple[str, str], UnlistedName] = {}
    for path in paths:
        for r in _read(path):
            if r.get("name"):
                rows.setdefault(
                    (r["name"], r["country"]), UnlistedName(r["name"], r["country"], r.get("category") or "other")
                )
    return list(rows.values())


def _key(name: str) -> str:
    return " ".join(fold_words(prepare(name)))


def entries_named(lists: Sequence[PartnerList]) -> dict[str, set[tuple[str, str]]]:
    """Folded name or alias -> the (list, entry id) pairs that carry it: how a corpus row's expectation resolves."""
    index: dict[str, set[tuple[str, str]]] = {}
    for partner_list in lists:
        for entry in partner_list.entries:
            for name in entry.names():
                index.setdefault(_key(name), set()).add((partner_list.name, entry.id))
    # An institute listed in its own right (CETC's 54th institute) also answers for its parent.
    for partner_list in lists:
        for entry in partner_list.entries:
            if entry.parent:
                index.setdefault(_key(entry.parent), set()).add((partner_list.name, entry.id))
    return index


def evaluate_corpora(
    screener: Screener, listed: Sequence[WrittenName], unlisted: Sequence[UnlistedName]
) -> CorpusReport:
    report = CorpusReport()
    by_name = entries_named(screener.lists)
    totals: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for row in listed:
        totals[row.category] += 1
        wanted = by_name.get(_key(row.expected), set())
        if not wanted:
            report.unresolved.append(row.expected)
        results = screener.matcher.match(row.text, row.country, row.name_local or None)
        if any((m.list_name, m.entry.id) in wanted for m in results if m.band in ("match", "possible")):
            found[row.category] += 1
        else:
            got = ", ".join(f"{m.entry.name} [{m.band}]" for m in results[:2]) or "nothing"
            report.misses.append((row, got))
    report.recall = {category: (found[category], totals[category]) for category in sorted(totals)}
    report.unresolved = sorted(set(report.unresolved))
    for row in unlisted:
        counts = report.negatives.setdefault(row.category, Counter())
        counts["rows"] += 1
        results = screener.matcher.match(row.name, row.country)
        if not results:
            continue
        band = results[0].band
        counts[band] += 1
        if band != "info":
            report.flagged.append((row, band, results[0].entry.name))
            if _is_severe(screener, row):
                counts["severe"] += 1
    return report


def _is_severe(screener: Screener, row: UnlistedName) -> bool:
    proposal = {**SENSITIVE_PROJECT, "partners": [{"name": row.name, "country": row.country}]}
    result = screener.screen(proposal)
    return any(
        f["category"] == "partner" and severity_rank(f["severity"]) >= severity_rank("high") for f in result["flags"]
    )


def report_lines(report: CorpusReport) -> list[str]:
    """The figures as the benchmark prints them."""
    lines = [f"listed names as written: recall {report.overall_recall:7.2%} ({report.found}/{report.positives})"]
    for category, (hit, total) in report.recall.items():
        lines.append(f"  {category:<20} {hit / total:7.2%}  ({hit}/{total})")
    rows = report.negative_total("rows")
    lines.append(
        f"unlisted institutions: {rows} rows, match {report.negative_total('match')}, "
        f"possible {report.negative_total('possible')} ({report.possible_rate:.2%}), "
        f"namesake notes (info) {report.negative_total('info')}, severe (high+) {report.negative_total('severe')}"
    )
    for category, counts in sorted(report.negatives.items()):
        lines.append(
            f"  {category:<20} rows {counts['rows']:>5}  match {counts['match']:>3}  possible {counts['possible']:>3}"
            f"  ({counts['possible'] / counts['rows']:6.2%})  info {counts['info']:>3}  severe {counts['severe']:>3}"
        )
    lines += [
        f"  missed [{row.category}] {row.text!r} ({row.country}) -> {row.expected}; found {got}"
        for row, got in report.misses
    ]
    lines += [
        f"  flagged unlisted [{row.category}] {row.name!r} ({row.country}) -> {entry} [{band}]"
        for row, band, entry in report.flagged
    ]
    lines += [f"  expected name on no list: {name}" for name in report.unresolved]
    return lines
