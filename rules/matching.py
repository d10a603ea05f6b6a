"""Partner-name matching: finds the list entries a partner institution's name refers to.

The index is built once per set of lists. A lookup first tries dictionary keys (the name as
written, the normalised token-sorted name, the name with its spaces removed, Chinese characters,
toneless pinyin, acronyms); only when none of them hits does it try near misses, and those are
generated from the query (one-character edits of one word, one wrong Chinese character) and looked
up again by key. No list entry is ever compared one by one, so the cost of a lookup hardly grows
with the size of the lists.

Precision comes from treating every word as distinctive: two names match only when all their words
pair up, allowing at most one misspelt word. "Nanjing University" therefore never matches
"Nanjing University of Science and Technology", and a real word (a place, a subject) is never taken
for a typo of another one.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from rules.lists import ListEntry, PartnerList

DEFAULT_SETTINGS_PATH = Path(__file__).parent / "data" / "matching.yaml"
BANDS = ("match", "possible")
#: Methods in order of preference when two of them find the same entry with the same score.
METHODS = ("exact", "native_script", "normalised", "pinyin", "acronym", "qualified", "fuzzy")
_METHOD_RANK = {method: rank for rank, method in enumerate(METHODS)}

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_RE = re.compile(f"[{_HAN}]")
_HAN_OR_DIGIT_RE = re.compile(f"[{_HAN}0-9]")
_NON_WORD_RE = re.compile(r"[\W_]+")
_PARENTHETICAL_RE = re.compile(r"[(（][^()（）]*[)）]")
# Apostrophes join rather than split words: "Xi'an" and "Xian" are one word.
_DROP_APOSTROPHES = str.maketrans("", "", "'’‘`ʼ")
_CACHE_SIZE = 1 << 16


class SettingsError(ValueError):
    """The matching settings file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class MatchSettings:
    match_threshold: float = 92.0
    possible_threshold: float = 86.0
    method_scores: Mapping[str, float] | None = None
    country_mismatch_penalty: float = 10.0
    min_acronym_length: int = 2
    max_acronym_length: int = 6
    typo_min_name_length: int = 12
    typo_min_word_length: int = 4
    native_typo_min_length: int = 8
    pinyin_min_length: int = 4
    pinyin_suffixes: Mapping[str, tuple[str, ...]] | None = None
    abbreviations: Mapping[str, str] | None = None
    stop_words: frozenset[str] = frozenset()
    country_words: frozenset[str] = frozenset()
    place_names: frozenset[str] = frozenset()
    distinctive_words: frozenset[str] = frozenset()

    @classmethod
    def from_file(cls, path: Path = DEFAULT_SETTINGS_PATH) -> "MatchSettings":
        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"{path}: cannot read matching settings: {exc}") from exc
        if not isinstance(doc, dict):
            raise SettingsError(f"{path}: expected a mapping of settings")
        unknown = sorted(set(doc) - {f for f in cls.__dataclass_fields__})
        if unknown:
            raise SettingsError(f"{path}: unknown settings {', '.join(unknown)}")
        try:
            settings = cls(
                **{key: value for key, value in doc.items() if key not in _COLLECTION_SETTINGS},
                method_scores={str(k): float(v) for k, v in (doc.get("method_scores") or {}).items()},
                pinyin_suffixes={
                    str(k): tuple(str(w) for w in v) for k, v in (doc.get("pinyin_suffixes") or {}).items()
                },
                abbreviations={
                    str(k).casefold(): str(v).casefold() for k, v in (doc.get("abbreviations") or {}).items()
                },
                **{key: frozenset(str(w).casefold() for w in doc.get(key) or ()) for key in _WORD_SETTINGS},
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise SettingsError(f"{path}: {exc}") from exc
        settings.check(str(path))
        return settings

    def check(self, where: str) -> None:
        if not 0 <= self.possible_threshold <= self.match_threshold <= 100:
            raise SettingsError(f"{where}: need 0 <= possible_threshold <= match_threshold <= 100")
        missing = [m for m in METHODS if m != "fuzzy" and m not in (self.method_scores or {})]
        if missing:
            raise SettingsError(f"{where}: method_scores lacks {', '.join(missing)}")
        if self.min_acronym_length < 2 or self.max_acronym_length < self.min_acronym_length:
            raise SettingsError(f"{where}: need 2 <= min_acronym_length <= max_acronym_length")


_WORD_SETTINGS = ("stop_words", "country_words", "place_names", "distinctive_words")
_COLLECTION_SETTINGS = frozenset({"method_scores", "pinyin_suffixes", "abbreviations", *_WORD_SETTINGS})


@dataclass(frozen=True)
class PartnerMatch:
    entry: ListEntry
    list_name: str
    list_version: str
    matched_name: str  # the list name or alias that matched, as written in the list
    score: float  # 0-100, rounded to 1 decimal
    band: str  # "match" or "possible"
    method: str  # one of METHODS


@lru_cache(maxsize=_CACHE_SIZE)
def fold_words(text: str) -> tuple[str, ...]:
    """Lower-case words of the Latin (non-Chinese) part of ``text``, without accents or punctuation."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = _HAN_RE.sub(" ", text)
    text = text.casefold().translate(_DROP_APOSTROPHES).replace("&", " and ")
    return tuple(_NON_WORD_RE.sub(" ", text).split())


@lru_cache(maxsize=_CACHE_SIZE)
def native_key(text: str) -> str:
    """The Chinese characters (and digits) of ``text``; empty when it has fewer than two characters."""
    if text.isascii():
        return ""
    key = "".join(_HAN_OR_DIGIT_RE.findall(unicodedata.normalize("NFKC", text)))
    return key if len(_HAN_RE.findall(key)) >= 2 else ""


@lru_cache(maxsize=_CACHE_SIZE)
def pinyin_key(native: str) -> str:
    """Toneless pinyin of Chinese characters, run together: 北京大学 -> beijingdaxue."""
    return "".join(fold_words(" ".join(lazy_pinyin(native, v_to_u=True))))


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def is_acronym(written: str, settings: MatchSettings) -> bool:
    """An alias written in capitals only, such as HIT or A/SEU."""
    letters = "".join(c for c in written if c.isalnum())
    return (
        letters.isascii()
        and letters.isalpha()
        and letters.isupper()
        and settings.min_acronym_length <= len(letters) <= settings.max_acronym_length
    )


@dataclass(frozen=True)
class _LatinForms:
    """Comparison keys of the Latin-script part of one name."""

    exact: str  # words as written, in order
    words: tuple[str, ...]  # abbreviations expanded, stop words dropped, in order
    sorted_key: str  # ``words`` sorted and space-joined
    compact: str  # ``words`` run together, for names typed with different spacing
    letters: str  # the words as written run together, for acronyms


class _Normaliser:
    """Settings-dependent normalisation, memoised per matcher."""

    def __init__(self, settings: MatchSettings):
        self._abbreviations = dict(settings.abbreviations or {})
        self._stop_words = settings.stop_words
        self.latin = lru_cache(maxsize=_CACHE_SIZE)(self._latin)

    def words(self, raw: Iterable[str]) -> tuple[str, ...]:
        expanded: list[str] = []
        for word in raw:
            for part in self._abbreviations.get(word, word).split():
                if part not in self._stop_words:
                    expanded.append(part)
        return tuple(expanded)

    def _latin(self, text: str) -> _LatinForms | None:
        raw = fold_words(text)
        if not any(not word.isdigit() for word in raw):
            return None
        words = self.words(raw)
        return _LatinForms(
            exact=" ".join(raw),
            words=words,
            sorted_key=" ".join(sorted(words)),
            compact="".join(words),
            letters="".join(raw),
        )


# ref -> (score, preference, matched name, method): the best hit found so far for an entry
_Hits = dict[int, tuple[float, int, str, str]]
_Targets = tuple[tuple[int, str], ...]


class PartnerMatcher:
    """Matches partner names against the entries of several partner lists."""

    def __init__(self, lists: Sequence[PartnerList], settings: MatchSettings | None = None):
        self.settings = settings or MatchSettings.from_file(DEFAULT_SETTINGS_PATH)
        self.settings.check("matching settings")
        self._scores = dict(self.settings.method_scores or {})
        self._normaliser = _Normaliser(self.settings)
        self._entries: list[tuple[ListEntry, str, str]] = []
        building: dict[str, dict[str, dict[tuple[int, str], None]]] = {
            kind: {} for kind in ("exact", "sorted", "compact", "acronym", "native", "pinyin")
        }
        for partner_list in lists:
            for entry in partner_list.entries:
                ref = len(self._entries)
                self._entries.append((entry, partner_list.name, partner_list.version))
                for written in dict.fromkeys(entry.names()):
                    for kind, key in self._index_keys(written):
                        building[kind].setdefault(key, {})[(ref, written)] = None
        frozen = {kind: {key: tuple(t) for key, t in keys.items()} for kind, keys in building.items()}
        self._exact, self._sorted, self._compact = frozen["exact"], frozen["sorted"], frozen["compact"]
        self._acronyms, self._native, self._pinyin = frozen["acronym"], frozen["native"], frozen["pinyin"]

        # Listed words as written and as normalised -> normalised, so that a typo in "Polytechnical"
        # is corrected although the index only holds "polytechnic".
        self._spellings = {word: word for key in self._sorted for word in key.split()}
        for written_word in {word for key in self._exact for word in key.split()}:
            normalised = self._normaliser.words((written_word,))
            if len(normalised) == 1:
                self._spellings.setdefault(written_word, normalised[0])
        self._qualifiers = frozenset(
            self._normaliser.words(self.settings.country_words | self.settings.place_names)
        )
        self._known_words = (
            set(self._spellings)
            | self._qualifiers
            | set(self._normaliser.words(self.settings.distinctive_words))
        )
        self._word_neighbours = _neighbourhood_index(
            word for word in self._spellings if len(word) >= self.settings.typo_min_word_length
        )
        self._native_neighbours = _neighbourhood_index(
            key for key in self._native if len(key) >= self.settings.native_typo_min_length
        )
        self._typo_candidates = lru_cache(maxsize=_CACHE_SIZE)(self._find_typo_candidates)

    @classmethod
    def from_settings_file(
        cls, lists: Sequence[PartnerList], path: Path = DEFAULT_SETTINGS_PATH
    ) -> "PartnerMatcher":
        return cls(lists, MatchSettings.from_file(path))

    @property
    def entry_count(self) -> int:
        return len(self._entries)

    def match(
        self, name: str, country: str | None = None, name_local: str | None = None
    ) -> list[PartnerMatch]:
        """Best match per list entry, sorted by score desc then entry id; only 'match' and 'possible' bands.

        ``country`` is an ISO 3166-1 alpha-2 code; ``name_local`` the name in its own script.
        """
        wanted_country = (country or "").strip().upper() or None
        hits: _Hits = {}
        for text in dict.fromkeys(t for t in (name, name_local) if t and t.strip()):
            latin = self._normaliser.latin(text)
            if latin is not None:
                self._match_latin(latin, wanted_country, hits)
            native = native_key(text)
            if native:
                self._match_native(native, hits)
        return self._results(hits, wanted_country)

    # -- indexing ---------------------------------------------------------------------------------

    def _index_keys(self, written: str) -> Iterable[tuple[str, str]]:
        latin = self._normaliser.latin(written)
        if latin is not None:
            if is_acronym(written, self.settings):
                yield "acronym", latin.letters
            else:
                yield "exact", latin.exact
                yield from self._latin_keys(latin)
                # "China University of Geosciences (Wuhan)" is also written without its qualifier.
                unqualified = self._normaliser.latin(_PARENTHETICAL_RE.sub(" ", written))
                if unqualified is not None and unqualified != latin:
                    yield from self._latin_keys(unqualified)
        native = native_key(written)
        if native:
            yield "native", native
            if len(native) >= self.settings.pinyin_min_length:
                yield from self._pinyin_keys(native)

    @staticmethod
    def _latin_keys(latin: _LatinForms) -> Iterable[tuple[str, str]]:
        if latin.words:
            yield "sorted", latin.sorted_key
            yield "compact", latin.compact

    def _pinyin_keys(self, native: str) -> Iterable[tuple[str, str]]:
        yield "pinyin", pinyin_key(native)
        for suffix, translations in (self.settings.pinyin_suffixes or {}).items():
            if native.endswith(suffix) and len(native) > len(suffix):
                stem = pinyin_key(native[: -len(suffix)])
                for translation in translations:
                    yield "pinyin", stem + "".join(self._normaliser.words(fold_words(translation)))

    # -- lookup -----------------------------------------------------------------------------------

    def _offer(self, hits: _Hits, targets: _Targets, score: float, method: str) -> None:
        preference = -_METHOD_RANK[method]
        for ref, written in targets:
            candidate = (score, preference, written, method)
            best = hits.get(ref)
            if best is None or candidate[:2] > best[:2]:
                hits[ref] = candidate

    def _match_latin(self, latin: _LatinForms, country: str | None, hits: _Hits) -> None:
        found = False
        for targets, method in (
            (self._exact.get(latin.exact), "exact"),
            (self._sorted.get(latin.sorted_key), "normalised"),
            (self._compact.get(latin.compact), "normalised"),
            (self._pinyin.get(latin.compact), "pinyin"),
        ):
            if targets:
                self._offer(hits, targets, self._scores[method], method)
                found = True
        acronym_targets = self._acronyms.get(latin.letters) if country else None
        if acronym_targets:
            same_country = tuple(t for t in acronym_targets if self._entry_country(t[0]) == country)
            self._offer(hits, same_country, self._scores["acronym"], "acronym")
        if not found:
            self._match_qualified(latin.words, hits)
            self._match_misspelt(latin, hits)

    def _match_qualified(self, words: tuple[str, ...], hits: _Hits) -> None:
        """A listed name with a campus or country added: "Renmin University of China"."""
        qualifiers = [word for word in words if word in self._qualifiers]
        if not qualifiers:
            return
        # Drop each qualifier alone (the listed name may contain another place word), then all.
        for dropped in dict.fromkeys([*(frozenset({q}) for q in qualifiers), frozenset(qualifiers)]):
            kept = [word for word in words if word not in dropped]
            targets = self._sorted.get(" ".join(sorted(kept))) if len(kept) >= 2 else None
            if targets:
                self._offer(hits, targets, self._scores["qualified"], "qualified")

    def _match_misspelt(self, latin: _LatinForms, hits: _Hits) -> None:
        """Names equal to a listed name but for a one-character typo in one word."""
        words = latin.words
        for position, word in enumerate(words):
            if word in self._known_words:
                continue
            for candidate in self._typo_candidates(word):
                # Pair each typed word with the listed word it stands for, sorted as the listed name
                # is, so the misspelt word is scored against its own correction and nothing else.
                pairs = sorted(
                    zip((*words[:position], candidate, *words[position + 1 :]), words, strict=True)
                )
                key = " ".join(listed for listed, _ in pairs)
                targets = self._sorted.get(key)
                if targets and len(key) - key.count(" ") >= self.settings.typo_min_name_length:
                    typed = " ".join(typed for _, typed in pairs)
                    self._offer(hits, targets, fuzz.ratio(typed, key), "fuzzy")

    def _find_typo_candidates(self, word: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self._spellings[w] for w in _one_edit_away(word, self._word_neighbours)))

    def _match_native(self, native: str, hits: _Hits) -> None:
        found = False
        targets = self._native.get(native)
        if targets:
            self._offer(hits, targets, self._scores["native_script"], "native_script")
            found = True
        if len(native) >= self.settings.pinyin_min_length:
            # A homophone typed by mistake through a pinyin input method has the same pinyin.
            targets = self._pinyin.get(pinyin_key(native))
            if targets:
                self._offer(hits, targets, self._scores["pinyin"], "pinyin")
                found = True
        if not found and len(native) + 1 >= self.settings.native_typo_min_length:
            for listed in _one_edit_away(native, self._native_neighbours):
                self._offer(hits, self._native[listed], fuzz.ratio(native, listed), "fuzzy")

    def _entry_country(self, ref: int) -> str:
        return self._entries[ref][0].country.strip().upper()

    def _results(self, hits: _Hits, country: str | None) -> list[PartnerMatch]:
        settings = self.settings
        results = []
        for ref, (score, _, written, method) in hits.items():
            entry, list_name, list_version = self._entries[ref]
            entry_country = self._entry_country(ref)
            if country and entry_country and country != entry_country:
                score -= settings.country_mismatch_penalty
            score = round(min(max(score, 0.0), 100.0), 1)
            if score >= settings.match_threshold:
                band = "match"
            elif score >= settings.possible_threshold:
                band = "possible"
            else:
                continue
            results.append(PartnerMatch(entry, list_name, list_version, written, score, band, method))
        results.sort(key=lambda m: (-m.score, m.entry.id, m.list_name))
        return results


def _neighbourhood_index(keys: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each key and each of its one-character deletions -> the keys it came from.

    Two strings are one edit apart only if they share an entry here, so near misses are found by
    looking up the query's own deletions instead of comparing it with every key.
    """
    index: dict[str, dict[str, None]] = {}
    for key in keys:
        for probe in (key, *_deletes(key)):
            index.setdefault(probe, {})[key] = None
    return {probe: tuple(found) for probe, found in index.items()}


def _one_edit_away(query: str, neighbours: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for probe in (query, *sorted(_deletes(query))):
        for key in neighbours.get(probe, ()):
            found[key] = None
    return tuple(key for key in found if key != query and OSA.distance(query, key, score_cutoff=1) <= 1)
