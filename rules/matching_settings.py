"""Partner-matching settings: thresholds, method scores and the vocabularies that read names.

Read from ``rules/data/matching.yaml`` (see the comments there); a committee administrator may
edit that file, and ``bench/matching_bench.py`` shows what a change does to recall and precision.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_SETTINGS_PATH = Path(__file__).parent / "data" / "matching.yaml"
#: Methods in order of preference when two of them find the same entry with the same score.
METHODS = (
    "exact",
    "alias",
    "native_script",
    "normalised",
    "sub_unit",
    "acronym_city",
    "transliteration",
    "pinyin",
    "acronym_country",
    "numbered_institute",
    "qualified",
    "fuzzy",
)


class SettingsError(ValueError):
    """The matching settings file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class MatchSettings:
    match_threshold: float = 92.0
    possible_threshold: float = 86.0
    method_scores: Mapping[str, float] | None = None
    min_acronym_length: int = 2
    max_acronym_length: int = 6
    typo_min_name_length: int = 12
    typo_min_word_length: int = 4
    typo_common_word_names: int = 5
    native_typo_min_length: int = 8
    pinyin_min_length: int = 4
    pinyin_suffixes: Mapping[str, tuple[str, ...]] | None = None
    abbreviations: Mapping[str, str] | None = None
    unit_words: Mapping[str, str] | None = None
    native_unit_suffixes: Mapping[str, str] | None = None
    native_short_forms: Mapping[str, str] | None = None
    country_groups: Mapping[str, str] | None = None
    phrases: Mapping[str, str] | None = None
    stop_words: frozenset[str] = frozenset()
    country_words: frozenset[str] = frozenset()
    place_names: frozenset[str] = frozenset()
    distinctive_words: frozenset[str] = frozenset()
    numbered_noise_words: frozenset[str] = frozenset()
    academy_suffixes: frozenset[str] = frozenset()
    native_qualifiers: frozenset[str] = frozenset()
    conglomerate_categories: frozenset[str] = frozenset()

    @classmethod
    def from_file(cls, path: Path = DEFAULT_SETTINGS_PATH) -> "MatchSettings":
        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"{path}: cannot read matching settings: {exc}") from exc
        if not isinstance(doc, dict):
            raise SettingsError(f"{path}: expected a mapping of settings")
        unknown = sorted(set(doc) - set(cls.__dataclass_fields__))
        if unknown:
            raise SettingsError(f"{path}: unknown settings {', '.join(unknown)}")
        try:
            settings = cls(
                **{key: value for key, value in doc.items() if key not in _COLLECTION_SETTINGS},
                method_scores={str(k): float(v) for k, v in (doc.get("method_scores") or {}).items()},
                pinyin_suffixes={
                    str(k): tuple(str(w) for w in v) for k, v in (doc.get("pinyin_suffixes") or {}).items()
                },
                **{key: _word_mapping(doc.get(key)) for key in _MAPPING_SETTINGS},
                native_unit_suffixes={str(k): str(v) for k, v in (doc.get("native_unit_suffixes") or {}).items()},
                native_short_forms={str(k): str(v) for k, v in (doc.get("native_short_forms") or {}).items()},
                country_groups={str(k).upper(): str(v).upper() for k, v in (doc.get("country_groups") or {}).items()},
                **{key: frozenset(str(w).casefold() for w in doc.get(key) or ()) for key in _WORD_SETTINGS},
                conglomerate_categories=frozenset(str(c) for c in doc.get("conglomerate_categories") or ()),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise SettingsError(f"{path}: {exc}") from exc
        settings.check(str(path))
        return settings

    def check(self, where: str) -> None:
        if not 0 <= self.possible_threshold <= self.match_threshold <= 100:
            raise SettingsError(f"{where}: need 0 <= possible_threshold <= match_threshold <= 100")
        missing = [m for m in (*METHODS, "distinctive_typo") if m != "fuzzy" and m not in (self.method_scores or {})]
        if missing:
            raise SettingsError(f"{where}: method_scores lacks {', '.join(missing)}")
        if self.min_acronym_length < 2 or self.max_acronym_length < self.min_acronym_length:
            raise SettingsError(f"{where}: need 2 <= min_acronym_length <= max_acronym_length")


def _word_mapping(value: object) -> dict[str, str]:
    return {str(k).casefold(): str(v).casefold() for k, v in (value or {}).items()}  # type: ignore[attr-defined]


_WORD_SETTINGS = (
    "stop_words",
    "country_words",
    "place_names",
    "distinctive_words",
    "numbered_noise_words",
    "academy_suffixes",
    "native_qualifiers",
)
_MAPPING_SETTINGS = ("abbreviations", "unit_words", "phrases")
_COLLECTION_SETTINGS = frozenset(
    {
        "method_scores",
        "pinyin_suffixes",
        "native_unit_suffixes",
        "native_short_forms",
        "country_groups",
        "conglomerate_categories",
        *_MAPPING_SETTINGS,
        *_WORD_SETTINGS,
    }
)
