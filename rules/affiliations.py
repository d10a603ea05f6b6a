"""The affiliation graph: campuses, schools, institutes and laboratories of listed organisations.

A unit is not listed itself; it points to its parent by the parent's name, and a partner that
matches the unit is screened as the parent ("… is a campus of Harbin Institute of Technology,
which is listed on …"). The parent is found by name in every loaded list, so one unit serves all
the lists that name its parent. A unit that has its own listing is a list entry as well, and the
entry's own risk level then applies.

Files: ``rules/data/affiliations/<version>.yaml`` (or under ``SCREENING_AFFILIATIONS_DIR``, which
may add newer versions); only the newest version is loaded.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from rules.lists import ListError

SHIPPED_AFFILIATIONS_DIR = Path(__file__).parent / "data" / "affiliations"
UNIT_KINDS = (
    "campus",
    "school",
    "institute",
    "laboratory",
    "numbered_institute",
    "hospital",
    "department",
    "predecessor",
    "other_name",  # the organisation itself under a name its list entry does not give
)


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    kind: str
    parent: str  # the parent's name as a list entry writes it
    country: str
    aliases: tuple[str, ...] = ()
    city: str = ""
    sources: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class AffiliationGraph:
    version: str
    title: str
    method: str
    units: tuple[Unit, ...]
    path: Path | None = None

    def summary(self) -> dict:
        return {"name": "affiliations", "version": self.version, "entries": len(self.units)}


EMPTY_GRAPH = AffiliationGraph(version="none", title="No affiliation graph", method="", units=())


def unit_from_dict(raw: object, where: str) -> Unit:
    if not isinstance(raw, dict):
        raise ListError(f"{where}: a unit is a mapping")
    missing = [key for key in ("id", "name", "kind", "parent", "country") if not raw.get(key)]
    if missing:
        raise ListError(f"{where}: missing {', '.join(missing)}")
    if raw["kind"] not in UNIT_KINDS:
        raise ListError(f"{where}: kind {raw['kind']!r} is not one of {', '.join(UNIT_KINDS)}")
    return Unit(
        id=str(raw["id"]),
        name=str(raw["name"]),
        kind=str(raw["kind"]),
        parent=str(raw["parent"]),
        country=str(raw["country"]).strip().upper(),
        aliases=tuple(str(a) for a in raw.get("aliases") or ()),
        city=str(raw.get("city") or ""),
        sources=tuple(str(s) for s in raw.get("sources") or ()),
    )


def load_graph_file(path: Path) -> AffiliationGraph:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ListError(f"{path}: cannot read affiliation graph: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("graph"), dict):
        raise ListError(f"{path}: expected a mapping with 'graph' and 'units'")
    head = doc["graph"]
    if not head.get("version"):
        raise ListError(f"{path}: graph header lacks 'version'")
    units = tuple(unit_from_dict(raw, f"{path}: unit {i}") for i, raw in enumerate(doc.get("units") or []))
    ids = [u.id for u in units]
    if len(ids) != len(set(ids)):
        raise ListError(f"{path}: duplicate unit ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return AffiliationGraph(
        version=str(head["version"]),
        title=str(head.get("title") or "Affiliations"),
        method=str(head.get("method") or ""),
        units=units,
        path=path,
    )


def graph_files(directories: list[Path] | None = None) -> list[Path]:
    """Every version file, oldest first."""
    if directories is None:
        directories = [SHIPPED_AFFILIATIONS_DIR]
        extra = os.environ.get("SCREENING_AFFILIATIONS_DIR")
        if extra:
            directories.append(Path(extra))
    found = [path for base in directories if base.is_dir() for path in base.glob("*.yaml")]
    return sorted(found, key=lambda p: p.stem)


def load_current_graph(directories: list[Path] | None = None) -> AffiliationGraph:
    files = graph_files(directories)
    return load_graph_file(files[-1]) if files else EMPTY_GRAPH
