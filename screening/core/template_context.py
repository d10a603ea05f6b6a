"""Validation of the values handed to letter templates.

Templates see plain data only: ``str``, ``int``, ``float``, ``bool``, ``None``, ``date``,
``datetime`` (timezone-aware) and lists, tuples and dicts (string keys) of those. Exact types are
required, so ``markupsafe.Markup`` (a ``str`` subclass that would bypass escaping), model objects,
enums and callables are refused with ``TypeError``. Sizes are bounded so that a letter cannot be
made to run for minutes: see the ``MAX_*`` limits, enforced before any rendering starts.
"""

import math
import re
from collections.abc import Mapping
from datetime import date, datetime

MAX_TEXT = 20_000  # characters in one string (a long reasoning is ~5,000)
MAX_TOTAL_TEXT = 200_000  # characters in all strings together
MAX_ITEMS = 500  # entries in one list or dict
MAX_TOTAL_ITEMS = 5_000  # values in the whole context
MAX_DEPTH = 6  # nesting of lists and dicts
MAX_KEY = 64  # characters in a dict key

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# C0 controls other than tab, newline and carriage return, plus DEL.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SCALARS = (str, int, float, bool, type(None), date, datetime)


class ContextError(ValueError):
    """The context is not acceptable for rendering (too large or an invalid value)."""


class ContextTooLargeError(ContextError):
    """A string, a list or the whole context exceeds a ``MAX_*`` limit."""


def validate_context(context: Mapping) -> dict:
    """Check ``context`` and return it as a plain ``dict`` (lists and tuples become tuples).

    Raises ``TypeError`` for values that are not plain data and :class:`ContextError` (a
    ``ValueError``) for values that are too large or malformed.
    """
    if not isinstance(context, Mapping):
        raise TypeError(f"context must be a mapping, got {type(context).__name__}")
    budget = {"text": 0, "items": 0}
    return _mapping(context, "context", 0, budget)


def _mapping(value: Mapping, path: str, depth: int, budget: dict) -> dict:
    if len(value) > MAX_ITEMS:
        raise ContextTooLargeError(f"{path}: {len(value)} entries (at most {MAX_ITEMS})")
    result = {}
    for key, item in value.items():
        if type(key) is not str:
            raise TypeError(f"{path}: keys must be str, got {type(key).__name__}")
        if len(key) > MAX_KEY or not _KEY_RE.match(key):
            raise ContextError(f"{path}: invalid key {key[:MAX_KEY]!r}")
        result[key] = _value(item, f"{path}.{key}", depth + 1, budget)
    return result


def _value(value, path: str, depth: int, budget: dict):
    if depth > MAX_DEPTH:
        raise ContextTooLargeError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    budget["items"] += 1
    if budget["items"] > MAX_TOTAL_ITEMS:
        raise ContextTooLargeError(f"the context has more than {MAX_TOTAL_ITEMS} values")
    kind = type(value)
    if kind is str:
        if len(value) > MAX_TEXT:
            raise ContextTooLargeError(f"{path}: text of {len(value)} characters (at most {MAX_TEXT})")
        budget["text"] += len(value)
        if budget["text"] > MAX_TOTAL_TEXT:
            raise ContextTooLargeError(f"the context's texts exceed {MAX_TOTAL_TEXT} characters in total")
        if _CONTROL_RE.search(value):
            raise ContextError(f"{path}: control characters are not allowed")
        return value
    if kind is float:
        if not math.isfinite(value):
            raise ContextError(f"{path}: number must be finite")
        return value
    if kind is datetime:
        if value.tzinfo is None:
            raise ContextError(f"{path}: datetimes must be timezone-aware")
        return value
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        if len(value) > MAX_ITEMS:
            raise ContextTooLargeError(f"{path}: {len(value)} entries (at most {MAX_ITEMS})")
        return tuple(_value(item, f"{path}[{index}]", depth + 1, budget) for index, item in enumerate(value))
    if kind is dict:
        return _mapping(value, path, depth, budget)
    raise TypeError(
        f"{path}: {kind.__module__}.{kind.__qualname__} is not a plain value "
        "(use str, int, float, bool, None, date, datetime, list or dict)"
    )
