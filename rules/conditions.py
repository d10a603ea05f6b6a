"""Declarative conditions over proposal facts, compiled once into plain Python functions.

A condition is YAML data, never code:

    all:                                  # also: any, not
      - {fact: item.country, op: in, value: $countries_of_concern}
      - {fact: project.areas, op: not_empty}

``fact`` is a dotted path into the facts (see rules/facts.py). ``value`` is a literal or
``$name`` of a named set from the rule set. Compiling up front keeps screening fast and
reports a malformed rule when the rule set loads, not when a proposal happens to reach it.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
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


# Each operator as a Python expression over the fact ({fact}, an expression reading it), the
# compiled value ({value}, a constant's name) and a local name ({local}) where the fact is used twice.
OPERATORS: dict[str, str] = {
    "eq": "{fact} == {value}",
    "ne": "{fact} != {value}",
    "in": "{fact} in {value}",
    "not_in": "{fact} not in {value}",
    "gt": "({local} := {fact}) is not None and {local} > {value}",
    "gte": "({local} := {fact}) is not None and {local} >= {value}",
    "lt": "({local} := {fact}) is not None and {local} < {value}",
    "lte": "({local} := {fact}) is not None and {local} <= {value}",
    "intersects": "not {value}.isdisjoint(_items({fact}))",
    "not_intersects": "{value}.isdisjoint(_items({fact}))",
    "subset_of": "bool({local} := _items({fact})) and {value}.issuperset({local})",
    "contains": "{value} in _items({fact})",
    "is_true": "{fact} is True",
    "is_false": "not {fact}",
    "exists": "{fact} is not None",
    "missing": "{fact} is None",
    "not_empty": "bool({fact})",
    "empty": "not {fact}",
    "startswith_any": "isinstance({local} := {fact}, str) and {local}.startswith(tuple({value}))",
    "mentions_any": "isinstance({local} := {fact}, str) and {value}.search({local}) is not None",
}
_SET_VALUED = {"in", "not_in", "intersects", "not_intersects", "subset_of"}
_NO_VALUE = {"is_true", "is_false", "exists", "missing", "not_empty", "empty"}


class _Source:
    """A Python function generated from rule data, with the values it refers to kept as constants.

    Conditions, templates and evidence run for every rule on every proposal; as generated
    functions they read facts inline instead of calling a getter closure per path and a
    predicate closure per comparison, which took much of the engine's time. The source holds
    only generated names and path steps as ``repr`` literals: rule data cannot inject code.
    Facts are plain dicts, so an exact type test guards each step of a path below the top; a
    missing step gives None.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"_items": _items}
        self.locals = 0
        self.statements: list[str] = []
        self.local_of_path: dict[tuple[str, ...], str] = {}

    def local(self) -> str:
        self.locals += 1
        return f"v{self.locals}"

    def constant(self, value: Any) -> str:
        name = f"c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def read(self, path: str) -> str:
        """An expression giving the fact at a dotted path, read where it stands (conditions short-circuit)."""
        first, *rest = path.split(".")
        expression = f"facts.get({first!r})"
        for step in rest:
            parent = self.local()
            expression = f"({parent}.get({step!r}) if type({parent} := {expression}) is dict else None)"
        return expression

    def read_ahead(self, path: str) -> str:
        """A local holding the fact at a dotted path, read by a statement before the result.

        Templates and evidence read many paths under a common prefix (``item.match``): each
        prefix is read once.
        """
        steps = tuple(path.split("."))
        for depth in range(1, len(steps) + 1):
            if steps[:depth] in self.local_of_path:
                continue
            local = self.local()
            if depth == 1:
                self.statements.append(f"{local} = facts.get({steps[0]!r})")
            else:
                parent, step = self.local_of_path[steps[: depth - 1]], steps[depth - 1]
                self.statements.append(f"{local} = {parent}.get({step!r}) if type({parent}) is dict else None")
            self.local_of_path[steps[:depth]] = local
        return self.local_of_path[steps]

    def function(self, result: str) -> Callable[[Facts], Any]:
        body = "".join(f"    {statement}\n" for statement in [*self.statements, f"return {result}"])
        exec(f"def generated(facts):\n{body}", self.namespace)  # noqa: S102 -- see the class docstring
        return self.namespace["generated"]


def text_builder(
    literals: Sequence[str], paths: Sequence[str], to_text: Callable[[Any], str]
) -> Callable[[Facts], str]:
    """A function joining the literals with the facts at the paths between them, as text.

    ``literals`` has one item more than ``paths``. Strings, the most common facts, are used as
    they are; other facts pass through ``to_text``.
    """
    source = _Source()
    return source.function(_text(source, literals, paths, source.constant(to_text)))


def _text(source: _Source, literals: Sequence[str], paths: Sequence[str], to_text_name: str) -> str:
    parts = [source.constant(literals[0])]
    for path, literal in zip(paths, literals[1:], strict=True):
        local = source.read_ahead(path)
        parts += [f"({local} if type({local}) is str else {to_text_name}({local}))", source.constant(literal)]
    return f"''.join(({''.join(part + ', ' for part in parts)}))"


def flag_builder(
    head: Mapping[str, Any],
    severity: Callable[[Facts], str],
    texts: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    to_text: Callable[[Any], str],
    evidence: Mapping[str, str],
    sources: Sequence[str],
    cite: Sequence[str],
    mitigations: Sequence[str],
) -> Callable[[Facts], dict[str, Any]]:
    """One function building a rule's flag from the facts, as a dict with, in this order:

    - ``head``'s items as they are (the rule's id and category);
    - "severity", what ``severity`` gives for the facts;
    - each of ``texts``: its literals joined with the facts at its paths (see :func:`text_builder`);
    - "evidence": each name of ``evidence`` with the fact at its path;
    - "sources": ``sources``, then every source held by the facts at the ``cite`` paths, each once;
    - "mitigations": ``mitigations``.

    A flag names many facts under a few prefixes (``item.match``): in one function, each prefix is
    read once for the texts, the evidence and the sources together.
    """
    source = _Source()
    items = [f"{source.constant(key)}: {source.constant(value)}" for key, value in head.items()]
    items.append(f"'severity': {source.constant(severity)}(facts)")
    to_text_name = source.constant(to_text)
    items += [f"{source.constant(key)}: {_text(source, literals, paths, to_text_name)}"
              for key, (literals, paths) in texts.items()]
    named = [f"{source.constant(name)}: {source.read_ahead(path)}" for name, path in evidence.items()]
    items.append(f"'evidence': {{{', '.join(named)}}}")
    if cite:
        cited = "".join(source.read_ahead(path) + ", " for path in cite)
        items.append(f"'sources': {source.constant(_cited)}({source.constant(tuple(sources))}, ({cited}))")
    else:
        items.append(f"'sources': list({source.constant(tuple(sources))})")
    items.append(f"'mitigations': list({source.constant(tuple(mitigations))})")
    return source.function(f"{{{', '.join(items)}}}")


def _cited(sources: tuple[str, ...], values: tuple) -> list[str]:
    """The rule's sources, then each source in ``values`` (a source, or a list of them) not yet named."""
    cited = list(sources)
    for value in values:
        for item in value if isinstance(value, list | tuple) else (value,):
            if item and item not in cited:
                cited.append(item)
    return cited


def compile_condition(spec: Any, named_sets: Mapping[str, Any], where: str) -> Predicate:
    """Turn a condition mapping into a predicate over facts."""
    source = _Source()
    return source.function(f"True if {_condition(spec, named_sets, where, source)} else False")


def compile_cases(cases: Iterable[tuple[Any, Any, str]], named_sets: Mapping[str, Any]) -> Callable[[Facts], Any]:
    """A function giving the value of the first (condition, value, where) case whose condition holds, else None.

    One generated function for all cases, as a rule's severity cases are tried on every flag.
    """
    source = _Source()
    chain = [
        f"{source.constant(value)} if {_condition(spec, named_sets, where, source)} else "
        for spec, value, where in cases
    ]
    return source.function("".join(chain) + "None")


def _condition(spec: Any, named_sets: Mapping[str, Any], where: str, source: _Source) -> str:
    if spec is None or spec is True:
        return "True"
    if not isinstance(spec, Mapping) or len(spec) == 0:
        raise RuleSyntaxError(f"{where}: a condition must be a mapping, got {spec!r}")
    if "all" in spec or "any" in spec:
        key = "all" if "all" in spec else "any"
        if len(spec) != 1 or not isinstance(spec[key], list) or not spec[key]:
            raise RuleSyntaxError(f"{where}: '{key}' takes a non-empty list and nothing beside it")
        parts = [_condition(s, named_sets, f"{where}.{key}[{i}]", source) for i, s in enumerate(spec[key])]
        return "(" + (" and " if key == "all" else " or ").join(parts) + ")"
    if "not" in spec:
        if len(spec) != 1:
            raise RuleSyntaxError(f"{where}: 'not' takes one condition and nothing beside it")
        return f"(not {_condition(spec['not'], named_sets, f'{where}.not', source)})"
    return _comparison(spec, named_sets, where, source)


def _comparison(spec: Mapping, named_sets: Mapping[str, Any], where: str, source: _Source) -> str:
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
    fact = source.read(str(spec["fact"]))
    if op == "mentions_any":
        value = phrase_pattern(value, where)
    expression = OPERATORS[op].format(fact=fact, value=source.constant(value), local=source.local())
    return f"({expression})"


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
