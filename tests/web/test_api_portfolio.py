"""The portfolio in the JSON API: tenancy, roles, filters, keyset pages, aggregates, exports."""

import csv
import io

import pytest
from openpyxl import load_workbook

from screening.api import tokens
from screening.core.extensions import db

HIT = {"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}
OSLO = {"name": "University of Oslo", "country": "NO", "type": "university"}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(factory):
    a, b = factory.institution(), factory.institution()
    researcher_a, researcher_b = factory.user(a, "researcher"), factory.user(b, "researcher")
    users = {"office_a": factory.user(a, "international_office"), "admin_a": factory.user(a, "institution_admin"),
             "office_b": factory.user(b, "international_office"), "researcher_a": researcher_a,
             "chair_a": factory.user(a, "committee_chair"), "advisor_a": factory.user(a, "external_advisor")}
    toks = {}
    for name, user in users.items():
        inst = b if name.endswith("_b") else a
        _, toks[name] = tokens.create(db.session, factory.actor(user, inst), name, "read", 30)
    listed = factory.proposal(researcher_a, a, submit=True, title="Legged robots with HIT", partners=[HIT],
                              research_fields=["2.2"])
    plain = factory.proposal(researcher_a, a, submit=True, title="Fjord sediments", partners=[OSLO])
    draft = factory.proposal(researcher_a, a, title="Unsubmitted draft")
    secret = factory.proposal(researcher_b, b, submit=True, title="Secret project of B", partners=[HIT])
    db.session.commit()
    return {"tokens": toks, "listed": listed, "plain": plain, "draft": draft, "secret": secret, "a": a, "b": b,
            "researcher_a": researcher_a}


def get(client, world, who, url):
    return client.get(url, headers=bearer(world["tokens"][who]))


def titles(r):
    assert r.status_code == 200, r.get_data(as_text=True)
    return sorted(item["title"] for item in r.get_json()["items"])


def test_office_and_admin_see_their_own_institution_only(client, world):
    for who in ("office_a", "admin_a"):
        assert titles(get(client, world, who, "/api/v1/portfolio")) == ["Fjord sediments", "Legged robots with HIT"]
    assert titles(get(client, world, "office_b", "/api/v1/portfolio")) == ["Secret project of B"]
    assert titles(get(client, world, "office_b", "/api/v1/portfolio?q=Legged")) == []
    csv_b = get(client, world, "office_b", "/api/v1/portfolio/export?format=csv").get_data(as_text=True)
    assert "Secret project of B" in csv_b and "Legged robots" not in csv_b and "Fjord" not in csv_b
    agg_b = get(client, world, "office_b", "/api/v1/portfolio/aggregates").get_json()
    assert agg_b["total"] == 1


@pytest.mark.parametrize("who", ["researcher_a", "chair_a", "advisor_a"])
def test_other_roles_are_refused(client, world, who):
    for url in ("/api/v1/portfolio", "/api/v1/portfolio/aggregates", "/api/v1/portfolio/export?format=xlsx"):
        r = get(client, world, who, url)
        assert r.status_code == 403 and r.mimetype == "application/problem+json", (who, url)
    assert client.get("/api/v1/portfolio").status_code == 401


def test_filters_match_the_page(client, world):
    def t(query):
        return titles(get(client, world, "office_a", f"/api/v1/portfolio?{query}"))

    assert t("country=CN&tier=critical") == ["Legged robots with HIT"]
    assert t("listed=true") == ["Legged robots with HIT"]
    assert t("listed=false") == ["Fjord sediments", "Legged robots with HIT"]
    assert t("q=fjord") == ["Fjord sediments"]
    assert t("field=2") == ["Legged robots with HIT"]
    assert t("category=partner") == ["Legged robots with HIT"]
    assert t("tier=low&tier=critical") == ["Fjord sediments", "Legged robots with HIT"]
    assert t("date_from=2000-01-01&date_to=2199-12-31&sort=title") == ["Fjord sediments", "Legged robots with HIT"]
    item = next(i for i in get(client, world, "office_a", "/api/v1/portfolio?listed=true").get_json()["items"])
    assert item["partners"] == [{"name": HIT["name"], "country": "CN", "listed_entry": item["partners"][0]
                                 ["listed_entry"]}] and item["partners"][0]["listed_entry"]
    assert any(c["category"] == "partner" for c in item["flag_categories"])


@pytest.mark.parametrize("query", [
    "tier=extreme", "country=cn", "country=XX", "status=draft", "date_from=2026-13-01", "date_from=20260101",
    "field=2.", "committee=0", "committee=abc", "listed=yes", "sort=random", "limit=0", "limit=101",
    "cursor=forged", "q=" + "x" * 201, "category=made_up", "q=a&q=b", "unknown=1",
])
def test_bad_parameters_are_400_problems(client, world, query):
    r = get(client, world, "office_a", f"/api/v1/portfolio?{query}")
    assert r.status_code == 400 and r.mimetype == "application/problem+json", (query, r.get_data(as_text=True))
    assert r.get_json()["errors"]


def test_keyset_pages_walk_every_row_once_in_every_sort(client, factory, world):
    for n in range(7):
        factory.proposal(world["researcher_a"], world["a"], submit=True, title=f"Extra {n}", partners=[OSLO])
    db.session.commit()
    for sort in ("newest", "oldest", "title", "tier", "status", "updated"):
        seen, url = [], f"/api/v1/portfolio?sort={sort}&limit=2"
        while True:
            body = get(client, world, "office_a", url).get_json()
            assert body["total"] == 9
            seen += [i["id"] for i in body["items"]]
            if body["next_cursor"] is None:
                break
            url = f"/api/v1/portfolio?sort={sort}&limit=2&cursor={body['next_cursor']}"
        assert len(seen) == len(set(seen)) == 9, sort
        whole = [i["id"] for i in get(client, world, "office_a", f"/api/v1/portfolio?sort={sort}").get_json()["items"]]
        assert seen == whole, sort
    # A cursor belongs to its sort order.
    first = get(client, world, "office_a", "/api/v1/portfolio?sort=title&limit=2").get_json()
    r = get(client, world, "office_a", f"/api/v1/portfolio?sort=newest&cursor={first['next_cursor']}")
    assert r.status_code == 400


def test_aggregates_and_suppression(client, world):
    body = get(client, world, "office_a", "/api/v1/portfolio/aggregates").get_json()
    assert body["total"] == 2 and body["suppressed"] is False
    assert {t["tier"]: t["count"] for t in body["by_tier"]}["critical"] == 1
    assert {c["country"] for c in body["by_country"]} == {"CN", "NO"}
    assert body["listed_partners"][0]["count"] == 1
    body = get(client, world, "office_a", "/api/v1/portfolio/aggregates?suppress=true").get_json()
    assert body["total"] == "<5" and body["suppressed"] is True
    assert all(t["count"] in (0, "<5") for t in body["by_tier"])
    assert get(client, world, "office_a", "/api/v1/portfolio/aggregates?suppress=1").status_code == 400


def test_exports_are_filtered_and_formula_neutral(client, factory, world):
    factory.proposal(world["researcher_a"], world["a"], submit=True, title='=HYPERLINK("http://evil.example","x")',
                     partners=[{"name": "@SUM(1+1)", "country": "NO", "type": "university"}])
    db.session.commit()
    r = get(client, world, "office_a", "/api/v1/portfolio/export?format=csv&country=NO")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert sorted(row[1] for row in rows[1:]) == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "Fjord sediments"]
    assert any(row[5] == "'@SUM(1+1)" for row in rows[1:])
    r = get(client, world, "office_a", "/api/v1/portfolio/export?format=xlsx&q=HYPERLINK")
    assert r.status_code == 200 and r.data.startswith(b"PK")
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == \
        ["'=HYPERLINK(\"http://evil.example\",\"x\")"]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f" and cell.hyperlink is None
    assert get(client, world, "office_a", "/api/v1/portfolio/export").status_code == 400
    assert get(client, world, "office_a", "/api/v1/portfolio/export?format=pdf").status_code == 400


def test_committee_filter_of_another_institution_finds_nothing(client, factory, world):
    from screening.review import routing

    committee_b = routing.ensure_setup(db.session, None, world["b"].id)
    db.session.commit()
    assert titles(get(client, world, "office_a", f"/api/v1/portfolio?committee={committee_b.id}")) == []
