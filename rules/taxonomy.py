"""Reference vocabularies: technology areas, OECD FORD fields, keyword hints."""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).parent / "data"


def _load(name: str) -> dict:
    return yaml.safe_load((DATA_DIR / name).read_text(encoding="utf-8"))


_TAXONOMY = _load("taxonomy.yaml")
_FORD = _load("ford.yaml")

#: technology-area key -> English label
TECHNOLOGY_AREAS: dict[str, str] = {key: spec["label"] for key, spec in _TAXONOMY["areas"].items()}
#: technology-area key -> STRA category key
AREA_CATEGORY: dict[str, str] = {key: spec["category"] for key, spec in _TAXONOMY["areas"].items()}
#: STRA category key -> label
STRA_CATEGORIES: dict[str, str] = dict(_TAXONOMY["categories"])
#: FORD code -> English label
FORD_FIELDS: dict[str, str] = {code: spec["en"] for code, spec in _FORD["fields"].items()}
#: FORD code -> German label
FORD_FIELDS_DE: dict[str, str] = {code: spec["de"] for code, spec in _FORD["fields"].items()}
#: FORD code -> technology areas the field commonly touches (for partner-topic overlap only)
FORD_AREAS: dict[str, tuple[str, ...]] = {
    code: tuple(spec.get("areas") or ()) for code, spec in _FORD["fields"].items()
}
WELCOME_GROUPS: frozenset[str] = frozenset(_FORD["welcome"]["groups"])
WELCOME_FIELDS: frozenset[str] = frozenset(_FORD["welcome"]["fields"])


def is_welcome_field(code: str) -> bool:
    return code in WELCOME_FIELDS or code.split(".", 1)[0] in WELCOME_GROUPS


_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Phrase:
    """A keyword phrase as words; ``open_end`` lets the last word match any longer word."""

    text: str
    words: tuple[str, ...]
    open_end: bool
    areas: tuple[str, ...]

    def matches_at(self, tokens: list[str], start: int) -> bool:
        end = start + len(self.words)
        if end > len(tokens):
            return False
        *fixed, last = self.words
        if tokens[start : end - 1] != fixed:
            return False
        return tokens[end - 1].startswith(last) if self.open_end else tokens[end - 1] == last


@dataclass(frozen=True)
class KeywordHints:
    """Finds keyword phrases in free text and names the technology areas they point to.

    Text is split into words once; phrases are looked up by their first word or, for a one-word
    phrase with an open end, by the first ``stem_key_length`` letters its stem and the word share
    (the shortest stem's length), so the cost grows with the text, not with the number of phrases.
    """

    by_first_word: dict[str, tuple[Phrase, ...]]
    by_stem_start: dict[str, tuple[Phrase, ...]]
    stem_key_length: int
    areas_by_phrase: dict[str, tuple[str, ...]]

    def find(self, text: str) -> dict[str, list[str]]:
        """Area -> sorted phrases (as written in the text, lower-cased) found in ``text``."""
        tokens = _WORD.findall(text.lower())
        found: dict[str, set[str]] = {}
        by_first_word, by_stem_start, key_length = self.by_first_word, self.by_stem_start, self.stem_key_length
        for start, token in enumerate(tokens):
            # Most words start no phrase: two lookups, and nothing else, for them.
            candidates = by_first_word.get(token, ()) + by_stem_start.get(token[:key_length], ())
            for phrase in candidates:
                if phrase.matches_at(tokens, start):
                    words = " ".join(tokens[start : start + len(phrase.words)])
                    for area in phrase.areas:
                        found.setdefault(area, set()).add(words)
        return {area: sorted(words) for area, words in sorted(found.items())} if found else {}


@cache
def keyword_hints() -> KeywordHints:
    areas_by_phrase: dict[str, list[str]] = {}
    for area, phrases in _load("keywords.yaml")["areas"].items():
        for phrase in phrases:
            areas_by_phrase.setdefault(phrase.lower(), []).append(area)
    by_first_word: dict[str, list[Phrase]] = {}
    by_stem: dict[str, list[Phrase]] = {}
    for text, areas in areas_by_phrase.items():
        open_end = text.endswith("*")
        words = tuple(_WORD.findall(text.rstrip("*")))
        phrase = Phrase(text=text, words=words, open_end=open_end, areas=tuple(areas))
        if open_end and len(words) == 1:
            by_stem.setdefault(words[0], []).append(phrase)
        else:
            by_first_word.setdefault(words[0], []).append(phrase)
    stem_key_length = min((len(stem) for stem in by_stem), default=1)
    by_stem_start: dict[str, list[Phrase]] = {}
    for stem, phrases in by_stem.items():
        by_stem_start.setdefault(stem[:stem_key_length], []).extend(phrases)
    return KeywordHints(
        by_first_word={word: tuple(p) for word, p in by_first_word.items()},
        by_stem_start={start: tuple(p) for start, p in by_stem_start.items()},
        stem_key_length=stem_key_length,
        areas_by_phrase={text: tuple(areas) for text, areas in areas_by_phrase.items()},
    )
