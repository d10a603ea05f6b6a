"""Partner lists: curated, versioned lists of institutions of concern.

A list is a YAML file ``rules/data/lists/<name>/<version>.yaml`` (or under the directory
named by ``SCREENING_LISTS_DIR``) holding a header and its entries. Only the newest version of
each list is loaded; older versions stay on disk as the record of what was screened against.
"""

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SHIPPED_LISTS_DIR = Path(__file__).parent / "data" / "lists"
RISK_LEVELS = ("low", "medium", "high", "very_high")


class ListError(ValueError):
    """A list file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class ListEntry:
    id: str
    name: str
    country: str
    category: str
    risk_level: str
    aliases: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    reason: str = ""
    sources: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class PartnerList:
    name: str
    version: str
    title: str
    publisher: str
    source: str
    licence: str
    entries: tuple[ListEntry, ...] = field(default=())
    path: Path | None = None

    def summary(self) -> dict:
        return {"name": self.name, "version": self.version, "entries": len(self.entries)}


def entry_from_dict(raw: dict, where: str) -> ListEntry:
    missing = [key for key in ("id", "name", "country", "category", "risk_level") if not raw.get(key)]
    if missing:
        raise ListError(f"{where}: missing {', '.join(missing)}")
    if raw["risk_level"] not in RISK_LEVELS:
        raise ListError(f"{where}: risk_level {raw['risk_level']!r} is not one of {', '.join(RISK_LEVELS)}")
    return ListEntry(
        id=str(raw["id"]),
        name=str(raw["name"]),
        country=str(raw["country"]),
        category=str(raw["category"]),
        risk_level=str(raw["risk_level"]),
        aliases=tuple(str(a) for a in raw.get("aliases") or ()),
        topics=tuple(str(t) for t in raw.get("topics") or ()),
        reason=str(raw.get("reason") or ""),
        sources=tuple(str(s) for s in raw.get("sources") or ()),
    )


def load_list_file(path: Path) -> PartnerList:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ListError(f"{path}: cannot read list: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("list"), dict):
        raise ListError(f"{path}: expected a mapping with 'list' and 'entries'")
    head = doc["list"]
    for key in ("name", "version", "source"):
        if not head.get(key):
            raise ListError(f"{path}: list header lacks {key!r}")
    entries = tuple(entry_from_dict(raw, f"{path}: entry {i}") for i, raw in enumerate(doc.get("entries") or []))
    ids = [e.id for e in entries]
    if len(ids) != len(set(ids)):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ListError(f"{path}: duplicate entry ids {dupes}")
    return PartnerList(
        name=str(head["name"]),
        version=str(head["version"]),
        title=str(head.get("title") or head["name"]),
        publisher=str(head.get("publisher") or ""),
        source=str(head["source"]),
        licence=str(head.get("licence") or ""),
        entries=entries,
        path=path,
    )


def list_directories() -> list[Path]:
    """Shipped lists first, then an installation's own directory, which may add newer versions."""
    dirs = [SHIPPED_LISTS_DIR]
    extra = os.environ.get("SCREENING_LISTS_DIR")
    if extra:
        dirs.append(Path(extra))
    return dirs


def version_files(directories: list[Path] | None = None) -> dict[str, list[Path]]:
    """Every version file of every list, oldest first (versions sort as strings: use ISO dates)."""
    found: dict[str, list[Path]] = {}
    for base in directories or list_directories():
        if not base.is_dir():
            continue
        for list_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            found.setdefault(list_dir.name, []).extend(sorted(list_dir.glob("*.yaml")))
    for name, paths in found.items():
        found[name] = sorted(paths, key=lambda p: p.stem)
    return found


def load_current_lists(directories: list[Path] | None = None) -> list[PartnerList]:
    """The newest version of every list, ordered by list name."""
    return [load_list_file(paths[-1]) for _, paths in sorted(version_files(directories).items()) if paths]


def dump_list(partner_list: PartnerList, directory: Path) -> Path:
    """Write a list version; refuses to overwrite an existing version (versions are immutable)."""
    target = directory / partner_list.name / f"{partner_list.version}.yaml"
    if target.exists():
        raise ListError(f"{target}: version {partner_list.version} of {partner_list.name} already exists")
    doc = {
        "list": {
            "name": partner_list.name,
            "version": partner_list.version,
            "title": partner_list.title,
            "publisher": partner_list.publisher,
            "source": partner_list.source,
            "licence": partner_list.licence,
        },
        "entries": [
            {
                "id": e.id,
                "name": e.name,
                "aliases": list(e.aliases),
                "country": e.country,
                "category": e.category,
                "risk_level": e.risk_level,
                "topics": list(e.topics),
                "reason": e.reason,
                "sources": list(e.sources),
            }
            for e in partner_list.entries
        ],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    tmp.replace(target)
    return target


def lists_fingerprint(lists: list[PartnerList]) -> str:
    payload = json.dumps([pl.summary() for pl in lists], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:16]
