"""ISO 3166-1 alpha-2 codes with names in the user's language (from Babel's CLDR data)."""

from functools import lru_cache

from babel import Locale

# CLDR territories that are not officially assigned ISO 3166-1 alpha-2 codes.
_NOT_ISO = {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"}

ISO_CODES: frozenset[str] = frozenset(
    code for code in Locale("en").territories if len(code) == 2 and code.isalpha() and code not in _NOT_ISO
)


@lru_cache(maxsize=8)
def country_choices(language: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(language).territories
    return tuple(sorted(((c, names.get(c, c)) for c in ISO_CODES), key=lambda item: item[1]))


def country_name(code: str, language: str) -> str:
    return Locale.parse(language).territories.get(code, code)
