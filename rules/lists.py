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
    city: str = ""
    listed: str = ""  # date the publisher added the entry
    citation: str = ""  # e.g. the Federal Register notice
    parent: str = ""  # the listed organisation this entry belongs to, by its name

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
    published: str = ""  # the publisher's date of the edition this version reproduces
    method: str = ""  # how this version was made from the publication

    def summary(self) -> dict:
        return {"name": self.name, "version": self.version, "entries": len(self.entries)}


_OPTIONAL_ENTRY_FIELDS = ("city", "listed", "citation", "parent")


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
        **{key: str(raw.get(key) or "") for key in _OPTIONAL_ENTRY_FIELDS},
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
        published=str(head.get("published") or ""),
        method=str(head.get("method") or ""),
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


def entry_to_dict(entry: ListEntry) -> dict:
    """An entry as written in a list file; optional fields only when set."""
    doc = {
        "id": entry.id,
        "name": entry.name,
        "aliases": list(entry.aliases),
        "country": entry.country,
        "category": entry.category,
        "risk_level": entry.risk_level,
        "topics": list(entry.topics),
        "reason": entry.reason,
        "sources": list(entry.sources),
    }
    doc.update({key: getattr(entry, key) for key in _OPTIONAL_ENTRY_FIELDS if getattr(entry, key)})
    return doc


def dump_list(partner_list: PartnerList, directory: Path, diff: "ListDiff | None" = None) -> Path:
    """Write a list version; refuses to overwrite an existing version (versions are immutable).

    With ``diff`` (the change from the previous version) the diff is stored beside the version as
    ``<version>.diff.json``, so the change stays on record with the list.
    """
    target = directory / partner_list.name / f"{partner_list.version}.yaml"
    if target.exists():
        raise ListError(f"{target}: version {partner_list.version} of {partner_list.name} already exists")
    head = {
        "name": partner_list.name,
        "version": partner_list.version,
        "title": partner_list.title,
        "publisher": partner_list.publisher,
        "published": partner_list.published,
        "source": partner_list.source,
        "licence": partner_list.licence,
        "method": partner_list.method,
    }
    doc = {
        "list": {key: value for key, value in head.items() if value},
        "entries": [entry_to_dict(e) for e in partner_list.entries],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    if diff is not None:
        _write_atomically(target.with_suffix(".diff.json"), json.dumps(diff.to_dict(), ensure_ascii=False, indent=1))
    _write_atomically(target, yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120))
    return target


def _write_atomically(target: Path, text: str) -> None:
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


# -- changes between two versions of a list -----------------------------------------------------------

_COMPARED_FIELDS = (
    "name",
    "aliases",
    "country",
    "category",
    "risk_level",
    "topics",
    "reason",
    "sources",
    *_OPTIONAL_ENTRY_FIELDS,
)


@dataclass(frozen=True)
class EntryChange:
    id: str
    name: str
    fields: tuple[str, ...]  # the fields that differ


@dataclass(frozen=True)
class ListDiff:
    """What a new list version adds, removes and changes, entry by entry (entries are matched by id)."""

    name: str
    old_version: str | None
    new_version: str
    added: tuple[tuple[str, str], ...]  # (id, name)
    removed: tuple[tuple[str, str], ...]
    changed: tuple[EntryChange, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed), "changed": len(self.changed)}

    def to_dict(self) -> dict:
        return {
            "list": self.name,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "counts": self.counts,
            "added": [{"id": i, "name": n} for i, n in self.added],
            "removed": [{"id": i, "name": n} for i, n in self.removed],
            "changed": [{"id": c.id, "name": c.name, "fields": list(c.fields)} for c in self.changed],
        }

    @classmethod
    def from_dict(cls, doc: dict) -> "ListDiff":
        return cls(
            name=str(doc["list"]),
            old_version=doc.get("old_version"),
            new_version=str(doc["new_version"]),
            added=tuple((str(x["id"]), str(x["name"])) for x in doc.get("added") or ()),
            removed=tuple((str(x["id"]), str(x["name"])) for x in doc.get("removed") or ()),
            changed=tuple(
                EntryChange(str(x["id"]), str(x["name"]), tuple(x.get("fields") or ()))
                for x in doc.get("changed") or ()
            ),
        )

    def lines(self) -> list[str]:
        """The diff as text: a summary line, then one line per entry."""
        since = f"since {self.old_version}" if self.old_version else "new list"
        counts = self.counts
        out = [
            f"{self.name} {self.new_version} ({since}): {counts['added']} added, {counts['removed']} removed, "
            f"{counts['changed']} changed"
        ]
        out += [f"+ {name} ({entry_id})" for entry_id, name in self.added]
        out += [f"- {name} ({entry_id})" for entry_id, name in self.removed]
        out += [f"~ {c.name} ({c.id}): {', '.join(c.fields)}" for c in self.changed]
        return out


def diff_lists(old: PartnerList | None, new: PartnerList) -> ListDiff:
    before = {e.id: e for e in old.entries} if old else {}
    after = {e.id: e for e in new.entries}
    changed = []
    for entry_id in sorted(set(before) & set(after)):
        fields = tuple(f for f in _COMPARED_FIELDS if getattr(before[entry_id], f) != getattr(after[entry_id], f))
        if fields:
            changed.append(EntryChange(entry_id, after[entry_id].name, fields))
    return ListDiff(
        name=new.name,
        old_version=old.version if old else None,
        new_version=new.version,
        added=tuple((i, after[i].name) for i in sorted(set(after) - set(before))),
        removed=tuple((i, before[i].name) for i in sorted(set(before) - set(after))),
        changed=tuple(changed),
    )


def current_version_of(name: str, directories: list[Path] | None = None) -> PartnerList | None:
    """The newest stored version of list ``name``, or None if there is none."""
    paths = version_files(directories).get(name)
    return load_list_file(paths[-1]) if paths else None


def store_new_version(partner_list: PartnerList, directory: Path) -> tuple[Path, ListDiff]:
    """Write ``partner_list`` as a new version in ``directory`` with its diff to the current version.

    The current version is the newest among the shipped lists and ``directory``.
    """
    previous = current_version_of(partner_list.name, list(dict.fromkeys([SHIPPED_LISTS_DIR, directory])))
    diff = diff_lists(previous, partner_list)
    return dump_list(partner_list, directory, diff), diff


def stored_diff(partner_list: PartnerList) -> ListDiff | None:
    """The diff stored with a list version, else the diff to the version before it, if any."""
    if partner_list.path is None:
        return None
    stored = partner_list.path.with_suffix(".diff.json")
    if stored.exists():
        try:
            return ListDiff.from_dict(json.loads(stored.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # an unreadable record is recomputed below
    siblings = sorted(partner_list.path.parent.glob("*.yaml"), key=lambda p: p.stem)
    older = [p for p in siblings if p.stem < partner_list.version]
    return diff_lists(load_list_file(older[-1]) if older else None, partner_list)


def lists_fingerprint(lists: list[PartnerList]) -> str:
    payload = json.dumps([pl.summary() for pl in lists], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:16]
