"""CSV and XLSX exports that a spreadsheet program opens without running anything.

A text value that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, a leading
tab, carriage return, line feed or NUL, an array formula ``{=…}``, also after leading spaces and
in their full-width forms) is written with a leading apostrophe. In XLSX every text cell is
additionally written as an explicit string cell, so no formula, error or hyperlink cell can
appear whatever the text says. Numbers, booleans and dates stay typed.

Both writers take rows as any iterable (a generator is fine); ``iter_csv`` yields the CSV in
chunks for streaming responses.
"""

import csv
import datetime as dt
import decimal
import enum
import io
import math
import re
from collections.abc import Iterable, Iterator, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

__all__ = ["iter_csv", "needs_neutralising", "neutralise", "safe_sheet_title", "to_csv", "to_xlsx"]

BOM = "\ufeff"

# Characters a spreadsheet treats as the start of a formula (or, for the control characters,
# that hide one behind an apparently empty start). Full-width forms are included because some
# East Asian spreadsheet configurations normalise them.
_FORMULA_STARTS = ("=", "+", "-", "@", "{=", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_CONTROL_STARTS = ("\t", "\r", "\n", "\0")
_LEADING_BLANKS = " \t\r\n\0\u00a0\u3000"
# Characters that XML 1.0 cannot carry; openpyxl refuses them, so they are replaced.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_TITLE_ILLEGAL = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
# Excel keeps 15 significant digits; larger integers are written as text so they survive.
_MAX_EXACT_INT = 10**15


def needs_neutralising(text: str) -> bool:
    """True if a spreadsheet could take ``text`` for a formula (or a hidden one)."""
    if text.startswith(_CONTROL_STARTS):
        return True
    return text.lstrip(_LEADING_BLANKS).startswith(_FORMULA_STARTS)


def neutralise(text: str) -> str:
    """``text`` with a leading apostrophe if a spreadsheet could take it for a formula."""
    return "'" + text if needs_neutralising(text) else text


def safe_sheet_title(title: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = _SHEET_TITLE_ILLEGAL.sub(" ", title).strip().strip("'") or "Sheet"
    return cleaned[:31]


# --- CSV -----------------------------------------------------------------------------------------


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
        return str(value)  # typed numbers are data, not formulas, even when negative
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return neutralise(str(value)).replace("\0", "\ufffd")  # NUL breaks most CSV readers


def iter_csv(columns: Sequence[str], rows: Iterable[Sequence]) -> Iterator[bytes]:
    """The CSV as UTF-8 chunks (the first starts with a byte-order mark so Excel reads UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([_csv_text(str(c)) for c in columns])
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_text(v) for v in row])
        if count % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def to_csv(columns: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """The whole CSV as bytes: UTF-8 with a byte-order mark, CRLF line ends, formulas neutralised."""
    return b"".join(iter_csv(columns, rows))


# --- XLSX ----------------------------------------------------------------------------------------

_DATE_FORMAT = "yyyy-mm-dd"
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def _text_cell(sheet, text: str, *, bold: bool = False) -> Cell:
    text = _XML_ILLEGAL.sub("\ufffd", neutralise(text))
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # never a formula ('f') or error ('e') cell, whatever the text
    if bold:
        cell.font = Font(bold=True)
    return cell


def _xlsx_cell(sheet, value: object) -> Cell | None:
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return WriteOnlyCell(sheet, value=value)
    if isinstance(value, int):
        if abs(value) >= _MAX_EXACT_INT:
            return _text_cell(sheet, str(value))
        return WriteOnlyCell(sheet, value=value)
    if isinstance(value, float | decimal.Decimal):
        if not math.isfinite(value):
            return _text_cell(sheet, str(value))
        return WriteOnlyCell(sheet, value=value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:  # Excel has no time zones: write UTC
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = _DATETIME_FORMAT
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = _DATE_FORMAT
        return cell
    if isinstance(value, dt.time):
        return _text_cell(sheet, value.isoformat())
    return _text_cell(sheet, str(value))


def to_xlsx(
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    sheet_title: str = "Export",
    column_widths: Sequence[float] | None = None,
) -> bytes:
    """An XLSX workbook with one sheet: a bold header row, then ``rows``.

    Written in openpyxl's write-only mode, so rows are streamed rather than held as cell objects.
    Timezone-aware datetimes are converted to UTC (Excel has no time zones).
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(safe_sheet_title(sheet_title))
    widths = column_widths or [min(max(len(str(c)) + 2, 10), 60) for c in columns]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_text_cell(sheet, str(c), bold=True) for c in columns])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
