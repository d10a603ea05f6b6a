"""Exports (scorecard item 8): formula-like text is neutralised in CSV; XLSX has no formula or link cells."""

import csv
import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from screening.portfolio.exports import iter_csv, needs_neutralising, neutralise, safe_sheet_title, to_csv, to_xlsx

DANGEROUS = [
    '=HYPERLINK("http://evil","x")',
    "=1+1",
    "+49 30 1234",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "\0=1+1",
    "{=A1:A2*2}",
    "   =1+1",
    "\u00a0=1+1",
    "\uff1d1+1",  # full-width equals sign
    "=",
    "-",
]
HARMLESS = ["Tsinghua University", "a=b", "1+1", "", "3.5 mm", "email me@example.org", "{not a formula}", "'quoted"]


def csv_cells(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("text", DANGEROUS)
def test_csv_prefixes_formula_like_text_with_an_apostrophe(text):
    rows = csv_cells(to_csv(["value"], [[text]]))
    assert rows[1] == ["'" + text.replace("\0", "\ufffd")]  # NUL itself is replaced: it breaks CSV readers


@pytest.mark.parametrize("text", HARMLESS)
def test_csv_leaves_ordinary_text_alone(text):
    assert csv_cells(to_csv(["value"], [[text]]))[1] == [text]


def test_csv_header_is_neutralised_too_and_lines_end_in_crlf():
    data = to_csv(["=cmd", "name"], [["x", "y"]])
    assert data.decode("utf-8-sig").split("\r\n")[0] == "'=cmd,name"


def test_csv_keeps_typed_values_readable():
    when = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    row = [-5, 2.5, Decimal("1.10"), None, True, False, dt.date(2026, 1, 2), when]
    assert csv_cells(to_csv(list("abcdefgh"), [row]))[1] == [
        "-5", "2.5", "1.10", "", "yes", "no", "2026-01-02", "2026-01-02T03:04:00+00:00",
    ]


def test_csv_streams_a_generator_in_chunks():
    rows = ([i, f"name {i}", "=x"] for i in range(2_000))
    chunks = list(iter_csv(["n", "name", "f"], rows))
    assert len(chunks) > 2
    data = b"".join(chunks)
    assert data.count(b"\r\n") == 2_001 and data.count(b"'=x") == 2_000
    assert data.count(b"\xef\xbb\xbf") == 1


@given(st.text(max_size=30))
def test_no_csv_cell_can_start_a_formula(text):
    cell = csv_cells(to_csv(["v"], [[text]]))[1][0] if text else ""
    if needs_neutralising(text):
        assert cell.startswith("'")
    else:
        assert not cell.lstrip(" \t\r\n\0\u00a0\u3000").startswith(("=", "+", "-", "@", "{="))


def load(data: bytes):
    return load_workbook(io.BytesIO(data))


def all_cells(sheet):
    return [cell for row in sheet.iter_rows() for cell in row]


def test_xlsx_has_no_formula_or_hyperlink_cells_and_keeps_the_text():
    data = to_xlsx(["value"], ([text] for text in [*DANGEROUS, *HARMLESS, "#N/A", "#DIV/0!"]), sheet_title="Test")
    sheet = load(data)["Test"]
    cells = all_cells(sheet)
    assert all(cell.data_type != "f" for cell in cells)
    assert all(cell.hyperlink is None for cell in cells)
    values = [cell.value for cell in cells[1:]]
    assert values[0] == '\'=HYPERLINK("http://evil","x")'
    assert values[0].startswith("'")
    for text, value in zip(DANGEROUS, values, strict=False):
        assert value.startswith("'"), (text, value)
    assert sheet.cell(row=len(DANGEROUS) + 2, column=1).value == "Tsinghua University"
    error_like = [cell for cell in cells if cell.value in ("#N/A", "#DIV/0!")]
    assert len(error_like) == 2 and all(cell.data_type == "s" for cell in error_like)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml and "<hyperlink" not in sheet_xml


def test_xlsx_control_characters_are_replaced_not_fatal():
    sheet = load(to_xlsx(["v"], [["\0=1+1"], ["bell\x07"]], sheet_title="S"))["S"]
    assert sheet["A2"].value == "'\ufffd=1+1"
    assert sheet["A3"].value == "bell\ufffd"


def test_xlsx_keeps_numbers_booleans_and_dates_typed():
    aware = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    row = [-5, 2.5, True, dt.date(2026, 1, 2), aware, None, 10**16, float("nan"), Decimal("3.25")]
    sheet = load(to_xlsx(list("abcdefghi"), [row], sheet_title="T"))["T"]
    cells = [sheet.cell(row=2, column=i).value for i in range(1, 10)]
    assert cells[0] == -5 and sheet["A2"].data_type == "n"
    assert cells[1] == 2.5
    assert cells[2] is True and sheet["C2"].data_type == "b"
    assert cells[3] == dt.datetime(2026, 1, 2)
    assert cells[4] == dt.datetime(2026, 3, 1, 11, 0)  # UTC, since Excel has no time zones
    assert cells[5] is None
    assert cells[6] == str(10**16)  # too long for Excel's 15 digits: kept exact as text
    assert cells[7] == "nan"
    assert cells[8] == 3.25


def test_xlsx_header_is_bold_frozen_and_streamed_rows_are_all_there():
    rows = ([i, f"partner {i}"] for i in range(5_000))
    workbook = load(to_xlsx(["n", "partner"], rows, sheet_title="Partners"))
    sheet = workbook["Partners"]
    assert sheet["A1"].font.b and sheet["B1"].value == "partner"
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row == 5_001 and sheet["B5001"].value == "partner 4999"


@pytest.mark.parametrize(
    ("title", "expected"),
    [("Partners", "Partners"), ("Tier: by/country?", "Tier  by country"), ("", "Sheet"), ("x" * 40, "x" * 31),
     ("'quoted'", "quoted")],
)
def test_sheet_titles_are_made_acceptable_to_excel(title, expected):
    assert safe_sheet_title(title) == expected
    assert re.fullmatch(r"[^\[\]:*?/\\]{1,31}", safe_sheet_title(title))


def test_neutralise_is_idempotent_in_effect():
    assert neutralise("=x") == "'=x"
    assert not needs_neutralising(neutralise("=x"))
