"""Importers: turn third-party and hand-written lists into ``PartnerList`` versions.

Each importer reads one file and returns a ``PartnerList``; ``rules.lists.dump_list`` then writes it
as a new list version. Bad input raises ``ListError`` with a one-line reason naming the file and,
where there is one, the row.

    python -m rules.importers misp-galaxy clusters/china-defence-universities.json --out DIR
"""

import argparse
import csv
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import yaml

from rules.lists import RISK_LEVELS, ListEntry, ListError, PartnerList, dump_list
from rules.taxonomy import TECHNOLOGY_AREAS

TOPIC_MAP_PATH = Path(__file__).parent / "data" / "topic_map.yaml"
#: CLDR's "unknown region", for records that give no country at all
UNKNOWN_COUNTRY = "ZZ"

# ASPI tracker category -> (our category, risk level). The tracker's own risk rating is not in the
# MISP export, so the category stands in for it: institutions inside the military, security
# services or defence industry are very high risk; civilian universities are high risk when they
# host major defence laboratories and medium risk otherwise.
ASPI_CATEGORIES = {
    "Seven sons of national defence": ("seven_sons", "very_high"),
    "Military": ("military", "very_high"),
    "Security": ("security", "very_high"),
    "Defence industry conglomerate": ("defence_industry", "very_high"),
    "Civilian": ("civilian", None),
}
ASPI_CATEGORY_PHRASES = {
    "seven_sons": "one of the Seven Sons of National Defence",
    "military": "a military institution",
    "security": "a security-service institution",
    "defence_industry": "a defence industry conglomerate",
    "civilian": "a civilian institution",
}

# CSL records on a sanctions list (OFAC's SDN list and its Non-SDN companions) or marked as military
# end users are very high risk; every other CSL record (Entity List, Unverified List, ...) is high.
CSL_VERY_HIGH = re.compile(
    r"\b(?:sdn|meu)\b|specially designated nationals|military end.?user", re.IGNORECASE
)

OWN_CSV_COLUMNS = ("name", "aliases", "country", "category", "risk_level", "topics", "reason", "sources")
OWN_CSV_REQUIRED = ("name", "country", "category", "risk_level")
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
_CHINESE_IN_BRACKETS = re.compile(
    r"^(?P<english>.*?)\s*[(（](?P<chinese>[^()（）]*[\u4e00-\u9fff][^()（）]*)[)）]\s*$"
)


def slugify(text: str, separator: str = "-") -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", separator, ascii_text.lower().replace("'", "").replace("’", "")).strip(
        separator
    )


def split_list(value: object, separator: str = ";") -> tuple[str, ...]:
    """A JSON list, or a string of items separated by ``separator``, as stripped non-empty strings."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(separator)
    return tuple(dict.fromkeys(s for s in (str(i).strip() for i in items if i is not None) if s))


def _unique_id(base: str, taken: set[str]) -> str:
    candidate, suffix = base, 2
    while candidate in taken:
        candidate, suffix = f"{base}-{suffix}", suffix + 1
    taken.add(candidate)
    return candidate


def _aliases(name: str, candidates: Iterable[str]) -> tuple[str, ...]:
    """Distinct aliases in order, without the name itself."""
    seen = {name.casefold()}
    kept = []
    for alias in candidates:
        if alias and alias.casefold() not in seen:
            seen.add(alias.casefold())
            kept.append(alias)
    return tuple(kept)


def _read_json(path: Path) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ListError(f"{path}: cannot read JSON: {exc}") from exc


def _read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs of a CSV file with a header row."""
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [str(column).strip() for column in reader.fieldnames or ()]
            rows = []
            for row in reader:
                if None in row:
                    raise ListError(f"{path}: row {reader.line_num}: more values than columns")
                rows.append((reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items()}))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ListError(f"{path}: cannot read CSV: {exc}") from exc
    if not header:
        raise ListError(f"{path}: empty file; a header row is required")
    return header, rows


def load_topic_map(path: Path = TOPIC_MAP_PATH) -> dict[str, tuple[str, ...]]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    mapping = {str(topic): tuple(keys or ()) for topic, keys in (doc.get("topics") or {}).items()}
    for topic, keys in mapping.items():
        unknown = [key for key in keys if key not in TECHNOLOGY_AREAS]
        if unknown:
            raise ListError(f"{path}: topic {topic!r} maps to unknown technology areas {unknown}")
    return mapping


# -- MISP galaxy (ASPI China Defence Universities Tracker) -----------------------------------------


def import_misp_galaxy(
    path: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    country: str = "CN",
    source: str | None = None,
    licence: str = "CC0 1.0",
) -> PartnerList:
    """A MISP galaxy cluster file laid out like ASPI's China Defence Universities Tracker."""
    doc = _read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("values"), list):
        raise ListError(f"{path}: expected a MISP galaxy cluster with a 'values' list")
    topic_map = load_topic_map()
    list_source = source or (
        f"MISP galaxy cluster {doc.get('type', '')} ({doc.get('uuid', 'no uuid')},"
        f" version {doc.get('version')}): {doc.get('name', '')} by {doc.get('source', '')}"
    )
    taken: set[str] = set()
    entries = [
        _misp_entry(value, f"{path}: value {row}", topic_map, country, list_source, taken)
        for row, value in enumerate(doc["values"])
    ]
    return PartnerList(
        name=name or "aspi-china-defence-universities",
        version=version or date.today().isoformat(),
        title=str(doc.get("name") or "China Defence Universities Tracker"),
        publisher=str(doc.get("source") or ", ".join(doc.get("authors") or ())),
        source=list_source,
        licence=licence,
        entries=tuple(entries),
    )


def _misp_entry(
    value: object,
    where: str,
    topic_map: dict[str, tuple[str, ...]],
    default_country: str,
    list_source: str,
    taken: set[str],
) -> ListEntry:
    if not isinstance(value, dict) or not str(value.get("value") or "").strip():
        raise ListError(f"{where}: lacks a 'value' name")
    meta = value.get("meta") or {}
    written = str(value["value"]).strip()
    bracketed = _CHINESE_IN_BRACKETS.match(written)
    english = bracketed["english"].strip() if bracketed else written
    chinese = [bracketed["chinese"].strip()] if bracketed else []
    where = f"{where} ({english})"

    categories = split_list(meta.get("categories"))
    if not categories or categories[0] not in ASPI_CATEGORIES:
        raise ListError(f"{where}: category {categories[:1]} is not one of {', '.join(ASPI_CATEGORIES)}")
    category, risk_level = ASPI_CATEGORIES[categories[0]]
    laboratories = split_list(meta.get("major defence laboratories"))
    if risk_level is None:
        risk_level = "high" if laboratories else "medium"

    topics: dict[str, None] = {}
    for topic in split_list(meta.get("topics")):
        if topic not in topic_map:
            raise ListError(f"{where}: topic {topic!r} is not in {TOPIC_MAP_PATH.name}; add it there")
        topics.update(dict.fromkeys(topic_map[topic]))

    address = str(meta.get("address") or "")
    country = "CN" if "china" in address.casefold() or "中国" in address else default_country
    return ListEntry(
        id=_unique_id("aspi-" + slugify(english), taken),
        name=english,
        country=country,
        category=category,
        risk_level=risk_level,
        aliases=_aliases(english, [*chinese, *split_list(meta.get("aliases"))]),
        topics=tuple(topics),
        reason=(
            f"ASPI China Defence Universities Tracker: {ASPI_CATEGORY_PHRASES[category]}; "
            f"major defence laboratories: {len(laboratories)}"
        ),
        sources=tuple(dict.fromkeys([*split_list(meta.get("refs")), list_source])),
    )


# -- US Consolidated Screening List ----------------------------------------------------------------


#: What the research filter keeps: organisations (not people, vessels or aircraft) in these countries...
CSL_RESEARCH_COUNTRIES = frozenset({"CN", "HK", "MO", "RU", "IR", "BY", "KP"})
#: ...whose name or an alternative name says it is a research organisation.
CSL_RESEARCH_WORDS = re.compile(
    r"universit|institut|academ|laborator|\blabs?\b|\bcollege|\bresearch|\bscien|polytechn|\bschool"
    r"|supercomput|\bcent(?:er|re) (?:for|of)|design bureau|\bnii\b|\bnpo\b"
    r"|大学|学院|研究|实验室|科学院|中心|университет|институт|академи|лаборатори|دانشگاه|پژوهشگاه|مرکز",
    re.IGNORECASE,
)
CSL_FILTER_TEXT = (
    "Kept: records of type Entity with an address in CN, HK, MO, RU, IR, BY or KP whose name or an "
    "alternative name names a university, institute, academy, laboratory, college, school, research or "
    "science body, supercomputing centre or design bureau; every other record (companies, people, "
    "vessels, aircraft, other countries) is left out."
)


def import_csl(
    path: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    source: str = "https://www.trade.gov/consolidated-screening-list",
    licence: str = "Public domain (US government work)",
    research_only: bool = True,
) -> PartnerList:
    """The US Consolidated Screening List as published: CSV (all columns, ``alt_names`` separated by
    ``;``, addresses by ``;``) or JSON (a list of records or {"results": [...]}).

    With ``research_only`` (the default) only research organisations in the countries a research
    collaboration screen is about are kept (``CSL_FILTER_TEXT``); the list's ``method`` says so.
    """
    path = Path(path)
    records: list[tuple[str, dict]]
    if path.suffix.lower() == ".json":
        doc = _read_json(path)
        items = doc.get("results") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise ListError(f"{path}: expected a list of records or an object with 'results'")
        records = [(f"{path}: record {i}", item) for i, item in enumerate(items)]
    else:
        _, rows = _read_csv_rows(path)
        records = [(f"{path}: row {line}", row) for line, row in rows]
    taken: set[str] = set()
    entries = tuple(
        _csl_entry(record, where, source, taken)
        for where, record in records
        if not research_only or _is_research_record(record, where)
    )
    return PartnerList(
        name=name or ("us-csl-research-organisations" if research_only else "us-consolidated-screening-list"),
        version=version or date.today().isoformat(),
        title="Consolidated Screening List" + (" (research organisations)" if research_only else ""),
        publisher="US International Trade Administration",
        source=source,
        licence=licence,
        entries=entries,
        method=f"Imported from {path.name} with `screening lists import --format csl`. "
        + (CSL_FILTER_TEXT if research_only else "Every record kept."),
    )


def _is_research_record(record: object, where: str) -> bool:
    if not isinstance(record, dict):
        raise ListError(f"{where}: expected an object")
    if str(record.get("type") or "Entity").strip().casefold() != "entity":
        return False
    country = str(record.get("country") or "").strip().upper() or _csl_country(record.get("addresses"))
    names = [str(record.get("name") or ""), *split_list(record.get("alt_names"))]
    return country in CSL_RESEARCH_COUNTRIES and any(CSL_RESEARCH_WORDS.search(n) for n in names)


def _csl_entry(record: object, where: str, list_source: str, taken: set[str]) -> ListEntry:
    if not isinstance(record, dict):
        raise ListError(f"{where}: expected an object")
    name = str(record.get("name") or "").strip()
    if not name:
        raise ListError(f"{where}, column 'name': empty")
    source = str(record.get("source") or "").strip()
    if not source:
        raise ListError(f"{where}, column 'source': empty")
    programs = split_list(record.get("programs"))
    country = str(record.get("country") or "").strip().upper() or _csl_country(record.get("addresses"))
    if not _COUNTRY_CODE.match(country):
        raise ListError(f"{where}, column 'country': {country!r} is not a two-letter country code")
    very_high = CSL_VERY_HIGH.search(" ".join((source, *programs)))
    since = " ".join(
        str(record.get(key) or "").strip() for key in ("start_date", "federal_register_notice")
    ).strip()
    reason = f"US Consolidated Screening List: {source}"
    if programs:
        reason += f"; programs: {', '.join(programs)}"
    if since:
        reason += f"; listed {since}"
    return ListEntry(
        id=_unique_id("csl-" + slugify(name), taken),
        name=name,
        country=country,
        category="entity_list" if "entity list" in source.casefold() else slugify(source, "_"),
        risk_level="very_high" if very_high else "high",
        aliases=_aliases(name, split_list(record.get("alt_names"))),
        reason=reason,
        sources=split_list(
            [record.get("source_information_url"), record.get("source_list_url"), list_source]
        ),
        city=_csl_city(record.get("addresses")),
        listed=str(record.get("start_date") or "").strip(),
        citation=str(record.get("federal_register_notice") or "").strip(),
    )


def _csl_city(addresses: object) -> str:
    """The city of the first address: a JSON ``city``, or the CSV address's part before the country code."""
    if isinstance(addresses, list):
        return next((str(a.get("city")).strip() for a in addresses if isinstance(a, dict) and a.get("city")), "")
    for address in split_list(addresses):
        parts = [part.strip() for part in address.split(",")]
        if len(parts) >= 3 and _COUNTRY_CODE.match(parts[-1]):
            return parts[-2]
    return ""


def _csl_country(addresses: object) -> str:
    """The country of the last address that names one: a JSON ``country`` or the CSV's trailing code."""
    if isinstance(addresses, list):
        countries = [str(a.get("country") or "").strip().upper() for a in addresses if isinstance(a, dict)]
    else:
        countries = [part.rsplit(",", 1)[-1].strip() for part in split_list(addresses)]
    codes = [code for code in countries if _COUNTRY_CODE.match(code)]
    return codes[-1] if codes else UNKNOWN_COUNTRY


# -- our own CSV -----------------------------------------------------------------------------------


def import_csv(
    path: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    title: str | None = None,
    publisher: str = "",
    source: str | None = None,
    licence: str = "",
) -> PartnerList:
    """A hand-written list: columns name, aliases, country, category, risk_level, topics, reason, sources.

    aliases, topics and sources hold several values separated by ";". The header row is required.
    """
    path = Path(path)
    header, rows = _read_csv_rows(path)
    unknown = [column for column in header if column not in OWN_CSV_COLUMNS]
    if unknown:
        raise ListError(
            f"{path}: row 1, column {unknown[0]!r}: unknown (expected {', '.join(OWN_CSV_COLUMNS)})"
        )
    missing = [column for column in OWN_CSV_REQUIRED if column not in header]
    if missing:
        raise ListError(f"{path}: row 1: missing column {missing[0]!r}")
    first_row_of: dict[str, int] = {}
    entries = []
    for line, row in rows:
        entry = _own_csv_entry(row, f"{path}: row {line}")
        if entry.id in first_row_of:
            raise ListError(
                f"{path}: row {line}, column 'name': {entry.name!r} repeats row {first_row_of[entry.id]}"
            )
        first_row_of[entry.id] = line
        entries.append(entry)
    list_name = name or slugify(path.stem)
    return PartnerList(
        name=list_name,
        version=version or date.today().isoformat(),
        title=title or list_name,
        publisher=publisher,
        source=source or path.name,
        licence=licence,
        entries=tuple(entries),
    )


def _own_csv_entry(row: dict[str, str], where: str) -> ListEntry:
    def bad(column: str, problem: str) -> ListError:
        return ListError(f"{where}, column {column!r}: {problem}")

    for column in OWN_CSV_REQUIRED:
        if not row.get(column):
            raise bad(column, "empty")
    country = row["country"].upper()
    if not _COUNTRY_CODE.match(country):
        raise bad("country", f"{row['country']!r} is not a two-letter country code")
    if not re.fullmatch(r"[a-z0-9_]+", row["category"]):
        raise bad("category", f"{row['category']!r} is not a lower-case key such as entity_list")
    if row["risk_level"] not in RISK_LEVELS:
        raise bad("risk_level", f"{row['risk_level']!r} is not one of {', '.join(RISK_LEVELS)}")
    topics = split_list(row.get("topics"))
    unknown_topics = [topic for topic in topics if topic not in TECHNOLOGY_AREAS]
    if unknown_topics:
        raise bad("topics", f"{unknown_topics[0]!r} is not a technology area of taxonomy.yaml")
    slug = slugify(row["name"])
    if not slug:
        raise bad("name", f"{row['name']!r} has no letters or digits to build an id from")
    return ListEntry(
        id=slug,
        name=row["name"],
        country=country,
        category=row["category"],
        risk_level=row["risk_level"],
        aliases=_aliases(row["name"], split_list(row.get("aliases"))),
        topics=topics,
        reason=row.get("reason", ""),
        sources=split_list(row.get("sources")),
    )


# -- dispatch --------------------------------------------------------------------------------------

IMPORTERS: dict[str, Callable[..., PartnerList]] = {
    "misp-galaxy": import_misp_galaxy,
    "csl": import_csl,
    "csv": import_csv,
}


def import_list(fmt: str, path: Path, *, name: str | None = None, version: str | None = None) -> PartnerList:
    importer = IMPORTERS.get(fmt)
    if importer is None:
        raise ListError(f"{path}: unknown list format {fmt!r} (expected {', '.join(IMPORTERS)})")
    return importer(Path(path), name=name, version=version)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Import a partner list and write it as a new list version.")
    parser.add_argument("format", choices=sorted(IMPORTERS))
    parser.add_argument("path", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="lists directory, e.g. rules/data/lists")
    parser.add_argument("--name")
    parser.add_argument("--version", help="version to write (default: today's date)")
    parser.add_argument("--source", help="where the file came from, recorded in the list header")
    args = parser.parse_args(argv)
    extra = {"source": args.source} if args.source else {}
    partner_list = IMPORTERS[args.format](args.path, name=args.name, version=args.version, **extra)
    print(dump_list(partner_list, args.out))


if __name__ == "__main__":
    main()
