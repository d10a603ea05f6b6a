from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from screening.documents.i18n import LANGUAGES, MESSAGES, Translator, format_date


def test_every_text_exists_in_every_language():
    keys = {language: set(MESSAGES[language]) for language in LANGUAGES}
    assert keys["de"] == keys["en"]
    for language in LANGUAGES:
        assert all(text.strip() for text in MESSAGES[language].values())


def test_placeholders_match_between_languages():
    import string

    def fields(text):
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, english in MESSAGES["en"].items():
        assert fields(english) == fields(MESSAGES["de"][key]), key


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        (date(2026, 11, 26), "de", "26. November 2026"),
        (date(2026, 11, 26), "en", "26 November 2026"),
        (date(2026, 3, 1), "de", "1. März 2026"),
        (datetime(2026, 11, 26, 23, 30, tzinfo=UTC), "en", "26 November 2026"),
        (datetime(2026, 11, 27, 0, 30, tzinfo=timezone(timedelta(hours=1))), "de", "27. November 2026"),
    ],
)
def test_format_date(value, language, expected):
    assert format_date(value, language) == expected


def test_format_date_rejects_naive_datetimes_and_other_types():
    with pytest.raises(ValueError):
        format_date(datetime(2026, 11, 26), "en")
    with pytest.raises(TypeError):
        format_date("2026-11-26", "en")


def test_translator():
    t = Translator("de")
    assert t("decision_declined") == "Abgelehnt"
    assert t("salutation", name="{x} <b>") == "Guten Tag {x} <b>,"  # values are not interpreted
    with pytest.raises(KeyError):
        t("nope")
    with pytest.raises(ValueError):
        Translator("fr")
