"""Building upload files for the import tests."""

import io
import zipfile

from openpyxl import Workbook

from screening.portfolio.exports import to_csv
from screening.portfolio.import_columns import COLUMN_NAMES

MINIMAL = {"title": "Quantum sensing of magnetic fields", "research_fields": "1.3",
           "partner_1_name": "Kyoto University", "partner_1_country": "JP"}


def csv_upload(rows: list[dict], columns=COLUMN_NAMES) -> bytes:
    return to_csv(columns, [[row.get(name, "") for name in columns] for row in rows])


def xlsx_upload(rows: list[list], header=COLUMN_NAMES) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_from_dicts(rows: list[dict]) -> bytes:
    return xlsx_upload([[row.get(name) for name in COLUMN_NAMES] for row in rows])


def rezip(data: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """A copy of the ZIP archive ``data`` with some entries replaced or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = (replace or {}).get(info.filename, source.read(info.filename))
            target.writestr(info.filename, body)
        for name, body in (add or {}).items():
            target.writestr(name, body)
    return out.getvalue()
