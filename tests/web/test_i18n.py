"""Languages: complete catalogs, persistent choice, localised dates."""

from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from screening.accounts.models import User
from screening.core.extensions import db

TRANSLATIONS = Path(__file__).resolve().parents[2] / "screening" / "translations"


def _key(message_id):
    """Plural messages have a (singular, plural) id; the .mo reader gives it as a list."""
    return tuple(message_id) if isinstance(message_id, list | tuple) else message_id


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, list | tuple) else [message.string]
    return all(strings)


def test_german_catalog_is_complete_and_compiled():
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    with (TRANSLATIONS / "de/LC_MESSAGES/messages.po").open("rb") as fh:
        po = read_po(fh)
    with (TRANSLATIONS / "de/LC_MESSAGES/messages.mo").open("rb") as fh:
        mo = read_mo(fh)
    ids = {_key(m.id) for m in template if m.id}
    assert ids and ids <= {_key(m.id) for m in po if _translated(m)}
    assert ids <= {_key(m.id) for m in mo if m.id}
    assert (TRANSLATIONS / "en/LC_MESSAGES/messages.mo").exists()


def test_anonymous_choice_is_kept_in_a_cookie(client):
    r = client.post("/language", data={"language": "de", "next": "/login"})
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert "screening_lang=de" in r.headers["Set-Cookie"]
    assert "Anmelden" in client.get("/login").get_data(as_text=True)


def test_accept_language_is_honoured(client):
    r = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "Anmelden" in r.get_data(as_text=True)


def test_users_choice_is_stored(client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    factory.login(client, user)
    client.post("/language", data={"language": "de", "next": "/proposals/"})
    db.session.expire_all()
    assert db.session.get(User, user.id).language == "de"
    other = client.application.test_client()
    factory.login(other, user)
    assert "Meine Vorhaben" in other.get("/proposals/").get_data(as_text=True)


def test_unknown_language_is_ignored(client):
    r = client.post("/language", data={"language": "xx", "next": "//evil.example"})
    assert r.headers["Location"] == "/"
    assert "screening_lang" not in r.headers.get("Set-Cookie", "")


def test_dates_are_localised(client, factory):
    inst = factory.institution()
    user = factory.user(inst, language="de")
    p = factory.proposal(user, inst)
    factory.login(client, user)
    html = client.get(f"/proposals/{p.id}").get_data(as_text=True)
    import re

    assert re.search(r"\d{2}\.\d{2}\.\d{4}", html)  # German medium date format
    assert "Entwurf" in html


def test_the_date_filter_writes_the_users_day_in_the_users_language(app):
    from datetime import UTC, date, datetime, timedelta, timezone

    from flask_babel import refresh

    from screening.core.i18n import local_date

    late_evening_in_utc = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "de"}):
        refresh()  # the language and time zone are looked up again in each context below
        assert local_date(late_evening_in_utc) == "01.03.2026"
        assert local_date(date(2026, 12, 6)) == "06.12.2026"
        assert local_date(datetime(2026, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == "01.03.2026"
        assert local_date(None) == ""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        refresh()
        assert local_date(late_evening_in_utc) == "Mar 1, 2026"
