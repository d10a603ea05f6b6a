"""Bulk import of collaborations from a spreadsheet: the template, parsing and validation.

One row is one collaboration. ``parse_upload`` turns an uploaded CSV or XLSX file into
contract proposals (``rules/data/schema/proposal.schema.json``), checks every row with
``rules.validation.validate_proposal`` and reports each problem by spreadsheet row and template
column ("row 17, column partner_2_country: …").

Policy: this module only reads and checks; it stores nothing. A file is imported all or
nothing: ``ImportResult.importable()`` returns the proposals only when the whole file is valid.
The caller may offer the user to import just the valid rows, and must then ask for
``importable(valid_rows_only=True)`` explicitly.

Uploads are untrusted. The checks, cheapest first: size, extension, content signature, UTF-8
and NUL bytes (CSV); for XLSX a real ZIP archive with the spreadsheet content type, a bounded
number of entries and bounded declared uncompressed sizes, all before openpyxl opens it
(read-only, cached values only, no external links; openpyxl parses with defusedxml). Reading
stops after ``max_rows`` data rows.
"""

import csv
import datetime as dt
import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from rules.taxonomy import FORD_FIELDS, TECHNOLOGY_AREAS
from rules.validation import PROPOSAL_SCHEMA, ProposalError, validate_proposal
from screening.portfolio.exports import needs_neutralising, to_csv

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "MAX_BYTES",
    "MAX_ROWS",
    "MAX_UNCOMPRESSED_BYTES",
    "CellError",
    "Column",
    "ImportResult",
    "ImportRow",
    "column_for_path",
    "parse_upload",
    "template_csv",
    "template_xlsx",
]

MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024
MAX_ZIP_ENTRIES = 1_000
PARTNER_SLOTS = 5
FUNDING_SLOTS = 3
TRANSFER_SLOTS = 3
LIST_SEPARATOR = ";"

_XLSX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls and other Office binary files


def _enum(*path: str) -> tuple[str, ...]:
    node = PROPOSAL_SCHEMA["properties"]
    for key in path:
        node = node[key]
    return tuple(node["enum"])


PARTNER_TYPES = _enum("partners", "items", "properties", "type")
FUNDING_KINDS = _enum("funding", "items", "properties", "kind")
TRANSFER_DIRECTIONS = _enum("data_transfers", "items", "properties", "direction")
DATA_CATEGORIES = tuple(
    PROPOSAL_SCHEMA["properties"]["data_transfers"]["items"]["properties"]["categories"]["items"]["enum"]
)
_TRUE = frozenset({"yes", "y", "ja", "j", "true", "wahr", "1", "x"})
_FALSE = frozenset({"no", "n", "nein", "false", "falsch", "0"})


# --- the template --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One template column.

    ``kind`` says how a cell is read: ``text`` (trimmed), ``list`` (``;``-separated),
    ``code`` / ``code_list`` (trimmed, lower-cased, spaces and hyphens to ``_``), ``country``
    (two letters are upper-cased), ``integer``, ``boolean`` or ``date``.
    """

    name: str
    kind: str
    help: str
    allowed: str = ""
    required: bool = False


def _base_columns() -> list[Column]:
    return [
        Column("reference", "text", "Your own identifier for the collaboration; must be unique within the file.",
               "text, at most 64 characters"),
        Column("title", "text", "Title of the project or collaboration.", "3 to 300 characters", required=True),
        Column("abstract", "text", "Short description of the work.", "at most 20,000 characters"),
        Column("keywords", "list", "Keywords describing the work.", "separated by ';', each at most 100 characters"),
        Column("research_fields", "list", "OECD Fields of Research and Development (FORD) codes.",
               "1 to 10 codes separated by ';', e.g. '1.2;2.3' (see the list below)", required=True),
        Column("technology_areas", "code_list", "Sensitive technology areas the work touches, if any.",
               "keys separated by ';', e.g. 'ai;robotics' (see the list below)"),
    ]


def _partner_columns(n: int) -> list[Column]:
    first = n == 1
    return [
        Column(f"partner_{n}_name", "text", f"Name of partner institution {n} as you write it (English, "
               "abbreviation or native script)." + ("" if first else " Leave all partner columns empty if unused."),
               "2 to 300 characters", required=first),
        Column(f"partner_{n}_name_local", "text", f"Name of partner {n} in its own language or script, if known.",
               "at most 300 characters"),
        Column(f"partner_{n}_country", "country", f"Country of partner {n}.",
               "ISO 3166-1 alpha-2 code, e.g. CN, RU, US", required=first),
        Column(f"partner_{n}_type", "code", f"Kind of organisation partner {n} is.", ", ".join(PARTNER_TYPES)),
        Column(f"partner_{n}_department", "text", f"Department, school or laboratory of partner {n}.",
               "at most 300 characters"),
    ]


def _funding_columns(n: int) -> list[Column]:
    return [
        Column(f"funding_{n}_source", "text", f"Funder or programme {n}, e.g. 'China Scholarship Council', 'DFG'. "
               "Required when any other funding column of this number is filled.", "2 to 300 characters"),
        Column(f"funding_{n}_country", "country", f"Country of funder {n}.", "ISO 3166-1 alpha-2 code"),
        Column(f"funding_{n}_kind", "code", f"Kind of funding {n}.", ", ".join(FUNDING_KINDS)),
        Column(f"funding_{n}_co_selected_by", "list", f"Independent bodies that also selected the person or "
               f"project funded by funder {n}, e.g. 'DAAD'.", "names separated by ';'"),
    ]


def _transfer_columns(n: int) -> list[Column]:
    return [
        Column(f"transfer_{n}_direction", "code", f"Direction of data transfer {n}: outbound from us to the partner "
               "country, inbound from there to us, or both. Required when any other column of this transfer is "
               "filled.", ", ".join(TRANSFER_DIRECTIONS)),
        Column(f"transfer_{n}_country", "country", f"Foreign end of data transfer {n}.", "ISO 3166-1 alpha-2 code"),
        Column(f"transfer_{n}_categories", "code_list", f"What kind of data transfer {n} carries.",
               "one or more separated by ';' (see the list below)"),
        Column(f"transfer_{n}_data_subjects", "integer", f"How many people the personal data of transfer {n} "
               "concerns.", "whole number, 0 or more"),
        Column(f"transfer_{n}_description", "text", f"Free-text description of data transfer {n}.",
               "at most 5,000 characters"),
    ]


def _tail_columns() -> list[Column]:
    return [
        Column("dual_use_codes", "list", "EU dual-use control list entries (Annex I of Regulation (EU) 2021/821) "
               "that apply.", "codes separated by ';', e.g. '3A001;6A003'"),
        Column("military_end_use", "boolean", "Is a military end use known or intended?",
               "yes/no (also ja/nein, true/false, 1/0); empty = not stated"),
        Column("export_control_notes", "text", "Notes on export control.", "at most 5,000 characters"),
        Column("start_date", "date", "Planned or actual start.", "YYYY-MM-DD (DD.MM.YYYY is accepted too)"),
        Column("duration_months", "integer", "Planned duration in months.", "whole number from 1 to 240"),
    ]


COLUMNS: tuple[Column, ...] = tuple(
    _base_columns()
    + [c for n in range(1, PARTNER_SLOTS + 1) for c in _partner_columns(n)]
    + [c for n in range(1, FUNDING_SLOTS + 1) for c in _funding_columns(n)]
    + [c for n in range(1, TRANSFER_SLOTS + 1) for c in _transfer_columns(n)]
    + _tail_columns()
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
_BY_NAME = {c.name: c for c in COLUMNS}
_ORDER = {name: index for index, name in enumerate(COLUMN_NAMES)}
_REQUIRED = tuple(c.name for c in COLUMNS if c.required)

EXAMPLE_ROW: dict[str, str | int] = {
    "reference": "IO-2026-0001",
    "title": "Sediment transport in the Yellow River delta under shifting monsoon patterns",
    "abstract": "Joint field campaigns and numerical modelling of sediment load and delta erosion.",
    "keywords": "sediment transport;river delta;monsoon",
    "research_fields": "1.5;2.7",
    "partner_1_name": "Beijing Normal University",
    "partner_1_name_local": "北京师范大学",
    "partner_1_country": "CN",
    "partner_1_type": "university",
    "partner_1_department": "Faculty of Geographical Science",
    "funding_1_source": "China Scholarship Council",
    "funding_1_country": "CN",
    "funding_1_kind": "scholarship",
    "funding_1_co_selected_by": "DAAD",
    "transfer_1_direction": "both",
    "transfer_1_country": "CN",
    "transfer_1_categories": "research_data;geospatial",
    "transfer_1_description": "Gauge records and satellite-derived shoreline positions.",
    "military_end_use": "no",
    "start_date": "2026-10-01",
    "duration_months": 36,
}


def template_csv() -> bytes:
    """The import template as CSV: UTF-8 with byte-order mark, the header and one example row."""
    return to_csv(COLUMN_NAMES, [[EXAMPLE_ROW.get(name, "") for name in COLUMN_NAMES]])


def _help_rows() -> Iterator[tuple[str, ...]]:
    yield ("Column", "Required", "Format and allowed values", "Meaning")
    for column in COLUMNS:
        yield (column.name, "yes" if column.required else "", column.allowed, column.help)
    yield ()
    yield ("Rules for the whole file",)
    for line in (
        "One row per collaboration; the first row holds the column names. Delete the example row before importing.",
        "Columns may be left out or reordered; title, research_fields, partner_1_name and partner_1_country must "
        "be present. Unknown column names make the whole file invalid.",
        "Nothing is imported unless every row is valid; the error list names each row and column to fix.",
        f"At most {MAX_ROWS:,} rows and {MAX_BYTES // (1024 * 1024)} MB per file. CSV files must be UTF-8 "
        "(in Excel: 'CSV UTF-8').",
        "Lists inside one cell are separated by ';'. Leave a cell empty when it does not apply.",
    ):
        yield ("", "", line)
    for heading, pairs in (
        ("Research fields (OECD FORD)", FORD_FIELDS.items()),
        ("Technology areas", TECHNOLOGY_AREAS.items()),
        ("Partner types", ((v, "") for v in PARTNER_TYPES)),
        ("Funding kinds", ((v, "") for v in FUNDING_KINDS)),
        ("Transfer directions", ((v, "") for v in TRANSFER_DIRECTIONS)),
        ("Data categories", ((v, "") for v in DATA_CATEGORIES)),
    ):
        yield ()
        yield (heading,)
        for value, label in pairs:
            yield ("", "", value, label)


def _choices(column: Column) -> tuple[str, ...]:
    """Values offered in the XLSX template's drop-down list for ``column`` (empty: free text)."""
    if column.kind == "boolean":
        return ("yes", "no")
    if column.kind != "code":
        return ()
    if column.name.endswith("_type"):
        return PARTNER_TYPES
    if column.name.endswith("_kind"):
        return FUNDING_KINDS
    return TRANSFER_DIRECTIONS


def template_xlsx() -> bytes:
    """The import template as XLSX: sheet "Collaborations" (bold header, one example row, text-formatted
    columns and drop-down lists) and sheet "Help" describing every column and allowed value."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Collaborations"
    sheet.append(list(COLUMN_NAMES))
    sheet.append([EXAMPLE_ROW.get(name) for name in COLUMN_NAMES])
    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        header = sheet.cell(row=1, column=index)
        header.font = bold
        header.fill = header_fill
        sheet.column_dimensions[letter].width = min(max(len(column.name) + 2, 14), 40)
        if column.kind != "integer":
            # Text format keeps Excel from turning '2.10' into 2.1 or '1.2' into a date.
            sheet.column_dimensions[letter].number_format = "@"
            sheet.cell(row=2, column=index).number_format = "@"
    sheet.freeze_panes = "B2"
    for index, column in enumerate(COLUMNS, start=1):
        options = _choices(column)
        if options:
            validation = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True)
            letter = get_column_letter(index)
            validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
            sheet.add_data_validation(validation)

    help_sheet = workbook.create_sheet("Help")
    bold_rows = []
    for row in _help_rows():
        help_sheet.append(list(row))
        if len(row) == 1:
            bold_rows.append(help_sheet.max_row)
    for cell in help_sheet[1]:
        cell.font = bold
    for number in bold_rows:
        help_sheet.cell(row=number, column=1).font = bold
    for letter, width in zip("ABCD", (28, 10, 60, 80), strict=True):
        help_sheet.column_dimensions[letter].width = width
    for row in help_sheet.iter_rows(min_row=2, min_col=3, max_col=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellError:
    """A problem in the file (``row`` None), a row (``column`` None) or one cell.

    ``row`` is the row number a spreadsheet shows (the header is row 1).
    """

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class ImportRow:
    row_number: int
    proposal: dict | None  # None when the row has errors
    errors: list[CellError] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.errors


@dataclass
class ImportResult:
    filename: str
    file_format: str  # "csv", "xlsx" or "" when the format could not be told
    columns: list[str] = field(default_factory=list)
    rows: list[ImportRow] = field(default_factory=list)
    file_errors: list[CellError] = field(default_factory=list)

    @property
    def valid_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.is_valid]

    @property
    def invalid_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if not row.is_valid]

    @property
    def errors(self) -> list[CellError]:
        """File-level problems first, then every cell problem in row order."""
        return [*self.file_errors, *(error for row in self.rows for error in row.errors)]

    @property
    def is_valid(self) -> bool:
        return not self.file_errors and bool(self.rows) and all(row.is_valid for row in self.rows)

    def importable(self, valid_rows_only: bool = False) -> list[dict]:
        """The proposals to import under the all-or-nothing policy.

        By default every proposal if the whole file is valid, otherwise none. With
        ``valid_rows_only=True`` the valid rows of a readable file (no file-level problem);
        a caller offers that only after showing the user which rows would be left out.
        """
        if self.file_errors:
            return []
        if valid_rows_only:
            return [row.proposal for row in self.valid_rows if row.proposal is not None]
        return [row.proposal for row in self.rows if row.proposal is not None] if self.is_valid else []

    def error_rows(self) -> Iterator[tuple[int | str, str, str]]:
        """(row, column, message) per problem, for an error report (``exports.to_csv``)."""
        for error in self.errors:
            yield (error.row if error.row is not None else "", error.column or "", error.message)


# --- reading cells -------------------------------------------------------------------------------


class _CellProblem(ValueError):
    pass


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    elif isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    else:
        text = str(value).strip()
    # Undo the apostrophe our own exports put before formula-like text.
    if text.startswith("'") and needs_neutralising(text[1:]):
        text = text[1:]
    return text


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


def _code(text: str) -> str:
    return re.sub(r"[\s-]+", "_", text.strip().lower())


def _integer(value: object) -> int:
    if isinstance(value, bool):
        raise _CellProblem("must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _CellProblem(f"must be a whole number (got {value!r})")
    text = _as_text(value)
    if not re.fullmatch(r"[+-]?[0-9]{1,9}", text):
        raise _CellProblem(f"must be a whole number without separators (got {text!r})")
    return int(text)


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = _as_text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _CellProblem(f"must be yes or no (got {text!r})")


def _date(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _as_text(value)
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return dt.date.fromisoformat(text).isoformat()
        match = re.fullmatch(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})", text)
        if match:
            day, month, year = map(int, match.groups())
            return dt.date(year, month, day).isoformat()
    except ValueError:
        raise _CellProblem(f"is not a valid date (got {text!r})") from None
    raise _CellProblem(f"must be a date in the form YYYY-MM-DD (got {text!r})")


def _convert(column: Column, value: object) -> object:
    """The contract value of one non-empty cell; raises _CellProblem."""
    kind = column.kind
    if kind == "integer":
        return _integer(value)
    if kind == "boolean":
        return _boolean(value)
    if kind == "date":
        return _date(value)
    if column.name == "research_fields" and isinstance(value, int | float) and not isinstance(value, bool):
        raise _CellProblem(
            f"is a number ({value!r}), not text: format the column as Text and type the codes again "
            "(spreadsheets turn '2.10' into 2.1)"
        )
    text = _as_text(value)
    if kind == "list":
        return _split(text)
    if kind == "code_list":
        return [_code(part) for part in _split(text)]
    if kind == "code":
        return _code(text)
    if kind == "country":
        return text.upper() if len(text) == 2 else text
    return text


# --- rows to proposals ---------------------------------------------------------------------------


_PATH = re.compile(r"^(?P<section>partners|funding|data_transfers)(?:\[(?P<index>\d+)\](?:\.(?P<field>\w+))?)?")
_SECTION_PREFIX = {"partners": "partner", "funding": "funding", "data_transfers": "transfer"}
_SECTION_FIRST_FIELD = {"partners": "name", "funding": "source", "data_transfers": "direction"}
_EXPORT_CONTROL_COLUMNS = {"dual_use_codes": "dual_use_codes", "military_end_use": "military_end_use",
                           "notes": "export_control_notes"}


def column_for_path(path: str, slots: dict[str, list[int]] | None = None) -> str | None:
    """The template column a validation path points at.

    ``partners[1].country`` -> ``partner_2_country``, ``research_fields[0]`` -> ``research_fields``,
    ``export_control.notes`` -> ``export_control_notes``. ``slots`` maps a section to the template
    numbers actually used, for rows that leave a numbered group empty (partner 1 and 3 filled:
    ``partners[1]`` is partner 3).
    """
    if not path:
        return None
    match = _PATH.match(path)
    if match:
        section = match["section"]
        index = int(match["index"]) if match["index"] is not None else 0
        numbers = (slots or {}).get(section)
        number = numbers[index] if numbers and index < len(numbers) else index + 1
        name = f"{_SECTION_PREFIX[section]}_{number}_{match['field'] or _SECTION_FIRST_FIELD[section]}"
        return name if name in _BY_NAME else path
    if path.startswith("export_control"):
        rest = path.removeprefix("export_control").lstrip(".")
        key = re.split(r"[.\[]", rest, maxsplit=1)[0]
        return _EXPORT_CONTROL_COLUMNS.get(key, "dual_use_codes")
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    return head if head in _BY_NAME else path


def _group(values: dict[str, object], prefix: str, number: int, fields: Iterable[str]) -> dict:
    group = {}
    for name in fields:
        key = f"{prefix}_{number}_{name}"
        if key in values:
            group[name] = values[key]
    return group


def _build_proposal(cells: dict[str, object], row_number: int) -> tuple[dict, dict[str, list[int]], list[CellError]]:
    """Contract proposal from one row's non-empty cells, the group numbers used, and cell errors."""
    values: dict[str, object] = {}
    errors: list[CellError] = []
    for name, raw in cells.items():
        try:
            converted = _convert(_BY_NAME[name], raw)
        except _CellProblem as problem:
            errors.append(CellError(row_number, name, str(problem)))
            continue
        if converted not in ("", []):
            values[name] = converted

    proposal: dict = {}
    for name in ("reference", "title", "abstract", "keywords", "research_fields", "technology_areas"):
        if name in values:
            proposal[name] = values[name]
    slots: dict[str, list[int]] = {}
    for section, prefix, count, fields in (
        ("partners", "partner", PARTNER_SLOTS, ("name", "name_local", "country", "type", "department")),
        ("funding", "funding", FUNDING_SLOTS, ("source", "country", "kind", "co_selected_by")),
        ("data_transfers", "transfer", TRANSFER_SLOTS,
         ("direction", "country", "categories", "data_subjects", "description")),
    ):
        items, numbers = [], []
        for number in range(1, count + 1):
            group = _group(values, prefix, number, fields)
            if group:
                items.append(group)
                numbers.append(number)
        if items:
            proposal[section] = items
            slots[section] = numbers
    export_control = {key: values[column] for key, column in _EXPORT_CONTROL_COLUMNS.items() if column in values}
    if export_control:
        proposal["export_control"] = export_control
    for name in ("start_date", "duration_months"):
        if name in values:
            proposal[name] = values[name]
    return proposal, slots, errors


def _check_row(cells: dict[str, object], row_number: int) -> ImportRow:
    proposal, slots, errors = _build_proposal(cells, row_number)
    try:
        validate_proposal(proposal)
    except ProposalError as error:
        unreadable = {e.column for e in errors}  # a cell we could not read gets one message, not two
        seen = set()
        for problem in error.problems:
            column = column_for_path(problem.path, slots)
            reason = problem.reason
            if problem.path == "partners" and "too short" in reason:
                reason = "at least one partner is required"
            if column not in unreadable and (column, reason) not in seen:
                seen.add((column, reason))
                errors.append(CellError(row_number, column, reason))
    errors.sort(key=lambda e: _ORDER.get(e.column or "", -1))
    return ImportRow(row_number, None if errors else proposal, errors)


# --- reading files -------------------------------------------------------------------------------


class _FileProblem(Exception):
    pass


def _normalise_header(text: object) -> str:
    return re.sub(r"[\s-]+", "_", _as_text(text).lower())


def _header(raw: list[object]) -> list[str]:
    names = [_normalise_header(value) for value in raw]
    while names and not names[-1]:
        names.pop()
    unknown = [str(raw[i]).strip() for i, name in enumerate(names) if name and name not in _BY_NAME]
    if unknown:
        raise _FileProblem(
            "unknown column(s): " + ", ".join(repr(u) for u in unknown) + "; use the names from the import template"
        )
    seen, duplicates = set(), []
    for name in names:
        if name and name in seen:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise _FileProblem("column(s) appear more than once: " + ", ".join(sorted(set(duplicates))))
    missing = [name for name in _REQUIRED if name not in seen]
    if missing:
        raise _FileProblem("required column(s) missing: " + ", ".join(missing))
    return names


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rows_to_results(header: list[str], records: Iterable[tuple[int, list[object]]]) -> list[ImportRow]:
    """Validate raw rows (already bounded in number); flags duplicate references."""
    results: list[ImportRow] = []
    references: dict[str, int] = {}
    width = len(header)
    for row_number, raw in records:
        extra = [i for i, value in enumerate(raw) if not _is_blank(value) and (i >= width or not header[i])]
        cells = {header[i]: value for i, value in enumerate(raw[:width]) if header[i] and not _is_blank(value)}
        row = _check_row(cells, row_number)
        if extra:
            letters = ", ".join(get_column_letter(i + 1) for i in extra[:5])
            row.errors.insert(0, CellError(row_number, None, f"values in column(s) without a header: {letters}"))
        reference = _as_text(cells.get("reference"))
        if reference:
            if reference in references:
                row.errors.append(CellError(
                    row_number, "reference", f"{reference!r} is already used in row {references[reference]}"
                ))
            else:
                references[reference] = row_number
        if row.errors:
            row.proposal = None
        results.append(row)
    return results


def _too_many_rows(max_rows: int) -> _FileProblem:
    return _FileProblem(f"the file has more than {max_rows:,} data rows; split it into smaller files")


def _read_csv(data: bytes, max_rows: int) -> tuple[list[str], list[tuple[int, list[object]]]]:
    if data.startswith(_ZIP_MAGIC):
        raise _FileProblem("this is a ZIP or XLSX file, not CSV; upload it with the .xlsx extension")
    if data.startswith(_OLE_MAGIC):
        raise _FileProblem("this is a binary Office file, not CSV; save it as CSV UTF-8 or as .xlsx")
    if b"\x00" in data:
        raise _FileProblem("the file contains NUL bytes (is it UTF-16?); save it as CSV UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _FileProblem(
            f"the file is not valid UTF-8 (first bad byte at offset {error.start}); in Excel choose "
            "'CSV UTF-8 (comma delimited)' when saving"
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[object]]] = []
    try:
        try:
            header = _header(list(next(reader)))
        except StopIteration:
            raise _FileProblem("the file is empty") from None
        for row_number, raw in enumerate(reader, start=2):
            if all(_is_blank(v) for v in raw):
                continue
            if row_number > max_rows + 1:
                raise _too_many_rows(max_rows)
            records.append((row_number, list(raw)))
    except csv.Error as error:
        raise _FileProblem(f"line {reader.line_num}: the CSV cannot be read ({error})") from None
    return header, records


def _check_zip(data: bytes, max_uncompressed: int) -> None:
    if not data.startswith(_ZIP_MAGIC):
        if data.startswith(_OLE_MAGIC):
            raise _FileProblem("this is a legacy .xls (or encrypted) Excel file; save it as .xlsx")
        raise _FileProblem("this is not an XLSX file (not a ZIP archive)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _FileProblem("this is not an XLSX file (damaged ZIP archive)") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise _FileProblem(f"the workbook has too many parts ({len(entries)})")
        total = 0
        for entry in entries:
            total += entry.file_size
            if total > max_uncompressed:
                raise _FileProblem(
                    f"the workbook unpacks to more than {max_uncompressed // (1024 * 1024)} MB; it is too large or "
                    "not a genuine spreadsheet"
                )
        names = {entry.filename for entry in entries}
        if "[Content_Types].xml" not in names:
            raise _FileProblem("this ZIP archive is not an XLSX workbook (no content types)")
        try:
            root = SafeET.fromstring(archive.read("[Content_Types].xml"))
        except Exception:  # any parse failure or forbidden construct: not a workbook we read
            raise _FileProblem("this ZIP archive is not an XLSX workbook (unreadable content types)") from None
    types = {element.get("ContentType") for element in root.iter(f"{_CONTENT_TYPES_NS}Override")}
    if _XLSX_MAIN_TYPE not in types:
        raise _FileProblem("this is not a plain XLSX workbook (macro-enabled, template or other document type)")


def _read_xlsx(data: bytes, max_rows: int, max_uncompressed: int) -> tuple[list[str], list[tuple[int, list[object]]]]:
    _check_zip(data, max_uncompressed)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (styles, extensions); irrelevant for reading values
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
            try:
                names = workbook.sheetnames
                sheet = workbook["Collaborations"] if "Collaborations" in names else workbook.worksheets[0]
                sheet.reset_dimensions()  # the stored dimension may be wrong; read what is there
                header_row = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
                header = _header(list(header_row))
                width = len(header) + 1  # one column past the header, to catch values without a heading
                records: list[tuple[int, list[object]]] = []
                # No max_row: openpyxl would pad up to it. Gaps between rows come back as empty
                # rows, which the fast any() test skips; a spreadsheet has at most 1,048,576 rows.
                rows = sheet.iter_rows(min_row=2, max_col=width, values_only=True)
                for row_number, raw in enumerate(rows, start=2):
                    if not any(raw) or all(_is_blank(v) for v in raw):
                        continue
                    if row_number > max_rows + 1:
                        raise _too_many_rows(max_rows)
                    records.append((row_number, list(raw)))
            finally:
                workbook.close()
    except _FileProblem:
        raise
    except Exception:  # untrusted input: any failure inside openpyxl means we cannot read it
        raise _FileProblem("the workbook could not be read; save it again from your spreadsheet program") from None
    return header, records


def parse_upload(
    filename: str,
    data: bytes,
    *,
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> ImportResult:
    """Read and validate an uploaded ``.csv`` or ``.xlsx`` file; never raises for bad input.

    File-level problems (size, format, encoding, columns, row count) end in
    ``ImportResult.file_errors`` with no rows; otherwise every row is checked and its problems
    are listed by row number (header = row 1) and template column.
    """
    name = filename.strip().lower()
    file_format = "csv" if name.endswith(".csv") else "xlsx" if name.endswith(".xlsx") else ""
    result = ImportResult(filename=filename, file_format=file_format)
    try:
        if len(data) > max_bytes:
            raise _FileProblem(f"the file is larger than {max_bytes / (1024 * 1024):g} MB")
        if not file_format:
            raise _FileProblem("only .csv and .xlsx files can be imported")
        if not data:
            raise _FileProblem("the file is empty")
        if file_format == "csv":
            header, records = _read_csv(data, max_rows)
        else:
            header, records = _read_xlsx(data, max_rows, max_uncompressed_bytes)
    except _FileProblem as problem:
        result.file_errors.append(CellError(None, None, str(problem)))
        return result
    result.columns = [name for name in header if name]
    if not records:
        result.file_errors.append(CellError(None, None, "the file has no data rows"))
        return result
    result.rows = _rows_to_results(header, records)
    return result
