"""The bulk-import template: its columns (the single source of docs/portfolio.md's table),
the CSV and XLSX templates with an example row, and the XLSX help sheet."""

import io
from collections.abc import Iterator
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from rules.taxonomy import FORD_FIELDS, TECHNOLOGY_AREAS
from rules.validation import PROPOSAL_SCHEMA
from screening.portfolio.exports import to_csv

MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024
PARTNER_SLOTS = 5
FUNDING_SLOTS = 3
TRANSFER_SLOTS = 3
LIST_SEPARATOR = ";"


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
BY_NAME = {c.name: c for c in COLUMNS}
ORDER = {name: index for index, name in enumerate(COLUMN_NAMES)}
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
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
