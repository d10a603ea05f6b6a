"""One spreadsheet row to one checked proposal: cells converted, grouped into the contract's
shape, validated with ``rules.validation.validate_proposal``, every problem named by row and
template column ("row 17, column partner_2_country: ...")."""

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rules.validation import ProposalError, validate_proposal
from screening.portfolio.exports import needs_neutralising
from screening.portfolio.import_columns import (
    BY_NAME,
    FUNDING_SLOTS,
    LIST_SEPARATOR,
    ORDER,
    PARTNER_SLOTS,
    TRANSFER_SLOTS,
    Column,
)

_TRUE = frozenset({"yes", "y", "ja", "j", "true", "wahr", "1", "x"})
_FALSE = frozenset({"no", "n", "nein", "false", "falsch", "0"})


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


class _CellProblem(ValueError):
    pass


def as_text(value: object) -> str:
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
    text = as_text(value)
    if not re.fullmatch(r"[+-]?[0-9]{1,9}", text):
        raise _CellProblem(f"must be a whole number without separators (got {text!r})")
    return int(text)


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = as_text(value).lower()
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
    text = as_text(value)
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
    text = as_text(value)
    if kind == "list":
        return _split(text)
    if kind == "code_list":
        return [_code(part) for part in _split(text)]
    if kind == "code":
        return _code(text)
    if kind == "country":
        return text.upper() if len(text) == 2 else text
    return text


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
        return name if name in BY_NAME else path
    if path.startswith("export_control"):
        rest = path.removeprefix("export_control").lstrip(".")
        key = re.split(r"[.\[]", rest, maxsplit=1)[0]
        return _EXPORT_CONTROL_COLUMNS.get(key, "dual_use_codes")
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    return head if head in BY_NAME else path


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
            converted = _convert(BY_NAME[name], raw)
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


def check_row(cells: dict[str, object], row_number: int) -> ImportRow:
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
    errors.sort(key=lambda e: ORDER.get(e.column or "", -1))
    return ImportRow(row_number, None if errors else proposal, errors)
