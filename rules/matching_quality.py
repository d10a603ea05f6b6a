"""Quality and speed corpora for the partner matcher, shared by its test and its benchmark.

The positive corpus is every name and alias of every list entry, plus variants a researcher might
type (case, punctuation, "The", abbreviations, one-character typos); the negative corpus is a CSV of
real institutions that are on no list. ``evaluate`` reports recall and false-positive rates;
``synthetic_list`` makes a large fake list to show that lookups stay fast as lists grow.
"""

import csv
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rules.lists import ListEntry, PartnerList
from rules.matching import MatchSettings, PartnerMatcher, is_acronym
from rules.names import fold_words, native_key, pinyin_key, prepare, segments

SEED = 20260806
# (word as listed, abbreviation a researcher might type)
ABBREVIATIONS = (
    ("University", "Univ."),
    ("Institute", "Inst."),
    ("Technology", "Tech."),
    ("Academy", "Acad."),
    ("Sciences", "Sci."),
    ("Science", "Sci."),
    ("Engineering", "Eng."),
    ("National", "Natl."),
)
TYPO_MIN_NAME_LENGTH = 12
TYPO_MIN_WORD_LENGTH = 5
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ACRONYM_SETTINGS = MatchSettings.from_file()


@dataclass(frozen=True)
class Variant:
    kind: str
    text: str
    country: str
    list_name: str
    entry_id: str


@dataclass
class QualityReport:
    positives: int = 0
    found: int = 0
    recall_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (found, total)
    misses: list[Variant] = field(default_factory=list)
    negatives: int = 0
    false_matches: list[tuple[str, str, str]] = field(default_factory=list)  # (name, country, entry id)
    false_possibles: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.positives if self.positives else 1.0

    @property
    def false_match_rate(self) -> float:
        return len(self.false_matches) / self.negatives if self.negatives else 0.0

    @property
    def possible_rate(self) -> float:
        return len(self.false_possibles) / self.negatives if self.negatives else 0.0


def typo(word: str, rng: random.Random) -> str:
    """``word`` with one character substituted, deleted, inserted or swapped with its neighbour."""
    # Keep the first letter, as real typos mostly do; a swap takes the letter after ``position`` too.
    position = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("substitute", "delete", "insert", "swap"))
    if kind == "substitute":
        replacement = rng.choice([c for c in _LETTERS if c != word[position].lower()])
        return word[:position] + replacement + word[position + 1 :]
    if kind == "delete":
        return word[:position] + word[position + 1 :]
    if kind == "insert":
        return word[:position] + rng.choice(_LETTERS) + word[position:]
    return word[:position] + word[position + 1] + word[position] + word[position + 2 :]


def name_variants(written: str, rng: random.Random) -> Iterable[tuple[str, str]]:
    """(kind, text) variants of one listed name."""
    yield "as_listed", written
    if native_key(written) and not fold_words(written):
        return  # Chinese-only names: the as-listed form is the "Chinese script" case
    yield "upper", written.upper()
    yield "lower", written.lower()
    if is_acronym(written, _ACRONYM_SETTINGS):
        return
    yield (
        "punctuation",
        "".join(rng.choice((" ", ", ", " - ", "; ")) if c == " " else c for c in written) + ".",
    )
    the_dropped = re.sub(r"^the\s+", "", written, flags=re.IGNORECASE)
    yield "the", the_dropped if the_dropped != written else f"The {written}"
    abbreviated = written
    for word, short in ABBREVIATIONS:
        abbreviated = re.sub(rf"\b{word}\b", short, abbreviated)
    if abbreviated != written:
        yield "abbreviation", abbreviated
    words = [w for w in re.findall(r"[A-Za-z]+", written) if len(w) >= TYPO_MIN_WORD_LENGTH]
    if words and len("".join(fold_words(written))) >= TYPO_MIN_NAME_LENGTH:
        target = rng.choice(words)
        yield "typo", re.sub(rf"\b{target}\b", typo(target, rng), written, count=1)


def entry_variants(partner_list: PartnerList, entry: ListEntry) -> Iterable[Variant]:
    for written in dict.fromkeys(entry.names()):
        # Seeded per name, so each name's variants stay the same when other entries change.
        rng = random.Random(f"{SEED}:{partner_list.name}:{entry.id}:{written}")  # noqa: S311
        for kind, text in name_variants(written, rng):
            if native_key(text) and not fold_words(text):
                kind = "chinese" if kind == "as_listed" else kind
            yield Variant(kind, text, entry.country, partner_list.name, entry.id)


def positive_corpus(lists: Sequence[PartnerList]) -> list[Variant]:
    variants = (v for pl in lists for entry in pl.entries for v in entry_variants(pl, entry))
    return list(dict.fromkeys(variants))


def load_negative_corpus(path: Path) -> list[tuple[str, str]]:
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return [(row["name"].strip(), row["country"].strip()) for row in csv.DictReader(handle)]


def evaluate(
    matcher: PartnerMatcher, positives: Sequence[Variant], negatives: Sequence[tuple[str, str]]
) -> QualityReport:
    report = QualityReport(positives=len(positives), negatives=len(negatives))
    totals: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for variant in positives:
        totals[variant.kind] += 1
        results = matcher.match(variant.text, variant.country)
        if any((m.list_name, m.entry.id) == (variant.list_name, variant.entry_id) for m in results):
            found[variant.kind] += 1
        else:
            report.misses.append(variant)
    report.found = sum(found.values())
    report.recall_by_kind = {kind: (found[kind], totals[kind]) for kind in sorted(totals)}
    for name, country in negatives:
        results = matcher.match(name, country)
        if results and results[0].band == "match":
            report.false_matches.append((name, country, results[0].entry.id))
        elif results:
            report.false_possibles.append((name, country, results[0].entry.id))
    return report


# -- synthetic lists for the speed test -------------------------------------------------------------

_SYLLABLES = (
    "ka", "zor", "vel", "min", "dra", "tos", "lun", "pek", "sar", "vi", "nor", "gal", "bre", "tek",
    "mos", "qua", "rin", "dal", "fen", "hol", "jis", "kro", "lem", "mav", "nyx", "opa", "pru", "syl",
)  # fmt: skip
_SUBJECTS = (
    "Technology", "Science and Technology", "Aeronautics", "Physics", "Chemistry", "Applied Optics",
    "Radio Engineering", "Materials", "Mechanical Engineering", "Electronics", "Nuclear Research",
    "Control Systems", "Marine Engineering", "Information Security", "Power Machinery",
)  # fmt: skip
_TEMPLATES = (
    "{place} University of {subject}",
    "{place} Institute of {subject}",
    "{subject} Research Institute of {place}",
    "{place} State {subject} University",
    "{place} Academy of {subject}",
    "{place} {subject} Company Limited",
)
_HAN_POOL = "航空天电子理工科技研究院所中心国防核材料光学机械信息安全控制船舶兵器火箭"
_COUNTRIES = ("CN", "RU", "IR", "KP", "BY", "PK", "SY", "VE")


def synthetic_list(count: int, seed: int = SEED) -> PartnerList:
    """A fake list of ``count`` plausible institution names, some with acronyms and Chinese names."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    entries = []
    for number in range(count):
        place = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        name = rng.choice(_TEMPLATES).format(place=place, subject=rng.choice(_SUBJECTS))
        aliases = []
        if rng.random() < 0.5:
            aliases.append("".join(w[0] for w in name.split() if w[0].isupper())[:6])
        if rng.random() < 0.25:
            aliases.append("".join(rng.choice(_HAN_POOL) for _ in range(rng.randint(6, 10))))
        entries.append(
            ListEntry(
                id=f"synthetic-{number:05d}",
                name=name,
                country=rng.choice(_COUNTRIES),
                category="synthetic",
                risk_level="high",
                aliases=tuple(aliases),
            )
        )
    return PartnerList("synthetic", "0", "Synthetic", "", "generated", "", tuple(entries))


def clear_caches() -> None:
    """Forget memoised normalisation, so a timing run starts cold."""
    for cached in (fold_words, native_key, pinyin_key, prepare, segments):
        cached.cache_clear()


def microseconds_per_match(
    matcher: PartnerMatcher,
    queries: Sequence[tuple[str, str | None]],
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    started = clock()
    for name, country in queries:
        matcher.match(name, country)
    return (clock() - started) / len(queries) * 1e6
