"""Scorecard 19, 20: malformed or oversized input answers 4xx with a message, never 500."""

import pytest
from sqlmodel import func, select

from screening.core.extensions import db
from screening.proposals.models import Proposal

from .helpers import form_post_data


@pytest.fixture
def logged_in(client, factory):
    inst = factory.institution()
    factory.login(client, factory.user(inst))
    return client


def proposals():
    return db.session.exec(select(func.count()).select_from(Proposal)).one()


URLENC = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("body", [
    b"title=%ff%fe&action=save",          # invalid UTF-8, percent-encoded
    b"title=\xff\xfe&action=save",        # invalid UTF-8, raw bytes
    b"title=abc%00def&action=save",       # NUL byte
    b"title%00=abc&action=save",          # NUL in a key
])
def test_invalid_bytes_answer_400(logged_in, body):
    r = logged_in.post("/proposals/new", data=body, content_type=URLENC)
    assert r.status_code == 400
    assert b"Reference for support" in r.data
    assert proposals() == 0


def test_nul_in_query_string_is_400(logged_in):
    assert logged_in.get("/proposals/?q=%00").status_code == 400
    assert logged_in.get("/proposals/?q=%ff").status_code == 400


def test_thousands_of_fields_answer_400(logged_in):
    body = "&".join(f"f{i}=x" for i in range(5000)).encode()
    r = logged_in.post("/proposals/new", data=body, content_type=URLENC)
    assert r.status_code in (400, 413)
    assert proposals() == 0


def test_thousands_of_multipart_parts_are_refused(logged_in):
    r = logged_in.post("/proposals/new", data={f"f{i}": "x" for i in range(3000)},
                       content_type="multipart/form-data")
    assert r.status_code in (400, 413)


def test_oversized_body_is_413(app, logged_in):
    body = b"title=" + b"a" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    r = logged_in.post("/proposals/new", data=body, content_type=URLENC)
    assert r.status_code == 413
    assert proposals() == 0


@pytest.mark.parametrize("field, value", [
    ("partners-0-name", "Evil\u202eCorp"),          # bidi override
    ("partners-0-name", "Zero\u200bwidth"),          # zero-width space
    ("title", "A title\u2066with isolate"),
    ("duration_months", "-5"),
    ("duration_months", "10000000000000000000000"),
    ("duration_months", "twelve"),
    ("start_date", "2024-13-45"),
    ("start_date", "0001-01-01"),
    ("partners-0-type", "spy_agency"),
    ("data_transfers-0-direction", "sideways"),
])
def test_bad_values_are_field_errors(logged_in, field, value):
    data = form_post_data(**{field: value, "data_transfers-0-country": "DE",
                             "data_transfers-0-direction": "outbound", "data_transfers-0-categories": "none"}
                          | {field: value})
    r = logged_in.post("/proposals/new", data=data)
    assert r.status_code == 400
    assert b'class="field-errors"' in r.data
    assert proposals() == 0


def test_too_many_rows_are_refused(logged_in):
    data = form_post_data()
    for i in range(60):
        data[f"partners-{i}-name"] = f"Partner {i}"
        data[f"partners-{i}-country"] = "FR"
    r = logged_in.post("/proposals/new", data=data)
    assert r.status_code in (400, 413)
    assert proposals() == 0


def test_an_id_beyond_the_database_integer_range_is_not_found(client, factory):
    user = factory.user(factory.institution())
    factory.login(client, user)
    for url in ("/proposals/99999999999999999999", "/proposals/2147483648/edit", "/proposals/1/versions/9999999999"):
        assert client.get(url).status_code == 404, url
