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
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_RE = re.compile(f"[{HAN}]")
_HAN_OR_DIGIT_RE = re.compile(f"[{HAN}0-9]")
_NON_WORD_RE = re.compile(r"[\W_]+")
_BRACKETED_RE = re.compile(r"\(([^()]*)\)")
# Commas, semicolons and bars always separate; a hyphen only with spaces around it ("Xi'an-Jiaotong"
# stays one name), en and em dashes always.
_SEPARATOR_RE = re.compile(r"\s*(?:[,;|@]|\s-+\s|[–—])\s*")
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
