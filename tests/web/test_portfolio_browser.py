"""Browser test of the international office's portfolio (issue done-when).

An international-office user logs in through the form, filters the portfolio (partner country CN,
tier high) through the filter form, exports the filtered view as XLSX (the rows match the filter;
no formula and no hyperlink cells), then asks for the dashboard's PDF report, waits until it is
ready and downloads it. Screenshots go to tests/output/portfolio-*.png.
"""

import io
import re
import uuid
from pathlib import Path

import pytest

from screening import create_app
from screening.accounts import service as accounts
from screening.core import migrations
from screening.core.extensions import db

from .browser import OUTPUT, chromium, log_in, serving

pytestmark = [pytest.mark.browser, pytest.mark.no_isolation]

PASSWORD = "browser-password-1"
OFFICE_EMAIL = "office@browser.example"


def _partner(name: str, country: str, kind: str = "university") -> dict:
    return {"name": name, "country": country, "type": kind}


FUDAN = _partner("Fudan University", "CN")
# (title, partners, research fields, technology areas, expected tier)
SEED = [
    ("Quadruped locomotion with Fudan", [FUDAN], ["2.2"], ["robotics"], "high"),
    # A formula-like title: the export must neutralise it (no formula or hyperlink cell).
    ('=HYPERLINK("http://evil.example","click")', [FUDAN], ["2.2"], ["robotics"], "high"),
    ("Arctic field robots", [_partner("University of Oslo", "NO"), FUDAN], ["2.2"], ["robotics"], "high"),
    ("Legged robots with HIT", [_partner("Harbin Institute of Technology", "CN")], ["2.2"], [], "critical"),
    ("Classical Chinese manuscripts", [FUDAN], ["6.1"], [], "medium"),
    ("Lake sediment cores", [_partner("Tsinghua University", "CN")], ["1.5"], [], "low"),
    ("Permafrost mapping", [_partner("Moscow State University", "RU")], ["1.5"], [], "high"),
    ("Fjord sediments", [_partner("University of Oslo", "NO")], ["1.5"], [], "low"),
]
EXPECTED = {title for title, partners, _f, _t, tier in SEED
            if tier == "high" and any(p["country"] == "CN" for p in partners)}


@pytest.fixture
def live_portfolio(tmp_path):
    from screening.core.engine import get_screener
    from screening.proposals import service as proposals

    app = create_app({"TESTING": True, "SECRET_KEY": "p" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'portfolio-browser.db'}",
                      "DOCUMENT_STORE_DIR": str(tmp_path / "documents"),
                      "PORTFOLIO_REPORT_DIR": str(tmp_path / "reports")})
    migrations.upgrade(app)
    with app.app_context():
        inst = accounts.create_institution(db.session, None, "browser-portfolio", "Browser University")
        other = accounts.create_institution(db.session, None, "browser-other", "Other University")
        researcher = accounts.create_user(db.session, None, inst, "r@browser.example", "Rita Researcher",
                                          PASSWORD, ["researcher"])
        outsider = accounts.create_user(db.session, None, other, "r@other.example", "Otto Other",
                                        PASSWORD, ["researcher"])
        accounts.create_user(db.session, None, inst, OFFICE_EMAIL, "Ingrid Office", PASSWORD,
                             ["international_office"])
        db.session.commit()
        screener = get_screener()

        def screened(user, institution_id, title, partners, fields, tech):
            actor = accounts.Actor(user, institution_id, frozenset({"researcher"}))
            data = {"title": title, "abstract": "Joint work with the partners named.", "research_fields": fields,
                    "partners": partners, "duration_months": 12}
            if tech:
                data["technology_areas"] = tech
            draft = proposals.save_draft(db.session, actor, data, creation_token=uuid.uuid4().hex)
            proposals.submit(db.session, actor, draft, uuid.uuid4().hex, screener)
            db.session.commit()
            return draft

        tiers = {title: screened(researcher, inst.id, title, partners, fields, tech).tier
                 for title, partners, fields, tech, _tier in SEED}
        assert tiers == {title: tier for title, _p, _f, _t, tier in SEED}
        # Another institution's CN/high collaboration must not show up.
        assert screened(outsider, other.id, "Secret project of Other", [FUDAN], ["2.2"], ["robotics"]).tier == "high"
    with serving(app) as base:
        yield base


def _listed_titles(page) -> set[str]:
    rows = page.locator("#portfolio-table tbody tr")
    return {rows.nth(i).locator("td").first.inner_text().strip() for i in range(rows.count())}


def test_office_filters_portfolio_exports_xlsx_and_downloads_pdf_report(live_portfolio):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    base = live_portfolio
    shots = []
    with chromium() as browser:
        page = browser.new_context(accept_downloads=True).new_page()
        page.set_default_timeout(20000)
        log_in(page, base, OFFICE_EMAIL, PASSWORD)

        # The whole portfolio of the institution, nothing of the other one.
        page.goto(f"{base}/portfolio/")
        assert _listed_titles(page) == {title for title, *_rest in SEED}
        shots.append(("portfolio-all", page.screenshot(full_page=True)))

        # Filter through the form: partner country CN, tier high.
        page.locator("#f-country").select_option("CN")
        page.locator("#f-tier").select_option("high")
        page.locator("#apply-filters").click()
        page.wait_for_url(re.compile(r".*/portfolio/\?.*country=CN.*"))
        assert "tier=high" in page.url
        assert _listed_titles(page) == EXPECTED
        for i in range(page.locator("#portfolio-table tbody tr").count()):
            row = page.locator("#portfolio-table tbody tr").nth(i)
            assert "(CN)" in row.locator("td").nth(1).inner_text()
            assert row.locator("td").nth(2).inner_text().strip() == "High"
        assert f"{len(EXPECTED)} collaborations" in page.locator("main").inner_text()
        saved = page.locator("#saved-link").get_attribute("href")
        assert "country=CN" in saved and "tier=high" in saved
        shots.append(("portfolio-filtered", page.screenshot(full_page=True)))

        # Export the filtered view as XLSX.
        with page.expect_download() as info:
            page.locator("#export-xlsx").click()
        download = info.value
        assert re.fullmatch(r"portfolio-\d{8}-\d{4}\.xlsx", download.suggested_filename)
        sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
        rows = list(sheet.iter_rows(values_only=True))
        header = rows[0]
        assert header[:4] == ("id", "title", "status", "tier")
        records = [dict(zip(header, r, strict=True)) for r in rows[1:]]
        titles = {r["title"] for r in records}
        # The formula-like title comes back as text, prefixed with an apostrophe.
        assert titles == {("'" + t if t.startswith("=") else t) for t in EXPECTED}
        assert all(r["tier"] == "high" for r in records)
        assert all("CN" in r["partner_countries"].split("; ") for r in records)
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                assert cell.hyperlink is None, (cell.coordinate, cell.hyperlink)

        # The dashboard's PDF report, rendered through the outbox.
        page.get_by_role("link", name="Dashboard").first.click()
        page.wait_for_url("**/portfolio/dashboard")
        assert page.locator("#chart-country svg").count() == 1
        shots.append(("portfolio-dashboard", page.screenshot(full_page=True)))
        page.locator("#pdf-report").click()
        page.wait_for_url(re.compile(r".*/portfolio/reports/\d+$"))
        for _attempt in range(30):
            if page.locator("#report-download").count():
                break
            assert "could not be made" not in page.locator("main").inner_text()
            page.wait_for_timeout(500)
            page.reload()
        assert page.locator("#report-download").count() == 1, page.locator("main").inner_text()
        shots.append(("portfolio-report-ready", page.screenshot(full_page=True)))
        with page.expect_download() as info:
            page.locator("#report-download").click()
        download = info.value
        assert re.fullmatch(r"portfolio-report-\d+\.pdf", download.suggested_filename)
        pdf = Path(download.path()).read_bytes()
        assert pdf.startswith(b"%PDF")
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) >= 1
        text = "".join(p.extract_text() or "" for p in reader.pages)
        # The institution's own figures (the other institution's proposal is not counted).
        assert "Browser University" in text, text[:500]
        assert f"Proposals (without drafts): {len(SEED)}" in text, text[:500]
    for name, png in shots:
        (OUTPUT / f"{name}.png").write_bytes(png)
