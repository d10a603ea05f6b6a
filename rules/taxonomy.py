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


@dataclass(frozen=True)
class KeywordHints:
    """Finds keyword phrases in free text and names the technology areas they point to."""

    pattern: re.Pattern
    phrases: tuple[str, ...]
    areas_by_phrase: dict[str, tuple[str, ...]]

    def find(self, text: str) -> dict[str, list[str]]:
        """Area -> sorted phrases found in ``text``."""
        found: dict[str, set[str]] = {}
        for hit in self.pattern.finditer(text.lower()):
            phrase = self.phrases[int(hit.lastgroup[1:])]
            for area in self.areas_by_phrase[phrase]:
                found.setdefault(area, set()).add(hit.group(0))
        return {area: sorted(words) for area, words in sorted(found.items())}


def _phrase_regex(phrase: str) -> str:
    stem, wildcard = (phrase[:-1], True) if phrase.endswith("*") else (phrase, False)
    body = r"[\s-]+".join(re.escape(word) for word in stem.split())
    return r"\b" + body + (r"\w*" if wildcard else r"\b")


@cache
def keyword_hints() -> KeywordHints:
    areas_by_phrase: dict[str, list[str]] = {}
    for area, phrases in _load("keywords.yaml")["areas"].items():
        for phrase in phrases:
            areas_by_phrase.setdefault(phrase.lower(), []).append(area)
    # Longer phrases first, so "quantum key distribution" wins over a shorter overlapping phrase.
    phrases = tuple(sorted(areas_by_phrase, key=lambda phrase: (-len(phrase), phrase)))
    pattern = re.compile("|".join(f"(?P<k{i}>{_phrase_regex(phrase)})" for i, phrase in enumerate(phrases)))
    frozen = {phrase: tuple(areas) for phrase, areas in areas_by_phrase.items()}
    return KeywordHints(pattern=pattern, phrases=phrases, areas_by_phrase=frozen)
