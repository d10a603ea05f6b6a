"""Reading institution names the way people write them.

Normalisation shared by the list index and the partner names looked up in it: compatibility
forms (full-width brackets and letters) folded to ASCII, traditional Chinese to simplified, Latin
words without accents or punctuation. And the parts of a written name: comma- and dash-separated
segments and bracketed additions ("Harbin Institute of Technology (Shenzhen)", "NUDT, Changsha",
"School of Astronautics – Beihang University").
"""

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC
from pypinyin import lazy_pinyin

_CACHE_SIZE = 1 << 16
HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # 〇 (U+3007) writes zero in numbers: 七〇五
HAN_RE = re.compile(f"[{HAN}]")
_HAN_OR_DIGIT_RE = re.compile(f"[{HAN}0-9]")
_NON_WORD_RE = re.compile(r"[\W_]+")
_BRACKETED_RE = re.compile(r"\(([^()]*)\)")
# Commas, semicolons and bars always separate; a hyphen only with spaces around it ("Xi'an-Jiaotong"
# stays one name), en and em dashes always, and "or" between two names of one place ("Shenyang
# Aircraft Design Institute or 601 Institute").
_SEPARATOR_RE = re.compile(r"\s*(?:[,;|@]|\s-+\s|[–—])\s*|\s+(?i:or)\s+")
# Affiliation lines copied from PDFs lose their spaces: "UniversityChangsha410082". Letters and
# digits are parted here; glued words ("EngineeringHunan") by the matcher, which knows the words.
_GLUED_RE = re.compile(r"(?<=[^\W\d_])(?=\d{3})|(?<=\d)(?=[^\W\d_]{3})")
# Apostrophes join rather than split words: "Xi'an" and "Xian" are one word.
_DROP_APOSTROPHES = str.maketrans("", "", "'’‘`ʼ")
_TO_SIMPLIFIED = OpenCC("t2s")


@lru_cache(maxsize=_CACHE_SIZE)
def prepare(text: str) -> str:
    """``text`` in one canonical spelling: NFKC, simplified Chinese, single spaces."""
    text = _GLUED_RE.sub(" ", unicodedata.normalize("NFKC", text))
    if not text.isascii() and HAN_RE.search(text):
        text = _TO_SIMPLIFIED.convert(text)
    return " ".join(text.split())


@lru_cache(maxsize=_CACHE_SIZE)
def fold_words(text: str) -> tuple[str, ...]:
    """Lower-case words of the Latin (non-Chinese) part of ``text``, without accents or punctuation."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = HAN_RE.sub(" ", text)
    text = text.casefold().translate(_DROP_APOSTROPHES).replace("&", " and ")
    return tuple(_NON_WORD_RE.sub(" ", text).split())


@lru_cache(maxsize=_CACHE_SIZE)
def native_key(text: str) -> str:
    """The Chinese characters (and digits) of ``text``; empty when it has fewer than two characters."""
    if text.isascii():
        return ""
    key = "".join(_HAN_OR_DIGIT_RE.findall(prepare(text)))
    return key if len(HAN_RE.findall(key)) >= 2 else ""


_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
# Russian letters as the three romanisations met in affiliation lines write them: BGN/PCGN (Baumana,
# Fiztekh), the passport standard ICAO 9303 (Zhukovskii, Iurii) and the informal "h" for х (Fizteh).
_CYRILLIC_COMMON = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
}
_ROMANISATIONS = tuple(
    str.maketrans(
        {
            **_CYRILLIC_COMMON,
            **{c.upper(): r.capitalize() for c, r in _CYRILLIC_COMMON.items()},
            **extra,
            **{c.upper(): r.capitalize() for c, r in extra.items()},
        }
    )
    for extra in (
        {"х": "kh", "й": "y", "ю": "yu", "я": "ya"},
        {"х": "kh", "й": "i", "ю": "iu", "я": "ia"},
        {"х": "h", "й": "y", "ю": "yu", "я": "ya"},
    )
)


@lru_cache(maxsize=_CACHE_SIZE)
def romanisations(text: str) -> tuple[str, ...]:
    """Latin spellings of a Russian name: "МФТИ" -> ("MFTI",); "Физтех" -> ("Fiztekh", "Fizteh")."""
    if text.isascii() or not _CYRILLIC_RE.search(text):
        return ()
    return tuple(dict.fromkeys(" ".join(_romanise(word, table) for word in text.split()) for table in _ROMANISATIONS))


def _romanise(word: str, table: dict[int, str]) -> str:
    latin = word.translate(table)
    # An acronym stays in capitals: "ИППИ" -> "IPPI", not "Ippi".
    return latin.upper() if len(word) > 1 and word.isupper() else latin


@lru_cache(maxsize=_CACHE_SIZE)
def pinyin_key(native: str) -> str:
    """Toneless pinyin of Chinese characters, run together: 北京大学 -> beijingdaxue."""
    return "".join(fold_words(" ".join(lazy_pinyin(native, v_to_u=True))))


@lru_cache(maxsize=_CACHE_SIZE)
def segments(text: str) -> tuple[str, ...]:
    """The separately written parts of a name: outside the brackets first, then each bracket's content.

    "Harbin Institute of Technology (Shenzhen)" -> ("Harbin Institute of Technology", "Shenzhen");
    "School of Astronautics, Beihang University" -> ("School of Astronautics", "Beihang University").
    Only innermost brackets are read; a name without separators is one segment.
    """
    text = prepare(text)
    inner = _BRACKETED_RE.findall(text)
    outer = _BRACKETED_RE.sub(" , ", text) if inner else text
    parts = [*_SEPARATOR_RE.split(outer), *(p for content in inner for p in _SEPARATOR_RE.split(content))]
    return tuple(dict.fromkeys(p.strip(" .") for p in parts if p.strip(" .")))


def without_brackets(text: str) -> str:
    """``text`` with its bracketed parts removed: "China University of Geosciences (Wuhan)" -> "... Geosciences"."""
    return " ".join(_BRACKETED_RE.sub(" ", prepare(text)).split())


def capital_tokens(text: str) -> tuple[str, ...]:
    """Letters-only tokens as written, case kept: "HIT, Harbin" -> ("HIT", "Harbin")."""
    return tuple(re.findall(r"[^\W\d_]+", prepare(text).translate(_DROP_APOSTROPHES)))
