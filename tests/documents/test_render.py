import io
from datetime import UTC, date, datetime

import pytest
from markupsafe import Markup
from pypdf import PdfReader

from screening.documents import (
    MAX_TEXT,
    ContextError,
    ContextTooLargeError,
    render_html,
    render_pdf,
)
from screening.documents.render import _environment, qr_png
from screening.documents.samples import decision_context, fast_track_context

from .conftest import contains, pdf_text

EN = {"language": "en", "title": "Screening decision RSC-2026-0142", "author": "Universität Nordhafen"}
DE = {"language": "de", "title": "Prüfentscheidung RSC-2026-0142", "author": "Universität Nordhafen"}


@pytest.fixture(scope="module")
def english_letter():
    return render_pdf("decision_letter.html", decision_context(), **EN)


@pytest.fixture(scope="module")
def german_letter():
    return render_pdf("decision_letter.html", decision_context(), **DE)


def test_english_decision_letter_content(english_letter):
    context = decision_context()
    text = pdf_text(english_letter.data)
    for expected in (
        context["reference"],
        "Approved with conditions",
        *context["conditions"],
        context["verification_code"],
        context["verification_url"],
        context["rule_set"]["version"],
        context["rule_set"]["hash"],
        context["committee"]["chair"],
        "26 November 2026",
        "Page 1 of 2",
        "Page 2 of 2",
    ):
        assert contains(text, expected), expected
    for partner in context["partners"]:
        assert contains(text, partner["name"])
    for flag in context["flags"]:
        assert contains(text, flag["title"])
    for item in context["lists"]:
        assert contains(text, item["name"])


def test_german_decision_letter_content(german_letter):
    context = decision_context()
    text = pdf_text(german_letter.data)
    for expected in (
        context["reference"],
        "Genehmigt mit Auflagen",
        "Auflagen",
        "Begründung",
        "Prüfbefunde",
        "26. November 2026",
        "Seite 1 von 2",
        "Prüfcode",
        context["verification_code"],
        *context["conditions"],
    ):
        assert contains(text, expected), expected
    assert "Approved" not in text


@pytest.mark.parametrize(
    ("decision", "english", "german"),
    [("approved", "Approved", "Genehmigt"), ("declined", "Declined", "Abgelehnt")],
)
def test_other_decisions(decision, english, german):
    context = decision_context(decision=decision)
    assert context["conditions"] == []
    text = pdf_text(render_pdf("decision_letter.html", context, **EN).data)
    assert contains(text, english)
    assert "Conditions" not in text
    text = pdf_text(render_pdf("decision_letter.html", context, **DE).data)
    assert contains(text, german)


@pytest.mark.parametrize("language", ["en", "de"])
def test_fast_track_letter(language):
    context = fast_track_context()
    result = render_pdf(
        "fast_track_letter.html", context, language=language, title="Clearance", author="Hochschule Südtal"
    )
    reader = PdfReader(io.BytesIO(result.data))
    assert len(reader.pages) == 1
    text = pdf_text(result.data)
    words = {
        "en": ("Automatic clearance", "Risk tier: Low", "Page 1 of 1"),
        "de": ("Automatische Freigabe", "Risikostufe: Gering", "Seite 1 von 1"),
    }[language]
    for expected in (*words, context["reference"], context["verification_code"], context["rule_set"]["hash"]):
        assert contains(text, expected), expected
    for item in context["lists"]:
        assert contains(text, item["version"])
    assert result.fetch_log == [] or all(url.startswith("asset:") for url in result.fetch_log)


def test_pdfa_metadata_language_and_tags(german_letter):
    reader = PdfReader(io.BytesIO(german_letter.data))
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "de"
    xmp = root["/Metadata"].get_object().get_data()
    assert b'pdfaid:part="3"' in xmp
    assert b'pdfaid:conformance="U"' in xmp
    assert "/OutputIntents" in root
    assert root["/MarkInfo"]["/Marked"] in (True, "true")
    assert "/StructTreeRoot" in root
    assert reader.metadata.title == DE["title"]
    assert reader.metadata.author == DE["author"]
    assert german_letter.data.startswith(b"%PDF-1.7")


def test_result_fields_and_determinism(english_letter):
    import hashlib

    assert english_letter.sha256 == hashlib.sha256(english_letter.data).hexdigest()
    assert english_letter.size == len(english_letter.data)
    again = render_pdf("decision_letter.html", decision_context(), **EN)
    assert again.sha256 == english_letter.sha256  # same input, same bytes: retries store one file
    assert all(url.startswith("asset:") for url in english_letter.fetch_log + again.fetch_log)


def test_created_date_is_optional_metadata():
    created = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    result = render_pdf("fast_track_letter.html", fast_track_context(), created=created, **EN)
    assert PdfReader(io.BytesIO(result.data)).metadata.creation_date is not None


def test_logo_per_institution_and_unknown_logo():
    html = render_html("fast_track_letter.html", fast_track_context(institution="nordhafen"), **EN)
    assert 'src="asset:logo-nordhafen.svg"' in html
    context = fast_track_context()
    context["institution"]["logo"] = "file:///etc/passwd"
    with pytest.raises(ValueError, match="unknown asset"):
        render_html("fast_track_letter.html", context, **EN)


def test_qr_code_is_a_generated_image_with_sharp_modules(english_letter):
    import segno
    from PIL import Image

    context = decision_context()
    html = render_html("decision_letter.html", context, **EN)
    assert '<img class="qr" src="asset:_qr/' in html
    assert "data:" not in html and "http://" not in html
    assert any(url.startswith("asset:_qr/") for url in english_letter.fetch_log)
    # One pixel per module, 2-module margin, the modules segno computes for the URL.
    image = Image.open(io.BytesIO(qr_png(context["verification_url"])))
    code = segno.make(context["verification_url"], error="m", micro=False, mask=2)
    assert image.mode == "L" and image.size == code.symbol_size(scale=1, border=2)
    expected = bytes(0 if dark else 255 for row in code.matrix_iter(scale=1, border=2) for dark in row)
    assert image.tobytes() == expected
    # Scaled up without smoothing (also what PDF/A requires of images).
    assert b"/Interpolate false" in english_letter.data and b"/Interpolate true" not in english_letter.data


def test_qr_images_are_not_kept_between_renders():
    from screening.documents import default_registry

    render_pdf("decision_letter.html", decision_context(), **EN)
    cache = default_registry().render_state.image_cache
    before = set(cache)
    for n in range(3):
        context = decision_context()
        context["verification_url"] = f"https://screening.example/verify/CODE{n}"
        render_pdf("decision_letter.html", context, **EN)
    assert set(cache) == before
    assert not any("_qr/" in key for key in cache)


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize(
    ("template", "context"),
    [("decision_letter.html", decision_context), ("fast_track_letter.html", fast_track_context)],
)
def test_letters_take_the_fast_paths(template, context, language):
    # Well-formed XML, so the renderer parses it with the C XML parser instead of the HTML5 one...
    from xml.etree import ElementTree

    from screening.documents.render import _letter_ua_stylesheet, _LetterHTML

    root = ElementTree.fromstring(render_html(template, context(), language=language, title="t", author="a"))
    assert root.tag == "html" and root.get("lang") == language
    assert _LetterHTML.xml_parsing_fits()  # the installed WeasyPrint builds documents as expected
    # ...and the narrowed user-agent stylesheet applies to the installed WeasyPrint.
    assert _letter_ua_stylesheet() is not None


def test_a_weasyprint_that_builds_documents_differently_gets_the_stock_parser(monkeypatch):
    from screening.documents.render import _LetterHTML

    monkeypatch.setattr(_LetterHTML, "ATTRIBUTES", _LetterHTML.ATTRIBUTES | {"an_attribute_of_a_later_version"})
    monkeypatch.setattr(_LetterHTML, "xml_parsing", None)
    result = render_pdf("decision_letter.html", decision_context(), **EN)
    assert _LetterHTML.xml_parsing is False
    assert len(PdfReader(io.BytesIO(result.data)).pages) == 2


def test_values_xml_forbids_fall_back_to_the_html_parser():
    from xml.etree import ElementTree

    context = decision_context()
    context["reasoning"] = "Reasoning with a noncharacter \uffff in it."
    with pytest.raises(ElementTree.ParseError):
        ElementTree.fromstring(render_html("decision_letter.html", context, **EN))
    result = render_pdf("decision_letter.html", context, **EN)
    assert len(PdfReader(io.BytesIO(result.data)).pages) == 2


# --- validation before rendering -------------------------------------------------------------


def test_huge_text_is_rejected_before_rendering():
    context = decision_context()
    context["reasoning"] = "A" * (2 * 1024 * 1024)
    with pytest.raises(ContextTooLargeError, match="at most 20000"):
        render_pdf("decision_letter.html", context, **EN)
    assert issubclass(ContextTooLargeError, ValueError)
    context["reasoning"] = "A" * MAX_TEXT  # at the limit: fine to validate
    render_html("decision_letter.html", context, **EN)


def test_total_text_and_list_sizes_are_bounded():
    context = decision_context()
    context["conditions"] = ["x" * 19_000] * 12
    with pytest.raises(ContextTooLargeError, match="in total"):
        render_html("decision_letter.html", context, **EN)
    context["conditions"] = ["x"] * 501
    with pytest.raises(ContextTooLargeError, match="entries"):
        render_html("decision_letter.html", context, **EN)


def test_deep_nesting_is_rejected():
    nested: dict = {"leaf": "x"}
    for _ in range(10):
        nested = {"inner": nested}
    context = decision_context()
    context["extra"] = nested
    with pytest.raises(ContextTooLargeError, match="nested deeper"):
        render_html("decision_letter.html", context, **EN)


class Opaque:
    def __str__(self):
        return "opaque"


@pytest.mark.parametrize(
    "value",
    [Markup("<b>trusted?</b>"), Opaque(), b"bytes", {1, 2}, lambda: 1, datetime.now],
    ids=["markup", "object", "bytes", "set", "lambda", "method"],
)
def test_non_plain_values_are_type_errors(value):
    context = decision_context()
    context["researcher"]["name"] = value
    with pytest.raises(TypeError, match="not a plain value"):
        render_pdf("decision_letter.html", context, **EN)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(reasoning="a\x00b"), "control characters"),
        (lambda c: c.update(issued_on=datetime(2026, 11, 26, 12, 0)), "timezone-aware"),
        (lambda c: c.update(t="shadow"), "reserved"),
        (lambda c: c.update(decision="maybe"), "decision_maybe"),
        (lambda c: c.pop("committee"), "missing value"),
        (lambda c: c["flags"][0].update(severity="apocalyptic"), "severity_apocalyptic"),
        (lambda c: c.update({"bad key": 1}), "invalid key"),
        (lambda c: c.update(score=float("nan")), "finite"),
    ],
)
def test_invalid_values_are_context_errors(change, message):
    context = decision_context()
    change(context)
    with pytest.raises(ContextError, match=message):
        render_pdf("decision_letter.html", context, **EN)


@pytest.mark.parametrize("name", ["../letters/decision_letter.html", "_base.html", "letter.css", "/etc/passwd", ""])
def test_template_names_are_restricted(name):
    with pytest.raises(ValueError, match="template name"):
        render_pdf(name, decision_context(), **EN)


def test_language_title_and_author_are_checked():
    with pytest.raises(ValueError, match="unsupported language"):
        render_pdf("decision_letter.html", decision_context(), language="fr", title="t", author="a")
    with pytest.raises(ContextError, match="title"):
        render_pdf("decision_letter.html", decision_context(), language="en", title=" ", author="a")
    with pytest.raises(ContextError, match="author"):
        render_pdf("decision_letter.html", decision_context(), language="en", title="t", author="a" * 501)


def test_environment_is_sandboxed_and_escapes_everything():
    env = _environment()
    assert type(env).__name__ == "ImmutableSandboxedEnvironment"
    assert env.autoescape is True  # not select_autoescape: templates not named .html are escaped too
    assert env.from_string("{{ x }}").render(x="<script>") == "&lt;script&gt;"
    with pytest.raises(Exception, match=r"unsafe|not safely|undefined"):
        env.from_string("{{ ''.__class__.__mro__ }}").render()
    with pytest.raises(Exception, match=r"unsafe|immutable"):
        env.from_string("{{ items.append(2) }}").render(items=[])


def test_dates_in_context_may_be_datetimes():
    context = fast_track_context()
    context["issued_on"] = datetime(2026, 3, 5, 23, 0, tzinfo=UTC)
    html = render_html("fast_track_letter.html", context, language="de", title="t", author="a")
    assert "5. März 2026" in html
    context["issued_on"] = date(2026, 3, 5)
    assert "5 March 2026" in render_html("fast_track_letter.html", context, language="en", title="t", author="a")
