"""Reading an uploaded CSV or XLSX file into checked proposals: ``parse_upload``.

``parse_upload`` turns an uploaded CSV or XLSX file into contract proposals
(``rules/data/schema/proposal.schema.json``), each row checked by
:mod:`screening.portfolio.import_validation` and every problem reported by spreadsheet row and
template column.

Policy: this module only reads and checks; it stores nothing (storing and screening:
:mod:`screening.portfolio.import_jobs`). A file is imported all or nothing:
``ImportResult.importable()`` returns the proposals only when the whole file is valid. The caller
may offer the user to import just the valid rows, and must then ask for
``importable(valid_rows_only=True)`` explicitly.

Uploads are untrusted. The checks, cheapest first: size, extension, content signature, UTF-8
and NUL bytes (CSV); for XLSX a real ZIP archive with the spreadsheet content type, a bounded
number of entries and bounded declared uncompressed sizes, all before openpyxl opens it
(read-only, cached values only, no external links; openpyxl parses with defusedxml). Reading
stops after ``max_rows`` data rows.
"""

import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterable

import defusedxml.ElementTree as SafeET
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from screening.portfolio.import_columns import BY_NAME, MAX_BYTES, MAX_ROWS, REQUIRED
from screening.portfolio.import_validation import CellError, ImportResult, ImportRow, as_text, check_row

MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024
MAX_ZIP_ENTRIES = 1_000
_XLSX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls and other Office binary files


class _FileProblem(Exception):
    pass


def _normalise_header(text: object) -> str:
    return re.sub(r"[\s-]+", "_", as_text(text).lower())


def _header(raw: list[object]) -> list[str]:
    names = [_normalise_header(value) for value in raw]
    while names and not names[-1]:
        names.pop()
    unknown = [str(raw[i]).strip() for i, name in enumerate(names) if name and name not in BY_NAME]
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
    missing = [name for name in REQUIRED if name not in seen]
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
        row = check_row(cells, row_number)
        if extra:
            letters = ", ".join(get_column_letter(i + 1) for i in extra[:5])
            row.errors.insert(0, CellError(row_number, None, f"values in column(s) without a header: {letters}"))
        reference = as_text(cells.get("reference"))
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
