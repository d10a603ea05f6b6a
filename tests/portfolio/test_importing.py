"""Bulk import: template round trips, errors by row and column, the all-or-nothing policy."""

import csv
import datetime as dt
import io
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from rules.taxonomy import FORD_FIELDS, TECHNOLOGY_AREAS
from screening.portfolio import import_columns, import_parsing, import_validation
from screening.portfolio.exports import to_csv
from screening.portfolio.import_columns import (
    COLUMN_NAMES,
    DATA_CATEGORIES,
    PARTNER_TYPES,
    template_csv,
    template_xlsx,
)
from screening.portfolio.import_parsing import parse_upload
from screening.portfolio.import_validation import CellError, column_for_path
from tests.portfolio.helpers import MINIMAL, csv_upload, xlsx_from_dicts, xlsx_upload

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "collaborations_1400.csv"

EXPECTED_EXAMPLE = {
    "reference": "IO-2026-0001",
    "title": "Sediment transport in the Yellow River delta under shifting monsoon patterns",
    "abstract": "Joint field campaigns and numerical modelling of sediment load and delta erosion.",
    "keywords": ["sediment transport", "river delta", "monsoon"],
    "research_fields": ["1.5", "2.7"],
    "partners": [{"name": "Beijing Normal University", "name_local": "北京师范大学", "country": "CN",
                  "type": "university", "department": "Faculty of Geographical Science"}],
    "funding": [{"source": "China Scholarship Council", "country": "CN", "kind": "scholarship",
                 "co_selected_by": ["DAAD"]}],
    "data_transfers": [{"direction": "both", "country": "CN", "categories": ["research_data", "geospatial"],
                        "description": "Gauge records and satellite-derived shoreline positions."}],
    "export_control": {"military_end_use": False},
    "start_date": "2026-10-01",
    "duration_months": 36,
}


def only_error(result) -> CellError:
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


# --- template ------------------------------------------------------------------------------------


def test_csv_template_is_utf8_with_bom_and_parses_back_to_the_example():
    data = template_csv()
    assert data.startswith(b"\xef\xbb\xbf")
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header == list(COLUMN_NAMES)
    result = parse_upload("template.csv", data)
    assert result.is_valid, result.errors
    assert result.importable() == [EXPECTED_EXAMPLE]


def test_xlsx_template_has_a_bold_header_help_sheet_and_parses_back():
    data = template_xlsx()
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Collaborations", "Help"]
    sheet = workbook["Collaborations"]
    assert [c.value for c in sheet[1]] == list(COLUMN_NAMES)
    assert all(c.font.b for c in sheet[1])
    assert sheet["E2"].value == "1.5;2.7" and sheet["E2"].data_type == "s"
    help_text = "\n".join(str(v) for row in workbook["Help"].iter_rows(values_only=True) for v in row if v)
    for value in (*COLUMN_NAMES, *FORD_FIELDS, *TECHNOLOGY_AREAS, *PARTNER_TYPES, *DATA_CATEGORIES):
        assert value in help_text
    result = parse_upload("template.xlsx", data)
    assert result.is_valid, result.errors
    assert result.importable() == [EXPECTED_EXAMPLE]


# --- the 1,400-row portfolio ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_rows() -> list[dict]:
    with FIXTURE.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_portfolio_fixture_is_valid_and_importable_as_a_whole():
    started = time.perf_counter()
    result = parse_upload(FIXTURE.name, FIXTURE.read_bytes())
    elapsed = time.perf_counter() - started
    print(f"parse+validate of {len(result.rows)} rows: {elapsed:.3f} s")
    assert result.is_valid, result.errors[:5]
    assert len(result.importable()) == 1400
    countries = {p["partners"][0]["country"] for p in result.importable()}
    assert {"CN", "RU", "IR", "US", "FR", "JP"} <= countries


def test_one_bad_cell_in_1400_rows_is_named_by_row_and_column_and_blocks_the_import(fixture_rows):
    rows = [dict(r) for r in fixture_rows]
    bad = rows[15]  # spreadsheet row 17: header is row 1, data starts at row 2
    bad["partner_2_name"], bad["partner_2_country"] = "Technische Universität Dresden", "Germany"
    result = parse_upload("portfolio.csv", csv_upload(rows))
    error = only_error(result)
    assert (error.row, error.column) == (17, "partner_2_country")
    assert str(error).startswith("row 17, column partner_2_country: must be an ISO 3166-1 alpha-2 country code")
    assert not result.is_valid
    assert result.importable() == []
    partial = result.importable(valid_rows_only=True)
    assert len(partial) == 1399
    assert bad["reference"] not in {p["reference"] for p in partial}
    assert [r.row_number for r in result.invalid_rows] == [17]


def test_the_fixture_generator_is_deterministic(tmp_path):
    from bench.make_collaborations import main

    out = tmp_path / "again.csv"
    main(["--out", str(out)])
    assert out.read_bytes() == FIXTURE.read_bytes()
    assert len(FIXTURE.read_bytes()) < 1_000_000


# --- errors by row and column --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "column", "fragment"),
    [
        ({"research_fields": "1.3;9.9"}, "research_fields", "must be an OECD FORD code"),
        ({"research_fields": "1.3;1.8"}, "research_fields", "not an OECD FORD field"),
        ({"technology_areas": "lasers"}, "technology_areas", "not a known technology area"),
        ({"title": ""}, "title", "is required"),
        ({"title": "ab"}, "title", "too short"),
        ({"partner_1_country": "XX"}, "partner_1_country", "not an ISO 3166-1 country"),
        ({"partner_1_type": "army"}, "partner_1_type", "is not one of"),
        ({"partner_1_name": "Kyoto\u202eUniversity"}, "partner_1_name", "direction-changing"),
        ({"partner_2_department": "Physics"}, "partner_2_name", "is required"),
        ({"funding_2_kind": "grant"}, "funding_2_source", "is required"),
        ({"funding_1_source": "DFG", "funding_1_kind": "loan"}, "funding_1_kind", "is not one of"),
        ({"transfer_1_direction": "outbound", "transfer_1_country": "CN", "transfer_1_categories": "passwords"},
         "transfer_1_categories", "is not one of"),
        ({"transfer_1_direction": "outbound", "transfer_1_country": "CN"}, "transfer_1_categories", "is required"),
        ({"transfer_1_data_subjects": "many"}, "transfer_1_data_subjects", "whole number"),
        ({"dual_use_codes": "XYZ"}, "dual_use_codes", "EU dual-use control entry"),
        ({"military_end_use": "maybe"}, "military_end_use", "yes or no"),
        ({"start_date": "2026-13-01"}, "start_date", "not a valid date"),
        ({"start_date": "next spring"}, "start_date", "YYYY-MM-DD"),
        ({"duration_months": "0"}, "duration_months", "less than the minimum"),
        ({"duration_months": "1,5"}, "duration_months", "whole number"),
        ({"reference": "R" * 65}, "reference", "too long"),
        ({"abstract": "text\x07bell"}, "abstract", "control characters"),
    ],
)
def test_each_problem_names_its_row_and_template_column(cells, column, fragment):
    row = {**MINIMAL, **cells}
    result = parse_upload("p.csv", csv_upload([MINIMAL, row]))
    assert [r.row_number for r in result.valid_rows] == [2]
    messages = {(e.row, e.column): e.message for e in result.errors}
    assert (3, column) in messages, result.errors
    assert fragment in messages[(3, column)]
    assert result.importable() == []


def test_a_skipped_partner_number_still_points_at_the_right_column():
    row = {**MINIMAL, "partner_3_name": "Université Paris Cité", "partner_3_country": "France"}
    error = only_error(parse_upload("p.csv", csv_upload([row])))
    assert (error.row, error.column) == (2, "partner_3_country")


def test_blank_rows_are_skipped_and_rows_keep_their_spreadsheet_numbers():
    data = csv_upload([MINIMAL, {}, {**MINIMAL, "partner_1_country": "Japan"}])
    result = parse_upload("p.csv", data)
    assert [r.row_number for r in result.rows] == [2, 4]
    assert only_error(result).row == 4


def test_a_quoted_cell_with_line_breaks_counts_as_one_row():
    data = csv_upload([{**MINIMAL, "abstract": "line one\nline two"}, {**MINIMAL, "partner_1_country": "x"}])
    assert only_error(parse_upload("p.csv", data)).row == 3


def test_a_duplicate_reference_is_an_error_on_the_later_row_only():
    rows = [{**MINIMAL, "reference": "A-1"}, {**MINIMAL, "reference": "A-2"}, {**MINIMAL, "reference": "A-1"}]
    error = only_error(parse_upload("p.csv", csv_upload(rows)))
    assert (error.row, error.column) == (4, "reference")
    assert "row 2" in error.message


def test_lenient_reading_of_codes_countries_lists_and_yes_no():
    row = {**MINIMAL, "partner_1_country": " jp ", "partner_1_type": "Research Institute",
           "technology_areas": "AI; Quantum ;", "keywords": " a ;; b ", "military_end_use": "Nein",
           "start_date": "01.10.2026", "transfer_1_direction": "Outbound", "transfer_1_country": "jp",
           "transfer_1_categories": "Research Data;source-code", "transfer_1_data_subjects": "0"}
    result = parse_upload("p.csv", csv_upload([row]))
    assert result.is_valid, result.errors
    proposal = result.importable()[0]
    assert proposal["partners"] == [{"name": "Kyoto University", "country": "JP", "type": "research_institute"}]
    assert proposal["technology_areas"] == ["ai", "quantum"]
    assert proposal["keywords"] == ["a", "b"]
    assert proposal["export_control"] == {"military_end_use": False}
    assert proposal["start_date"] == "2026-10-01"
    assert proposal["data_transfers"][0] == {"direction": "outbound", "country": "JP",
                                             "categories": ["research_data", "source_code"], "data_subjects": 0}


def test_columns_may_be_a_subset_in_any_order_with_friendly_headers():
    header = ["Partner 1 Country", "Title", "partner_1_name", "Research Fields"]
    data = to_csv(header, [["CN", "Soil carbon in alpine grasslands", "Lanzhou University", "1.5"]])
    result = parse_upload("p.csv", data)
    assert result.is_valid, result.errors
    assert result.columns == ["partner_1_country", "title", "partner_1_name", "research_fields"]


def test_semicolon_separated_csv_from_german_excel_is_read():
    text = "title;research_fields;partner_1_name;partner_1_country\r\nSoil carbon;\"1.5;1.6\";Lanzhou University;CN\r\n"
    result = parse_upload("p.csv", text.encode("utf-8"))
    assert result.is_valid, result.errors
    assert result.importable()[0]["research_fields"] == ["1.5", "1.6"]


def test_apostrophes_added_by_our_exports_are_removed_on_import():
    row = {**MINIMAL, "title": "-80 °C storage of biobank samples", "abstract": "=SUM(A1) is not a formula here"}
    result = parse_upload("p.csv", csv_upload([row]))
    assert b"'-80" in csv_upload([row])
    assert result.importable()[0]["title"] == "-80 °C storage of biobank samples"
    assert result.importable()[0]["abstract"] == "=SUM(A1) is not a formula here"


def test_a_csv_row_with_more_values_than_columns_is_an_error():
    text = "title,research_fields,partner_1_name,partner_1_country\r\nSoil carbon,1.5,Lanzhou University,CN,extra\r\n"
    error = only_error(parse_upload("p.csv", text.encode()))
    assert error.row == 2 and error.column is None and "without a header" in error.message


def test_error_rows_feed_an_error_report():
    result = parse_upload("p.csv", csv_upload([{**MINIMAL, "partner_1_country": "Japan"}]))
    report = to_csv(["row", "column", "message"], result.error_rows()).decode("utf-8-sig")
    assert report.splitlines()[1].startswith('2,partner_1_country,"must be an ISO 3166-1 alpha-2')


@pytest.mark.parametrize(
    ("path", "column"),
    [
        ("", None),
        ("title", "title"),
        ("research_fields[0]", "research_fields"),
        ("keywords[12]", "keywords"),
        ("partners", "partner_1_name"),
        ("partners[1].country", "partner_2_country"),
        ("partners[4].name_local", "partner_5_name_local"),
        ("funding[2].co_selected_by[0]", "funding_3_co_selected_by"),
        ("data_transfers[0].categories[3]", "transfer_1_categories"),
        ("data_transfers[1]", "transfer_2_direction"),
        ("export_control.dual_use_codes[1]", "dual_use_codes"),
        ("export_control.military_end_use", "military_end_use"),
        ("export_control.notes", "export_control_notes"),
        ("duration_months", "duration_months"),
    ],
)
def test_validation_paths_map_to_template_columns(path, column):
    assert column_for_path(path) == column


# --- file-level problems -------------------------------------------------------------------------


def file_error(result) -> str:
    assert result.rows == [] and result.importable() == [] and result.importable(valid_rows_only=True) == []
    assert len(result.file_errors) == 1 and result.file_errors[0].row is None
    return result.file_errors[0].message


def test_unknown_columns_are_named():
    data = to_csv([*MINIMAL, "Budget (EUR)", "notes"], [[*MINIMAL.values(), "1000", "x"]])
    message = file_error(parse_upload("p.csv", data))
    assert "'Budget (EUR)'" in message and "'notes'" in message


def test_duplicate_and_missing_required_columns_are_file_errors():
    assert "more than once" in file_error(parse_upload("p.csv", to_csv([*MINIMAL, "title"], [])))
    message = file_error(parse_upload("p.csv", to_csv(["title", "research_fields"], [["Soil", "1.5"]])))
    assert "partner_1_name" in message and "partner_1_country" in message


def test_invalid_utf8_is_rejected_with_a_hint():
    data = csv_upload([{**MINIMAL, "partner_1_name": "Technische Universität München"}])
    latin1 = data.decode("utf-8-sig").encode("latin-1")
    message = file_error(parse_upload("p.csv", latin1))
    assert "not valid UTF-8" in message and "CSV UTF-8" in message


def test_nul_bytes_and_utf16_are_rejected():
    assert "NUL" in file_error(parse_upload("p.csv", csv_upload([MINIMAL]).replace(b"Kyoto", b"Ky\x00to")))
    utf16 = csv_upload([MINIMAL]).decode("utf-8-sig").encode("utf-16")
    assert "UTF-16" in file_error(parse_upload("p.csv", utf16))


def test_empty_file_and_header_only_are_rejected():
    assert "empty" in file_error(parse_upload("p.csv", b""))
    assert "no data rows" in file_error(parse_upload("p.csv", csv_upload([])))
    assert "no data rows" in file_error(parse_upload("p.xlsx", xlsx_upload([])))


def test_oversized_upload_is_rejected_before_reading():
    data = csv_upload([MINIMAL] * 50)
    assert "larger than" in file_error(parse_upload("p.csv", data, max_bytes=len(data) - 1))


def test_too_many_rows_are_rejected_for_csv_and_xlsx():
    rows = [{**MINIMAL, "reference": f"R{i}"} for i in range(11)]
    assert "more than 10 data rows" in file_error(parse_upload("p.csv", csv_upload(rows), max_rows=10))
    assert "more than 10 data rows" in file_error(parse_upload("p.xlsx", xlsx_from_dicts(rows), max_rows=10))
    assert parse_upload("p.csv", csv_upload(rows[:10]), max_rows=10).is_valid


@pytest.mark.parametrize("filename", ["p.txt", "p.xls", "p.json", "p", "p.csv.exe"])
def test_other_extensions_are_rejected(filename):
    assert ".csv and .xlsx" in file_error(parse_upload(filename, csv_upload([MINIMAL])))


def test_content_that_does_not_match_the_extension_is_rejected():
    assert "not a ZIP" in file_error(parse_upload("p.xlsx", csv_upload([MINIMAL])))
    assert "not CSV" in file_error(parse_upload("p.csv", template_xlsx()))
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    assert "legacy .xls" in file_error(parse_upload("p.xlsx", ole))
    assert "binary Office" in file_error(parse_upload("p.csv", ole))


def test_upper_case_extensions_are_fine():
    assert parse_upload("PORTFOLIO.XLSX", template_xlsx()).is_valid
    assert parse_upload("Portfolio.CSV", template_csv()).is_valid


# --- XLSX specifics ------------------------------------------------------------------------------


def test_typed_xlsx_cells_are_accepted():
    values = {**MINIMAL, "duration_months": 36.0, "start_date": dt.datetime(2026, 10, 1),
              "military_end_use": True, "transfer_1_direction": "inbound", "transfer_1_country": "JP",
              "transfer_1_categories": "personal", "transfer_1_data_subjects": 120, "reference": 4711}
    result = parse_upload("p.xlsx", xlsx_from_dicts([values]))
    assert result.is_valid, result.errors
    proposal = result.importable()[0]
    assert proposal["duration_months"] == 36 and proposal["start_date"] == "2026-10-01"
    assert proposal["export_control"] == {"military_end_use": True}
    assert proposal["reference"] == "4711"
    assert proposal["data_transfers"][0]["data_subjects"] == 120


def test_a_research_field_turned_into_a_number_by_excel_is_an_error():
    error = only_error(parse_upload("p.xlsx", xlsx_from_dicts([{**MINIMAL, "research_fields": 2.1}])))
    assert error.column == "research_fields" and "Text" in error.message


def test_fractional_durations_are_errors():
    error = only_error(parse_upload("p.xlsx", xlsx_from_dicts([{**MINIMAL, "duration_months": 12.5}])))
    assert error.column == "duration_months"


def test_xlsx_values_right_of_the_header_are_flagged():
    header = list(MINIMAL)
    data = xlsx_upload([[*MINIMAL.values(), "stray"]], header=header)
    error = only_error(parse_upload("p.xlsx", data))
    assert error.row == 2 and "without a header: E" in error.message


def test_the_collaborations_sheet_is_read_even_if_not_first():
    data = template_xlsx()
    workbook = load_workbook(io.BytesIO(data))
    workbook.move_sheet("Help", offset=-1)
    out = io.BytesIO()
    workbook.save(out)
    assert parse_upload("p.xlsx", out.getvalue()).is_valid


def test_reading_is_fast_enough_for_the_fixture_as_xlsx(fixture_rows):
    data = xlsx_from_dicts(fixture_rows)
    started = time.perf_counter()
    result = parse_upload("portfolio.xlsx", data)
    print(f"xlsx parse+validate of {len(result.rows)} rows: {time.perf_counter() - started:.3f} s")
    assert result.is_valid, result.errors[:3]
    assert result.importable() == parse_upload(FIXTURE.name, FIXTURE.read_bytes()).importable()


def test_importing_module_never_stores_anything():
    for module in (import_columns, import_validation, import_parsing):
        source = Path(module.__file__).read_text(encoding="utf-8")
        for forbidden in ("sqlmodel", "sqlalchemy", "flask", "open(", "write_bytes", "write_text"):
            assert forbidden not in source.lower()
