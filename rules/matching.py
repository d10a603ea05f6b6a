"""Partner-name matching: finds the list entries a partner institution's name refers to.

The index is built once per set of lists and affiliation graph. A lookup reads the name the way a
person writes it, in passes that stop as soon as one of them is sure:

1. the whole name by dictionary keys: as written, normalised and token-sorted, without spaces,
   Chinese characters, toneless pinyin, acronyms with the partner's country, a listed name with a
   place or country added, and one-character typos (generated from the query and looked up again);
2. each separately written part ("Full Name (ACR)", "School of X, Parent", "Parent – Department");
3. an acronym qualified by a city ("HIT Shenzhen", "NUDT, Changsha");
4. a listed name inside a longer one when what surrounds it is a unit or a place ("Tsinghua
   University Department of Physics", 哈尔滨工业大学计算机学院), and numbered research institutes of
   listed groups ("CETC 38th Research Institute", 中国电子科技集团公司第十四研究所).

No list entry is ever compared one by one, so the cost of a lookup hardly grows with the lists.
Precision comes from treating every word as distinctive: two names match only when all their
words pair up, allowing at most one misspelt word, so "Nanjing University" never matches "Nanjing
University of Science and Technology". A partner in another country than the entry is never
flagged on resemblance; only the exact official name is reported, as ``info``.
"""

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from rules.affiliations import EMPTY_GRAPH, AffiliationGraph, Unit
from rules.lists import ListEntry, PartnerList
from rules.matching_settings import DEFAULT_SETTINGS_PATH, METHODS, MatchSettings, SettingsError
from rules.names import (
    capital_tokens,
    fold_words,
    native_key,
    pinyin_key,
    prepare,
    romanisations,
    segments,
    without_brackets,
)

__all__ = ["BANDS", "METHODS", "MatchSettings", "PartnerMatch", "PartnerMatcher", "SettingsError", "is_acronym"]

BANDS = ("match", "possible", "info")
_METHOD_RANK = {method: rank for rank, method in enumerate(METHODS)}
#: Methods that found the name itself, not a resemblance: the only ones reported across countries.
_NAME_METHODS = frozenset({"exact", "alias", "native_script"})
#: Methods that become "sub_unit" when they found a unit of the affiliation graph.
_UNIT_NAME_METHODS = frozenset({"exact", "alias", "normalised", "native_script", "pinyin", "qualified"})
_NUMBER_RE = re.compile(r"\d{1,4}(?:st|nd|rd|th)?")
_ORDINAL_RE = re.compile(r"(\d{1,4})(?:st|nd|rd|th)")
_NATIVE_NUMBERED_RE = re.compile(r"第?[〇零一二三四五六七八九十百千0-9]+(?:研究)?[所院]")
_CACHE_SIZE = 1 << 16


@dataclass(frozen=True)
class PartnerMatch:
    entry: ListEntry
    list_name: str
    list_version: str
    matched_name: str  # the list name, alias or unit name that matched, as written in the data
    score: float  # 0-100, rounded to 1 decimal
    band: str  # "match", "possible" or "info" (the official name of an institution in another country)
    method: str  # one of METHODS
    unit: str = ""  # the sub-unit the partner named: a unit of the graph or the part written beside the name
    unit_kind: str = ""  # campus, school, institute, laboratory, numbered_institute, hospital, department


class _Hit(NamedTuple):
    score: float
    preference: int
    written: str
    method: str
    unit: str = ""
    unit_kind: str = ""
    foreign: bool = False


@dataclass(frozen=True)
class _Listing:
    entry: ListEntry
    list_name: str
    list_version: str
    country: str


@dataclass(frozen=True)
class _UnitTarget:
    unit: Unit
    parents: tuple[int, ...]  # refs of the parent's listings
    country: str


_Hits = dict[int, _Hit]
_Targets = tuple[tuple[int, str], ...]


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
        self._phrases = [
            (re.compile(rf"(?<!\S){re.escape(' '.join(fold_words(phrase)))}(?!\S)"), " ".join(fold_words(short)))
            for phrase, short in (settings.phrases or {}).items()
        ]
        self.latin = lru_cache(maxsize=_CACHE_SIZE)(self._latin)

    def rewrite_phrases(self, raw: tuple[str, ...]) -> tuple[str, ...]:
        """Long forms that mean one word: "People's Liberation Army" -> "pla"."""
        if not self._phrases:
            return raw
        text = " ".join(raw)
        for pattern, short in self._phrases:
            text = pattern.sub(short, text)
        return tuple(text.split())

    vocabulary: frozenset[str] = frozenset()  # known words, for parting glued ones; set once the index exists

    def unglue(self, word: str) -> tuple[str, ...]:
        """ "engineeringhunan" -> ("engineering", "hunan") when both halves are known words."""
        if len(word) < 8 or word in self.vocabulary or not self.vocabulary:
            return (word,)
        for cut in range(4, len(word) - 3):
            if word[:cut] in self.vocabulary and word[cut:] in self.vocabulary:
                return word[:cut], word[cut:]
        return (word,)

    def words(self, raw: Iterable[str]) -> tuple[str, ...]:
        expanded: list[str] = []
        for glued in raw:
            parts = self.unglue(glued)
            for word in parts:
                # A glued brand ("ShanghaiTech") is not an abbreviated long name: expanding a part
                # we guessed would stack a second guess on the first.
                spelt_out = self._abbreviations.get(word, word) if len(parts) == 1 else word
                ordinal = _ORDINAL_RE.fullmatch(spelt_out)
                if ordinal:  # "38th" and "38" number the same institute
                    spelt_out = ordinal[1]
                for part in spelt_out.split():
                    # Initials ("N. E. Bauman") carry no weight of their own.
                    if part not in self._stop_words and (len(part) > 1 or part.isdigit()):
                        expanded.append(part)
        return tuple(expanded)

    def _latin(self, text: str) -> _LatinForms | None:
        raw = fold_words(text)
        if not any(not word.isdigit() for word in raw):
            return None
        words = self.words(self.rewrite_phrases(raw))
        return _LatinForms(
            exact=" ".join(raw),
            words=words,
            sorted_key=" ".join(sorted(words)),
            compact="".join(words),
            letters="".join(raw),
        )


class PartnerMatcher:
    """Matches partner names against the entries of several partner lists and their sub-units."""

    def __init__(
        self,
        lists: Sequence[PartnerList],
        settings: MatchSettings | None = None,
        graph: AffiliationGraph = EMPTY_GRAPH,
    ):
        self.settings = settings or MatchSettings.from_file(DEFAULT_SETTINGS_PATH)
        self.settings.check("matching settings")
        self.graph = graph
        self._scores = dict(self.settings.method_scores or {})
        self._normaliser = _Normaliser(self.settings)
        self._country_groups = dict(self.settings.country_groups or {})
        self._targets: list[_Listing | _UnitTarget] = []
        self._romanised: set[str] = set()  # Latin spellings made from Russian names, not written in the lists
        building: dict[str, dict[str, dict[tuple[int, str], None]]] = {
            kind: {} for kind in ("exact", "sorted", "compact", "acronym", "native", "pinyin")
        }
        for partner_list in lists:
            for entry in partner_list.entries:
                listing = _Listing(entry, partner_list.name, partner_list.version, self._country(entry.country))
                self._add_target(listing, entry.names(), building)
        self.orphan_units: tuple[Unit, ...] = self._add_units(graph.units, building)
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
        cities = {word for target in self._targets for word in fold_words(self._city(target))}
        self._qualifiers = frozenset(
            self._normaliser.words(self.settings.country_words | self.settings.place_names | cities)
        )
        self._unit_words = {
            normalised: kind
            for word, kind in (self.settings.unit_words or {}).items()
            for normalised in self._normaliser.words((word,))
        }
        # Longest first, so that 中国人民解放军 is dropped whole rather than only its 中国.
        self._native_qualifiers = sorted(
            {native_key(q) for q in self.settings.native_qualifiers} - {""}, key=len, reverse=True
        )
        self._known_words = (
            set(self._spellings) | self._qualifiers | set(self._normaliser.words(self.settings.distinctive_words))
        )
        units_of: dict[int, list[Unit]] = {}
        for target in self._targets:
            if isinstance(target, _UnitTarget):
                for parent in target.parents:
                    units_of.setdefault(parent, []).append(target.unit)
        self._places = [self._places_of(target, units_of.get(ref, ())) for ref, target in enumerate(self._targets)]
        self._normaliser.vocabulary = frozenset(self._known_words | set(self._unit_words))
        self._normaliser.latin.cache_clear()
        self._word_neighbours = _neighbourhood_index(
            word for word in self._spellings if len(word) >= self.settings.typo_min_word_length
        )
        self._native_neighbours = _neighbourhood_index(
            key for key in self._native if len(key) >= self.settings.native_typo_min_length
        )
        self._typo_candidates = lru_cache(maxsize=_CACHE_SIZE)(self._find_typo_candidates)
        self._word_frequency = Counter(word for key in self._sorted for word in set(key.split()))
        self._cached_match = lru_cache(maxsize=_CACHE_SIZE)(self._match_uncached)

    @classmethod
    def from_settings_file(
        cls, lists: Sequence[PartnerList], path: Path = DEFAULT_SETTINGS_PATH, graph: AffiliationGraph = EMPTY_GRAPH
    ) -> "PartnerMatcher":
        return cls(lists, MatchSettings.from_file(path), graph)

    @property
    def entry_count(self) -> int:
        return sum(isinstance(target, _Listing) for target in self._targets)

    def match(self, name: str, country: str | None = None, name_local: str | None = None) -> list[PartnerMatch]:
        """Best match per list entry, sorted by score desc then entry id; bands "match", "possible", "info".

        ``country`` is an ISO 3166-1 alpha-2 code; ``name_local`` the name in its own script.
        """
        return list(self._cached_match(name, self._country(country or "") or None, name_local))

    # -- indexing ---------------------------------------------------------------------------------

    def _country(self, code: str) -> str:
        code = code.strip().upper()
        return self._country_groups.get(code, code)

    def _add_target(
        self, target: "_Listing | _UnitTarget", names: Iterable[str], building: dict[str, dict[str, dict]]
    ) -> None:
        ref = len(self._targets)
        self._targets.append(target)
        # A unit's brackets usually name its parent ("School of Astronautics (HIT)"): without them the
        # name would be any university's school, so units are indexed with their brackets only.
        is_unit = isinstance(target, _UnitTarget)
        names = tuple(dict.fromkeys(names))
        romanised = [latin for written in names for latin in romanisations(written)]
        self._romanised.update(romanised)
        for written in dict.fromkeys((*names, *romanised)):
            for kind, key in self._index_keys(written, drop_brackets=not is_unit):
                building[kind].setdefault(key, {})[(ref, written)] = None

    def _add_units(self, units: Iterable[Unit], building: dict[str, dict[str, dict]]) -> tuple[Unit, ...]:
        """Index every unit whose parent is listed; return those whose parent is not."""
        orphans = []
        for unit in units:
            parents = tuple(
                sorted(
                    {
                        ref
                        for kind, key in self._index_keys(unit.parent)
                        if kind in ("exact", "sorted", "native")
                        for ref, _ in building[kind].get(key, ())
                        if isinstance(self._targets[ref], _Listing)
                    }
                )
            )
            if parents:
                self._add_target(_UnitTarget(unit, parents, self._country(unit.country)), unit.names(), building)
            else:
                orphans.append(unit)
        return tuple(orphans)

    def _index_keys(self, written: str, drop_brackets: bool = True) -> Iterable[tuple[str, str]]:
        written = prepare(written)
        latin = self._normaliser.latin(written)
        if latin is not None:
            if is_acronym(written, self.settings):
                yield "acronym", latin.letters
            else:
                # "IITP RAS" is also written "IITP": the academy's initials are often left out.
                owner = written.rsplit(maxsplit=1)
                if (
                    len(owner) == 2
                    and owner[1].casefold() in self.settings.academy_suffixes
                    and is_acronym(owner[0], self.settings)
                ):
                    yield "acronym", "".join(fold_words(owner[0]))
                yield "exact", latin.exact
                yield from self._latin_keys(latin)
                # "China University of Geosciences (Wuhan)" is also written without its qualifier.
                unqualified = self._normaliser.latin(without_brackets(written)) if drop_brackets else None
                if unqualified is not None and unqualified != latin:
                    yield from self._latin_keys(unqualified)
        native = native_key(written)
        if native:
            yield "native", native
            for long_form, short_form in (self.settings.native_short_forms or {}).items():
                stem = native.removesuffix(long_form)
                if stem != native and len(stem) >= 2:
                    yield "native", stem + short_form
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

    @staticmethod
    def _city(target: "_Listing | _UnitTarget") -> str:
        return target.entry.city if isinstance(target, _Listing) else target.unit.city

    def _places_of(self, target: "_Listing | _UnitTarget", units: Iterable[Unit]) -> frozenset[str]:
        """Place words that locate a target: its city, places in its names, its units' cities and names."""
        names = [*(target.entry.names() if isinstance(target, _Listing) else target.unit.names())]
        cities = [self._city(target)]
        for unit in units:
            names.extend(unit.names())
            cities.append(unit.city)
        words = {w for city in cities for w in fold_words(city)}
        words.update(w for name in names for w in fold_words(prepare(name)) if w in self._qualifiers)
        return frozenset(words)

    # -- lookup -----------------------------------------------------------------------------------

    def _match_uncached(self, name: str, country: str | None, name_local: str | None) -> tuple[PartnerMatch, ...]:
        hits: _Hits = {}
        for text in dict.fromkeys(prepare(t) for t in (name, name_local) if t and t.strip()):
            self._match_text(text, country, hits)
        return tuple(self._results(hits))

    def _match_text(self, text: str, country: str | None, hits: _Hits) -> None:
        if self._match_whole(text, country, hits, whole=True) >= self.settings.match_threshold:
            return
        parts = segments(text)
        others_of = [parts[:position] + parts[position + 1 :] for position in range(len(parts))]
        contexts = [self._unit_context(others) for others in others_of]
        if len(parts) > 1:
            found_in = []
            for part in parts:
                found: _Hits = {}
                self._match_whole(part, country, found, whole=False)
                found_in.append(found)
            for position, found in enumerate(found_in):
                unit, kind = contexts[position]
                beside_places = self._only_places(others_of[position])
                listed_beside = {
                    ref
                    for other, found_there in enumerate(found_in)
                    if other != position
                    for ref in found_there
                    if isinstance(self._targets[ref], _Listing)
                }
                for ref, hit in found.items():
                    if beside_places and hit.method == "acronym_country":
                        continue  # "NUDT, Changsha": the acronym-with-city pass decides
                    target = self._targets[ref]
                    if isinstance(target, _UnitTarget) and listed_beside - set(target.parents):
                        continue  # "School of Astronautics, Beihang University" is Beihang's school, not HIT's
                    if unit and hit.method != "fuzzy":
                        hit = hit._replace(
                            score=min(hit.score, self._scores["sub_unit"]),
                            preference=-_METHOD_RANK["sub_unit"],
                            method="sub_unit",
                            unit=unit,
                            unit_kind=kind,
                        )
                    self._keep(hits, ref, hit)
            # A listed name written with a comma of its own: "Institute of Physics, Chinese Academy of Sciences".
            for first, second in itertools.pairwise(parts):
                self._match_whole(f"{first} {second}", country, hits, whole=False)
        self._match_acronym_city(text, country, hits)
        if any(not hit.foreign for hit in hits.values()):
            return
        for part, context in zip(parts, contexts, strict=True):
            self._match_inside(part, country, hits, context)
            self._match_numbered(part, country, hits)

    def _match_whole(self, text: str, country: str | None, hits: _Hits, whole: bool) -> float:
        """Look ``text`` up as one name; returns the best score it found (0 if none)."""
        found: _Hits = {}
        latin = self._normaliser.latin(text)
        if latin is not None:
            self._match_latin(latin, country, found, whole)
        native = native_key(text)
        if native:
            self._match_native(native, country, found, whole)
        for ref, hit in found.items():
            self._keep(hits, ref, hit)
        return max((hit.score for hit in found.values() if not hit.foreign), default=0.0)

    @staticmethod
    def _keep(hits: _Hits, ref: int, hit: _Hit) -> None:
        """Keep the better of two hits on one target: a same-country hit, then score, then method."""
        best = hits.get(ref)
        if best is None or (not hit.foreign, hit.score, hit.preference) > (
            not best.foreign,
            best.score,
            best.preference,
        ):
            hits[ref] = hit

    def _offer(
        self,
        hits: _Hits,
        targets: _Targets | None,
        score: float,
        method: str,
        country: str | None,
        whole: bool = True,
        unit: str = "",
        unit_kind: str = "",
    ) -> None:
        for ref, written in targets or ():
            target = self._targets[ref]
            foreign = bool(country and target.country and country != target.country)
            if foreign and not (whole and method in _NAME_METHODS and self._is_official(target, written)):
                continue
            if method == "exact" and isinstance(target, _Listing) and written != target.entry.name:
                method_here = "alias"
            else:
                method_here = method
            self._keep(
                hits, ref, _Hit(score, -_METHOD_RANK[method_here], written, method_here, unit, unit_kind, foreign)
            )

    @staticmethod
    def _is_official(target: "_Listing | _UnitTarget", written: str) -> bool:
        official = target.entry.name if isinstance(target, _Listing) else target.unit.name
        return written == official or (bool(native_key(written)) and not fold_words(written))

    def _match_latin(self, latin: _LatinForms, country: str | None, hits: _Hits, whole: bool) -> None:
        found = False
        for targets, method in (
            (self._exact.get(latin.exact), "exact"),
            (self._sorted.get(latin.sorted_key), "normalised"),
            (self._compact.get(latin.compact), "normalised"),
            (self._pinyin.get(latin.compact), "pinyin"),
        ):
            if targets:
                self._offer(hits, targets, self._scores[method], method, country, whole)
                found = True
        acronym_targets = self._acronyms.get(latin.letters) if country else None
        if acronym_targets:
            self._offer(hits, acronym_targets, self._scores["acronym_country"], "acronym_country", country, whole)
        if not found:
            self._match_qualified(latin.words, country, hits, whole)
            self._match_misspelt(latin, country, hits, whole)

    def _match_qualified(self, words: tuple[str, ...], country: str | None, hits: _Hits, whole: bool) -> None:
        """A listed name with a campus or country added: "Renmin University of China", "Beihang Hangzhou"."""
        # Only words at either end qualify a name: inside it, "Chinese" or a city is part of another
        # institution's name ("Zhejiang Chinese Medical University" is not Zhejiang Medical University).
        lead, tail = 0, len(words)
        while lead < len(words) and self._is_place(words[lead]):
            lead += 1
        while tail > lead and (self._is_place(words[tail - 1]) or words[tail - 1] in self.settings.academy_suffixes):
            tail -= 1
        if lead == 0 and tail == len(words):
            return
        # Drop leading words from the front and trailing ones from the back (the listed name may
        # begin or end with a place word itself: "Hunan University Changsha 410082"), then both.
        prefixes = [frozenset(range(end)) for end in range(lead + 1)]
        suffixes = [frozenset(range(start, len(words))) for start in range(tail, len(words) + 1)]
        candidates = [prefix | suffix for prefix in prefixes for suffix in suffixes]
        for dropped in dict.fromkeys(c for c in candidates if c):
            kept = [word for position, word in enumerate(words) if position not in dropped]
            targets = self._sorted.get(" ".join(sorted(kept))) if len(kept) >= 2 else None
            if targets:
                self._offer(hits, targets, self._scores["qualified"], "qualified", country, whole)

    def _match_misspelt(self, latin: _LatinForms, country: str | None, hits: _Hits, whole: bool) -> None:
        """Names equal to a listed name but for a one-character typo in one word."""
        words = latin.words
        for position, word in enumerate(words):
            # A known word is only mistaken in number ("Post" for "Posts"): any other edit of it
            # would turn one real name into another ("Henan" and "Hunan").
            known = word in self._known_words
            for candidate in self._number_variants(word) if known else self._typo_candidates(word):
                # Pair each typed word with the listed word it stands for, sorted as the listed name
                # is, so the misspelt word is scored against its own correction and nothing else.
                pairs = sorted(zip((*words[:position], candidate, *words[position + 1 :]), words, strict=True))
                key = " ".join(listed for listed, _ in pairs)
                targets = self._sorted.get(key)
                if targets and len(key) - key.count(" ") >= self.settings.typo_min_name_length:
                    typed = " ".join(typed for _, typed in pairs)
                    score = fuzz.ratio(typed, key)
                    if self._word_frequency.get(candidate, 0) < self.settings.typo_common_word_names:
                        # A slip in the word that tells institutions apart ("Xiangnan" for "Xiangtan")
                        # may be another institution's real name: the committee decides.
                        score = min(score, self._scores["distinctive_typo"])
                    self._offer(hits, targets, score, "fuzzy", country, whole)

    def _number_variants(self, word: str) -> tuple[str, ...]:
        variants = (word[:-1], f"{word}s") if word.endswith("s") else (f"{word}s",)
        return tuple(
            self._spellings[v]
            for v in variants
            if v in self._spellings and len(v) >= self.settings.typo_min_word_length
        )

    def _find_typo_candidates(self, word: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self._spellings[w] for w in _one_edit_away(word, self._word_neighbours)))

    def _match_native(self, native: str, country: str | None, hits: _Hits, whole: bool) -> None:
        found = False
        targets = self._native.get(native)
        if targets:
            self._offer(hits, targets, self._scores["native_script"], "native_script", country, whole)
            found = True
        if len(native) >= self.settings.pinyin_min_length:
            # A homophone typed by mistake through a pinyin input method has the same pinyin.
            targets = self._pinyin.get(pinyin_key(native))
            if targets:
                self._offer(hits, targets, self._scores["pinyin"], "pinyin", country, whole)
                found = True
        if not found:
            found = self._match_native_qualified(native, country, hits, whole)
        if not found and len(native) + 1 >= self.settings.native_typo_min_length:
            for listed in _one_edit_away(native, self._native_neighbours):
                self._offer(hits, self._native[listed], fuzz.ratio(native, listed), "fuzzy", country, whole)

    def _match_native_qualified(self, native: str, country: str | None, hits: _Hits, whole: bool) -> bool:
        """A listed Chinese name with the country or the PLA written before it: 中国人民大学, 中国人民解放军…."""
        for prefix in self._native_qualifiers:
            rest = native.removeprefix(prefix)
            targets = self._native.get(rest) if len(rest) >= 4 and rest != native else None
            if targets:
                self._offer(hits, targets, self._scores["qualified"], "qualified", country, whole)
                return True
        return False

    # -- names around a listed name -----------------------------------------------------------------

    def _unit_context(self, others: Sequence[str]) -> tuple[str, str]:
        """The parts written beside a listed name that name a unit of it ("School of Astronautics").

        Parts that are only places or countries are an address, not a unit: ("", "").
        """
        for part in others:
            kind = self._unit_kind(self._normaliser.words(fold_words(part)))
            if kind:
                return part, kind
            for suffix, native_kind in (self.settings.native_unit_suffixes or {}).items():
                if native_key(part).endswith(suffix):
                    return part, native_kind
        return "", ""

    def _only_places(self, parts: Sequence[str]) -> bool:
        words = self._normaliser.words(fold_words(" ".join(parts)))
        return bool(words) and all(self._is_place(word) for word in words)

    def _is_place(self, word: str) -> bool:
        """A place, country or postcode: the address part of an affiliation line."""
        return word in self._qualifiers or word.isdigit()

    def _unit_kind(self, words: Sequence[str]) -> str:
        return next((self._unit_words[w] for w in words if w in self._unit_words), "")

    def _match_inside(self, part: str, country: str | None, hits: _Hits, context: tuple[str, str] = ("", "")) -> None:
        """A listed name inside a longer one, when the rest is a unit or a place."""
        latin = self._normaliser.latin(part)
        if latin is not None:
            words = latin.words[:16]
            for size in range(len(words) - 1, 1, -1):
                for start in range(len(words) - size + 1):
                    targets = self._sorted.get(" ".join(sorted(words[start : start + size])))
                    if targets:
                        self._offer_surrounded(
                            words[:start], words[start + size :], part, targets, country, hits, context
                        )
        native = native_key(part)
        for cut in range(len(native) - 1, self.settings.pinyin_min_length - 1, -1):
            targets = self._native.get(native[:cut])
            if targets:
                self._offer_native_unit(native[cut:], part, targets, country, hits)
                break

    def _offer_surrounded(
        self,
        left: Sequence[str],
        right: Sequence[str],
        part: str,
        targets: _Targets,
        country: str | None,
        hits: _Hits,
        context: tuple[str, str],
    ) -> None:
        # What surrounds the name is a unit ("School of ...", "Computer Science College ...",
        # "... Department of Physics"), or an address ("... Shenzhen", "... 220 Handan Road");
        # "Nanjing University of Chinese Medicine" is neither.
        if left and not (any(w in self._unit_words for w in left) or all(self._is_place(w) for w in left)):
            return
        if right and not (right[0] in self._unit_words or right[0].isdigit() or all(self._is_place(w) for w in right)):
            return
        kind = self._unit_kind([*left, *right])
        unit = part
        if not kind:
            unit, kind = context  # the unit is written in another part: "College of X, Hunan University Changsha"
        if kind:
            self._offer(hits, targets, self._scores["sub_unit"], "sub_unit", country, False, unit, kind)
        else:
            self._offer(hits, targets, self._scores["qualified"], "qualified", country, False)

    def _offer_native_unit(self, rest: str, part: str, targets: _Targets, country: str | None, hits: _Hits) -> None:
        # The address written after the unit: 西安电子科技大学物理与光电工程学院西安710071.
        rest = rest.rstrip("0123456789")
        for size in (3, 2):
            if len(rest) > size and pinyin_key(rest[-size:]) in self._qualifiers:
                rest = rest[:-size]
                break
        for suffix, kind in (self.settings.native_unit_suffixes or {}).items():
            if rest.endswith(suffix):
                self._offer(hits, targets, self._scores["sub_unit"], "sub_unit", country, False, part, kind)
                return
        if pinyin_key(rest) in self._qualifiers:
            self._offer(hits, targets, self._scores["sub_unit"], "sub_unit", country, False, part, "campus")

    def _match_acronym_city(self, text: str, country: str | None, hits: _Hits) -> None:
        """An acronym with places beside it: "HIT Shenzhen", "NUDT, Changsha", "Harbin (HIT)"."""
        tokens = capital_tokens(text)
        acronyms = [t for t in tokens if t.isupper() and t.lower() in self._acronyms]
        if len(acronyms) != 1 or len(tokens) < 2 or not country:
            return
        places = set(self._normaliser.words(fold_words(" ".join(t for t in tokens if t != acronyms[0]))))
        if not places or not places <= self._qualifiers:
            return
        for ref, written in self._acronyms[acronyms[0].lower()]:
            located = places & self._places[ref]
            if located:
                self._offer(hits, ((ref, written),), self._scores["acronym_city"], "acronym_city", country)
            elif places <= self.settings.country_words:
                self._offer(hits, ((ref, written),), self._scores["acronym_country"], "acronym_country", country)
            else:  # same acronym, another city: the committee decides
                self._offer(hits, ((ref, written),), self.settings.possible_threshold, "acronym_country", country)

    def _match_numbered(self, part: str, country: str | None, hits: _Hits) -> None:
        """A numbered research institute of a listed group: "CETC 38th Research Institute"."""
        raw = fold_words(part)
        if any(_NUMBER_RE.fullmatch(word) for word in raw):
            rest = " ".join(
                w for w in raw if not _NUMBER_RE.fullmatch(w) and w not in self.settings.numbered_noise_words
            )
            latin = self._normaliser.latin(rest) if rest else None
            if latin is not None:
                found: _Hits = {}
                self._match_latin(latin, country, found, whole=False)
                self._offer_numbered(found, part, hits)
        native = native_key(part)
        stripped = _NATIVE_NUMBERED_RE.sub("", native)
        if native and stripped != native and len(stripped) >= 2:
            found = {}
            self._match_native(stripped, country, found, whole=False)
            self._offer_numbered(found, part, hits)

    def _offer_numbered(self, found: _Hits, part: str, hits: _Hits) -> None:
        groups = self.settings.conglomerate_categories
        for ref, hit in found.items():
            target = self._targets[ref]
            if isinstance(target, _Listing) and target.entry.category in groups and hit.method != "fuzzy":
                score = min(hit.score, self._scores["numbered_institute"])
                self._keep(
                    hits,
                    ref,
                    _Hit(
                        score,
                        -_METHOD_RANK["numbered_institute"],
                        hit.written,
                        "numbered_institute",
                        part,
                        "numbered_institute",
                    ),
                )

    # -- results ----------------------------------------------------------------------------------

    def _results(self, hits: _Hits) -> list[PartnerMatch]:
        by_listing: _Hits = {}
        for ref, hit in hits.items():
            target = self._targets[ref]
            if hit.written in self._romanised and hit.method in _UNIT_NAME_METHODS | {"acronym_country"}:
                hit = hit._replace(method="transliteration")
            if isinstance(target, _UnitTarget):
                method = "sub_unit" if hit.method in _UNIT_NAME_METHODS else hit.method
                as_parent = hit._replace(method=method, unit=target.unit.name, unit_kind=target.unit.kind)
                for parent in target.parents:
                    self._keep(by_listing, parent, as_parent)
            else:
                self._keep(by_listing, ref, hit)
        settings = self.settings
        results = []
        for ref, hit in by_listing.items():
            listing = self._targets[ref]
            assert isinstance(listing, _Listing)
            score = round(min(max(hit.score, 0.0), 100.0), 1)
            if hit.foreign:
                band = "info"
            elif score >= settings.match_threshold:
                band = "match"
            elif score >= settings.possible_threshold:
                band = "possible"
            else:
                continue
            results.append(
                PartnerMatch(
                    listing.entry,
                    listing.list_name,
                    listing.list_version,
                    hit.written,
                    score,
                    band,
                    hit.method,
                    hit.unit,
                    hit.unit_kind,
                )
            )
        results.sort(key=lambda m: (BANDS.index(m.band), -m.score, m.entry.id, m.list_name))
        return results


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


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
