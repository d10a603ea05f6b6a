"""Untrusted XLSX uploads (scorecard item 19): ZIP bombs, fake archives, XML bombs, lying headers."""

import io
import struct
import time
import tracemalloc
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.portfolio import import_parsing
from screening.portfolio.import_columns import template_xlsx
from screening.portfolio.import_parsing import parse_upload
from tests.portfolio.helpers import MINIMAL, rezip, xlsx_from_dicts

TEMPLATE = template_xlsx()
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'
)


def file_error(result) -> str:
    assert result.rows == [] and result.importable() == []
    assert len(result.file_errors) == 1
    return result.file_errors[0].message


@pytest.fixture
def openpyxl_must_not_run(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl was asked to open a file that should have been rejected before")

    monkeypatch.setattr(import_parsing, "load_workbook", refuse)


def zip_bomb(uncompressed: int) -> bytes:
    """A small, genuine ZIP whose sheet entry inflates to ``uncompressed`` bytes of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as entry:
            chunk = b"\x00" * (1024 * 1024)
            for _ in range(uncompressed // len(chunk)):
                entry.write(chunk)
    return out.getvalue()


def test_a_zip_bomb_is_rejected_from_its_declared_sizes_before_openpyxl_opens_it(openpyxl_must_not_run):
    bomb = zip_bomb(80 * 1024 * 1024)
    assert len(bomb) < 200_000  # small on the wire
    tracemalloc.start()
    started = time.perf_counter()
    message = file_error(parse_upload("bomb.xlsx", bomb))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "unpacks to more than 64 MB" in message
    assert elapsed < 1.0 and peak < 5 * 1024 * 1024


def test_a_declared_size_that_lies_is_caught_while_reading():
    """The central directory says 100 bytes; zipfile stops there and the CRC check fails."""
    data = bytearray(xlsx_from_dicts([MINIMAL]))
    name = b"xl/worksheets/sheet1.xml"
    central = data.find(b"PK\x01\x02")
    patched = 0
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_length]) == name:
            struct.pack_into("<I", data, central + 24, 100)
            patched += 1
        central = data.find(b"PK\x01\x02", central + 4)
    assert patched == 1
    assert "could not be read" in file_error(parse_upload("liar.xlsx", bytes(data)))


def test_a_file_with_many_entries_is_rejected(openpyxl_must_not_run):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        for number in range(import_parsing.MAX_ZIP_ENTRIES + 1):
            archive.writestr(f"xl/media/{number}.bin", b"")
    assert "too many parts" in file_error(parse_upload("many.xlsx", out.getvalue()))


def test_xlsx_that_is_not_a_zip_is_rejected(openpyxl_must_not_run):
    assert "not a ZIP" in file_error(parse_upload("p.xlsx", b"<html><body>hello</body></html>"))
    assert "damaged ZIP" in file_error(parse_upload("p.xlsx", b"PK\x03\x04" + b"\x00" * 100))
    truncated = template_xlsx()[:-200]
    assert "damaged ZIP" in file_error(parse_upload("p.xlsx", truncated))


def test_a_zip_that_is_not_a_workbook_is_rejected(openpyxl_must_not_run):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "not an XLSX workbook" in file_error(parse_upload("p.xlsx", out.getvalue()))


def test_macro_enabled_and_other_office_documents_are_rejected(openpyxl_must_not_run):
    xlsm_types = CONTENT_TYPES.replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    data = rezip(template_xlsx(), replace={"[Content_Types].xml": xlsm_types})
    assert "not a plain XLSX" in file_error(parse_upload("p.xlsx", data))


def test_an_entity_bomb_in_the_content_types_is_refused(openpyxl_must_not_run):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Types>&c;</Types>'
    )
    data = rezip(template_xlsx(), replace={"[Content_Types].xml": bomb})
    assert "unreadable content types" in file_error(parse_upload("p.xlsx", data))


def test_an_entity_bomb_in_a_worksheet_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&c;</t></is></c></row></sheetData></worksheet>'
    )
    data = rezip(template_xlsx(), replace={"xl/worksheets/sheet1.xml": bomb})
    assert "could not be read" in file_error(parse_upload("p.xlsx", data))


def test_a_sheet_with_a_cell_far_below_the_data_is_cut_off_early():
    """Row 1,000,000 filled: reading stops after max_rows + 1 rows instead of walking a million."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(xlsx_from_dicts([MINIMAL])))
    workbook.active.cell(row=1_000_000, column=1, value="far away")
    out = io.BytesIO()
    workbook.save(out)
    started = time.perf_counter()
    message = file_error(parse_upload("p.xlsx", out.getvalue(), max_rows=1000))
    assert "more than 1,000 data rows" in message
    assert time.perf_counter() - started < 10.0  # about 0.5 s here; a bound, not a benchmark


def test_a_very_wide_header_row_is_read_without_trouble():
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(xlsx_from_dicts([MINIMAL])))
    workbook.active.cell(row=1, column=16384, value="zz_unknown")
    out = io.BytesIO()
    workbook.save(out)
    assert "'zz_unknown'" in file_error(parse_upload("p.xlsx", out.getvalue()))


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=3000), extension=st.sampled_from([".csv", ".xlsx"]))
def test_arbitrary_bytes_never_raise(data, extension):
    result = parse_upload("upload" + extension, data)
    assert result.file_errors or result.rows


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_arbitrary_csv_text_after_a_valid_header_never_raises(text):
    header = ",".join(MINIMAL) + "\r\n"
    result = parse_upload("upload.csv", (header + text).encode("utf-8"))
    for error in result.errors:
        assert error.message
    assert result.is_valid == (not result.errors and bool(result.rows))


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=200), position=st.integers(min_value=0, max_value=5000))
def test_a_damaged_workbook_never_raises(data, position):
    workbook = bytearray(TEMPLATE)
    position = position % len(workbook)
    workbook[position : position + len(data)] = data
    result = parse_upload("damaged.xlsx", bytes(workbook))
    assert result.file_errors or result.rows
