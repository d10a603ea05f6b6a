"""Free-text search of the portfolio: words and word starts in titles, partners, keywords and
abstracts, through the full-text index of the database (PostgreSQL GIN, SQLite FTS5)."""

import re

import pytest

from screening.core.countries import ISO_CODES
from screening.core.extensions import db
from screening.portfolio import search
from screening.portfolio.search import Filters

from .test_portfolio import HIT, OSLO


@pytest.fixture
def searchable(factory):
    inst, other = factory.institution(), factory.institution()
    researcher = factory.user(inst, "researcher")
    titles = {
        "robots": factory.proposal(researcher, inst, submit=True, title="Legged robots for rough terrain",
                                   partners=[{**HIT, "name_local": "哈尔滨工业大学"}], keywords=["locomotion"]),
        "fjord": factory.proposal(researcher, inst, submit=True, title="Fjord sediments", partners=[OSLO],
                                  abstract="Sampling cores from glacial fjords along the Norwegian coast."),
        "draft": factory.proposal(researcher, inst, title="Legged draft robots"),
    }
    factory.proposal(factory.user(other, "researcher"), other, submit=True, title="Legged robots of another house",
                     partners=[HIT])
    return {"actor": factory.actor(factory.user(inst, "international_office"), inst), "ids": {
        name: p.id for name, p in titles.items()}}


def _found(world, **filters) -> set[str]:
    page = search.search(db.session, world["actor"], Filters(**filters))
    names = {pid: name for name, pid in world["ids"].items()}
    assert page.total == len(page.rows)
    return {names.get(row.id, "elsewhere") for row in page.rows}


@pytest.mark.parametrize(("q", "expected"), [
    ("legged", {"robots"}),                    # title word; the draft and the other institution stay out
    ("LEG", {"robots"}),                       # a word start, any case
    ("robot", {"robots"}),                     # stem (and word start)
    ("harbin technology", {"robots"}),         # partner name, every word must match
    ("哈尔滨", {"robots"}),                      # partner name in its own script, from its start
    ("locomotion", {"robots"}),                # keyword
    ("glacial", {"fjord"}),                    # abstract
    ("fjord", {"fjord"}),                      # "fjords" in the abstract, "Fjord" in the title
    ("oslo sediments", {"fjord"}),
    ("legged sediments", set()),               # no proposal has both
    ("fjord-sediments", {"fjord"}),            # punctuation separates words
    ("", {"robots", "fjord"}),                 # blank: no text filter
    ("'\" OR 1=1 -- *", set()),                # query syntax of neither database leaks through
    ("%%", set()),                             # only punctuation finds nothing
])
def test_free_text_search_finds_by_word_and_word_start(searchable, q, expected):
    assert _found(searchable, q=q) == expected


@pytest.mark.parametrize(("partner", "expected"), [
    ("harbin", {"robots"}),                     # a part of the name, any case; the other house's HIT stays out
    ("INSTITUTE OF TECH", {"robots"}),
    ("of", {"robots", "fjord"}),                # "Harbin Institute of Technology", "University of Oslo"
    ("Oslo University", set()),                 # a part as written, not words in any order
    ("%", set()),                               # LIKE's wildcards are plain characters here
    ("_", set()),
    ("\\", set()),
])
def test_the_partner_filter_finds_a_part_of_a_partner_name(searchable, partner, expected):
    assert _found(searchable, partner=partner) == expected


def test_the_partner_filter_follows_a_proposal_whose_partners_changed(searchable):
    from sqlmodel import select

    from screening.portfolio.index import index_screening
    from screening.proposals.models import Proposal, ProposalVersion

    fjord = db.session.get(Proposal, searchable["ids"]["fjord"])
    version = db.session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == fjord.id)).one()
    renamed = {**OSLO, "name": "Norwegian University of Science and Technology"}
    index_screening(db.session, fjord, {**version.proposal_json, "partners": [renamed]}, version.result_json,
                    version.number, "test")
    db.session.commit()
    assert _found(searchable, partner="oslo") == set()
    assert _found(searchable, partner="norwegian") == {"fjord"}


def test_search_terms_are_words_without_repeats():
    assert search.search_terms("Fjord fjord, sediments; 2.2 x_y") == ["fjord", "sediments", "2", "x", "y"]
    assert len(search.search_terms(" ".join(f"w{n}" for n in range(20)))) == search.MAX_TERMS


def test_search_combines_with_filters_and_pages(searchable):
    page = search.search(db.session, searchable["actor"], Filters(q="legged", country="CN"))
    assert [row.id for row in page.rows] == [searchable["ids"]["robots"]]
    assert search.search(db.session, searchable["actor"], Filters(q="legged", country="NO")).total == 0
    rows, last, total = search.search_after(db.session, searchable["actor"], Filters(q="o"), None, 1)
    assert total == 2 and len(rows) == 1 and last is not None


def test_german_and_english_stems_on_postgresql_porter_on_sqlite(app, factory, searchable):
    inst = factory.institution()
    researcher = factory.user(inst, "researcher")
    proposal = factory.proposal(researcher, inst, submit=True, title="Kooperation der Universität Stuttgart",
                                abstract="A study of turbulent flows.")
    actor = factory.actor(factory.user(inst, "international_office"), inst)

    def found(q: str) -> bool:
        return [r.id for r in search.search(db.session, actor, Filters(q=q)).rows] == [proposal.id]

    postgres = db.engine.dialect.name == "postgresql"
    assert found("studies") and found("universität")  # English stem, and the word as written, on both
    assert found("universitäten") == postgres  # the German stem is PostgreSQL's only ...
    assert found("universitat") == postgres  # ... and it folds the umlaut


@pytest.mark.parametrize("query", ["", "status=fast_tracked", "status=in_review&tier=high", "country=CN",
                                   "country=CN&tier=high", "tier=low", "field=1.5", "field=1", "q=legged"])
def test_list_totals_from_the_stored_counts_equal_counting_the_rows(searchable, query):
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    f = search.parse_filters(MultiDict(parse_qsl(query)))
    page = search.search(db.session, searchable["actor"], f)
    assert (page.total, page.total_is_lower_bound) == (len(list(search.export_rows(db.session, searchable["actor"],
                                                                                    f))), False)


def test_a_count_past_the_limit_is_shown_as_a_lower_bound(app, factory, searchable, monkeypatch):
    monkeypatch.setattr(search, "COUNT_LIMIT", 1)
    page = search.search(db.session, searchable["actor"], Filters(q="o"))
    assert (page.total, page.total_is_lower_bound, len(page.rows)) == (1, True, 2)
    client = app.test_client()
    factory.login(client, searchable["actor"].user)
    assert "more than 1 collaborations" in client.get("/portfolio/?q=o").get_data(as_text=True)


@pytest.mark.parametrize(("glance", "enough_in_glance", "sample", "in_newest"), [
    (3, 1, 100, 2),    # the glance has enough matches: its two serve the first page
    (2, 100, 100, 5),  # the glance is not enough: the sample (the glance, then the rest) has every match
    (2, 100, 4, 3),    # ... or only the newest three
])
def test_a_common_words_pages_are_its_newest_matches_read_from_the_sample_or_walked(
        app, factory, monkeypatch, glance, enough_in_glance, sample, in_newest):
    inst = factory.institution()
    researcher = factory.user(inst, "researcher")
    legged = [factory.proposal(researcher, inst, submit=True, title=f"Legged robot number {n}").id for n in range(5)]
    factory.proposal(researcher, inst, submit=True, title="Fjord sediments")  # the newest, and no match
    actor = factory.actor(factory.user(inst, "international_office"), inst)
    monkeypatch.setattr(search, "TEXT_COMMON_IN_SAMPLE", 1)  # every word counts as common
    monkeypatch.setattr(search, "TEXT_SAMPLE", sample)
    monkeypatch.setattr(search, "TEXT_GLANCE", glance)
    monkeypatch.setattr(search, "TEXT_COMMON_IN_GLANCE", enough_in_glance)
    newest_first = list(reversed(legged))
    assert search._text_matches(db.session, inst.id, ["legged"]) == search.TextMatches(None, newest_first[:in_newest])
    pages = [search.search(db.session, actor, Filters(q="legged"), page=n, per_page=2) for n in (1, 2, 3)]
    assert [[row.id for row in page.rows] for page in pages] == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    assert all(row.title.startswith("Legged") and row.partners for row in pages[0].rows)
    oldest = search.search(db.session, actor, Filters(q="legged", sort="oldest"), per_page=2)
    assert [row.id for row in oldest.rows] == legged[:2]


@pytest.mark.parametrize("ids_limit", [100, 2])  # rare after all / common after all
def test_a_word_absent_from_the_newest_texts_is_looked_up_in_the_index_at_once(app, factory, monkeypatch,
                                                                                ids_limit):
    inst = factory.institution()
    researcher = factory.user(inst, "researcher")
    legged = [factory.proposal(researcher, inst, submit=True, title=f"Legged robot number {n}").id for n in range(3)]
    factory.proposal(researcher, inst, submit=True, title="Fjord sediments")  # the newest, and no match
    actor = factory.actor(factory.user(inst, "international_office"), inst)
    monkeypatch.setattr(search, "TEXT_GLANCE", 1)
    monkeypatch.setattr(search, "TEXT_IDS_LIMIT", ids_limit)
    monkeypatch.setattr(search, "_newest_matches", _spy(search._newest_matches, looked_at := []))
    matches = search._text_matches(db.session, inst.id, ["legged"])
    assert len(looked_at) == 1  # the glance only, not the sample
    assert (sorted(matches.ids) if matches.ids else None, matches.newest) == (legged if ids_limit > 3 else None, [])
    pages = [search.search(db.session, actor, Filters(q="legged"), page=n, per_page=2) for n in (1, 2)]
    assert [[row.id for row in page.rows] for page in pages] == [legged[:0:-1], legged[:1]]


def _spy(function, calls: list):
    def spied(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)
    return spied


def test_the_country_filter_offers_every_country_and_keeps_the_chosen_one(app, factory, searchable):
    client = app.test_client()
    factory.login(client, searchable["actor"].user)
    html = client.get("/portfolio/?country=CN").get_data(as_text=True)
    assert len(re.findall(r'<option value="[A-Z]{2}"', html)) == len(ISO_CODES)
    assert '<option value="CN" selected>CN</option>' in html and '<option value="DE">DE</option>' in html
    assert html.count(" selected>") == 2  # the country, and the default sort order
    assert '<option value="CN">CN</option>' in client.get("/portfolio/").get_data(as_text=True)
