"""Declarative conditions over proposal facts, compiled once into plain Python closures.

A condition is YAML data, never code:

    all:                                  # also: any, not
      - {fact: item.country, op: in, value: $countries_of_concern}
      - {fact: project.areas, op: not_empty}

``fact`` is a dotted path into the facts (see rules/facts.py). ``value`` is a literal or
``$name`` of a named set from the rule set. Compiling up front keeps screening fast and
reports a malformed rule when the rule set loads, not when a proposal happens to reach it.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Facts = Mapping[str, Any]
Predicate = Callable[[Facts], bool]


class RuleSyntaxError(ValueError):
    """A condition in the rule data is malformed; the message says where."""


def _as_set(value: Any) -> frozenset:
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(value)
    return frozenset((value,))


def _items(value: Any) -> Any:
    return value if isinstance(value, list | tuple | set | frozenset | dict) else ()


# Each operator builds the predicate from the fact getter and the compiled value, so that
# evaluating a comparison costs one call besides the getter's (conditions run for every rule on
# every proposal, and a generic compare(get(facts), value) closure was a third of their cost).
OPERATORS: dict[str, Callable[[Callable[[Facts], Any], Any], Predicate]] = {
    "eq": lambda get, value: lambda facts: get(facts) == value,
    "ne": lambda get, value: lambda facts: get(facts) != value,
    "in": lambda get, value: lambda facts: get(facts) in value,
    "not_in": lambda get, value: lambda facts: get(facts) not in value,
    "gt": lambda get, value: lambda facts: (fact := get(facts)) is not None and fact > value,
    "gte": lambda get, value: lambda facts: (fact := get(facts)) is not None and fact >= value,
    "lt": lambda get, value: lambda facts: (fact := get(facts)) is not None and fact < value,
    "lte": lambda get, value: lambda facts: (fact := get(facts)) is not None and fact <= value,
    "intersects": lambda get, value: lambda facts: not value.isdisjoint(_items(get(facts))),
    "not_intersects": lambda get, value: lambda facts: value.isdisjoint(_items(get(facts))),
    "subset_of": lambda get, value: lambda facts: bool(items := _items(get(facts))) and value.issuperset(items),
    "contains": lambda get, value: lambda facts: value in _items(get(facts)),
    "is_true": lambda get, _: lambda facts: get(facts) is True,
    "is_false": lambda get, _: lambda facts: not get(facts),
    "exists": lambda get, _: lambda facts: get(facts) is not None,
    "missing": lambda get, _: lambda facts: get(facts) is None,
    "not_empty": lambda get, _: lambda facts: bool(get(facts)),
    "empty": lambda get, _: lambda facts: not get(facts),
    "startswith_any": lambda get, value: lambda facts: isinstance(fact := get(facts), str)
    and fact.startswith(tuple(value)),
    "mentions_any": lambda get, value: lambda facts: isinstance(fact := get(facts), str)
    and value.search(fact) is not None,
}
_SET_VALUED = {"in", "not_in", "intersects", "not_intersects", "subset_of"}
_NO_VALUE = {"is_true", "is_false", "exists", "missing", "not_empty", "empty"}


def fact_getter(path: str) -> Callable[[Facts], Any]:
    """A function reading a dotted path from nested mappings; a missing step gives None.

    Facts are plain dicts, so an exact type test guards each step below the top; paths of up to
    three steps (nearly all of them) get a function without a loop, as the engine calls these
    getters more often than anything else.
    """
    steps = tuple(path.split("."))
    if len(steps) == 1:
        (first,) = steps
        return lambda facts: facts.get(first)
    if len(steps) == 2:
        first, second = steps

        def get_two(facts: Facts) -> Any:
            value = facts.get(first)
            return value.get(second) if type(value) is dict else None

        return get_two
    if len(steps) == 3:
        first, second, third = steps

        def get_three(facts: Facts) -> Any:
            value = facts.get(first)
            if type(value) is not dict:
                return None
            value = value.get(second)
            return value.get(third) if type(value) is dict else None

        return get_three

    def get(facts: Facts) -> Any:
        value: Any = facts
        for step in steps:
            if type(value) is not dict:
                return None
            value = value.get(step)
        return value

    return get


def fact_reader(paths: Sequence[str]) -> Callable[[Facts], tuple]:
    """A function reading several dotted paths at once, giving what ``fact_getter`` gives for each.

    A flag reads up to forty facts, most under a common prefix (``item.match``). The function is
    generated so that each prefix is read once into a local variable and no path costs a call:
    a quarter of the screening time went into getter calls. Its source holds only local names and
    the path steps as ``repr`` literals, so rule data cannot inject code.
    """
    lines = ["def read(facts):"]
    local_of: dict[tuple[str, ...], str] = {}
    for path in paths:
        steps = tuple(path.split("."))
        for depth in range(1, len(steps) + 1):
            prefix = steps[:depth]
            if prefix in local_of:
                continue
            local = f"v{len(local_of)}"
            if depth == 1:
                lines.append(f"    {local} = facts.get({prefix[0]!r})")
            else:
                parent = local_of[prefix[:-1]]
                lines.append(f"    {local} = {parent}.get({prefix[-1]!r}) if type({parent}) is dict else None")
            local_of[prefix] = local
    lines.append(f"    return ({''.join(local_of[tuple(path.split('.'))] + ', ' for path in paths)})")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # noqa: S102 -- generated from path steps as literals, see above
    return namespace["read"]


def compile_condition(spec: Any, named_sets: Mapping[str, Any], where: str) -> Predicate:
    """Turn a condition mapping into a predicate over facts."""
    if spec is None or spec is True:
        return lambda facts: True
    if not isinstance(spec, Mapping) or len(spec) == 0:
        raise RuleSyntaxError(f"{where}: a condition must be a mapping, got {spec!r}")
    if "all" in spec or "any" in spec:
        key = "all" if "all" in spec else "any"
        if len(spec) != 1 or not isinstance(spec[key], list) or not spec[key]:
            raise RuleSyntaxError(f"{where}: '{key}' takes a non-empty list and nothing beside it")
        parts = tuple(compile_condition(s, named_sets, f"{where}.{key}[{i}]") for i, s in enumerate(spec[key]))
        return _all_of(parts) if key == "all" else _any_of(parts)
    if "not" in spec:
        if len(spec) != 1:
            raise RuleSyntaxError(f"{where}: 'not' takes one condition and nothing beside it")
        inner = compile_condition(spec["not"], named_sets, f"{where}.not")
        return lambda facts: not inner(facts)
    return _compile_comparison(spec, named_sets, where)


def _all_of(parts: tuple[Predicate, ...]) -> Predicate:
    # Plain loops: all() and any() over a generator cost a generator frame per evaluation.
    def all_of(facts: Facts) -> bool:
        for part in parts:  # noqa: SIM110
            if not part(facts):
                return False
        return True

    return all_of


def _any_of(parts: tuple[Predicate, ...]) -> Predicate:
    def any_of(facts: Facts) -> bool:
        for part in parts:  # noqa: SIM110
            if part(facts):
                return True
        return False

    return any_of


def _compile_comparison(spec: Mapping, named_sets: Mapping[str, Any], where: str) -> Predicate:
    unknown = set(spec) - {"fact", "op", "value"}
    if unknown or "fact" not in spec or "op" not in spec:
        raise RuleSyntaxError(f"{where}: a comparison needs 'fact' and 'op' (and 'value'); got {sorted(spec)}")
    op = spec["op"]
    if op not in OPERATORS:
        raise RuleSyntaxError(f"{where}: unknown operator {op!r}; known: {', '.join(sorted(OPERATORS))}")
    if op in _NO_VALUE:
        if "value" in spec:
            raise RuleSyntaxError(f"{where}: operator {op!r} takes no value")
        value = None
    elif "value" not in spec:
        raise RuleSyntaxError(f"{where}: operator {op!r} needs a value")
    else:
        value = resolve_value(spec["value"], named_sets, where)
        if op in _SET_VALUED:
            value = _as_set(value)
    get = fact_getter(str(spec["fact"]))
    if op == "mentions_any":
        value = phrase_pattern(value, where)
    return OPERATORS[op](get, value)


def phrase_pattern(phrases: Any, where: str) -> re.Pattern:
    """Case-insensitive whole-word search for any of the phrases (for funder names and the like)."""
    if not isinstance(phrases, list | tuple) or not phrases:
        raise RuleSyntaxError(f"{where}: mentions_any needs a non-empty list of phrases")
    alternatives = sorted((re.escape(str(p).lower()) for p in phrases), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def resolve_value(value: Any, named_sets: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        name = value[1:]
        if name not in named_sets:
            raise RuleSyntaxError(f"{where}: unknown named set {value!r}")
        return named_sets[name]
    return value
