"""The import graph of screening/, forms/ and rules/: no circles, features in their layers.

Every ``import`` statement counts, also one inside a function: an import moved into a function to
dodge a circle is still a circle. See docs/architecture.md for the layers and where a new feature
goes.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("screening", "forms", "rules")
# The app's packages, lowest first: each may import the ones before it, never one after it.
# ``screening`` itself (create_app, the Celery worker, the console script) assembles them all.
LAYERS = (
    "rules",
    "screening.core",
    "forms",
    "screening.accounts",
    "screening.notifications",
    "screening.proposals",
    "screening.review",
    "screening.documents",
    "screening.portfolio",
    "screening.api",
    "screening.sso",
    "screening.admin",
    "screening.operations",
    "screening.privacy",
    "screening.demo",
    "screening",
)
WEB_AND_DATABASE = ("flask", "werkzeug", "sqlalchemy", "sqlmodel", "alembic", "celery", "screening", "forms")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules ``name`` imports anywhere in its source (resolved to a known module where it is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def layer_of(module: str) -> str | None:
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in edges:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_from_every_package():
    edges = graph()
    assert {"screening.core.database", "forms.proposals", "rules.engine"} <= set(edges)
    assert "screening.core.database" in edges["screening.proposals.models"]


def test_no_module_imports_itself_back():
    edges = graph()
    internal = {name: {t for t in targets if t in edges and t != name} for name, targets in edges.items()}
    assert circles(internal) == []


def test_circle_detection_finds_a_circle_through_a_function_level_import():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_packages_import_only_the_layers_below_them():
    upward = []
    for module, targets in graph().items():
        own = layer_of(module)
        for target in targets:
            other = layer_of(target)
            if other is not None and other != own and LAYERS.index(other) > LAYERS.index(own):
                upward.append(f"{module} imports {target}")
    assert upward == []


def test_rules_imports_neither_flask_nor_sqlalchemy():
    offenders = []
    for module, targets in graph().items():
        if layer_of(module) != "rules":
            continue
        for target in targets:
            top = target.split(".")[0]
            if top in WEB_AND_DATABASE or top.startswith("flask_"):
                offenders.append(f"{module} imports {target}")
    assert offenders == []
