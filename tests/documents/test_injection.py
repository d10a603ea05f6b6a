"""Scorecard items 5 and 6: markup, template syntax and URLs in any text field stay text."""

import io

import pytest
from pypdf import PdfReader
from weasyprint import HTML

from screening.documents import AssetRegistry, DocumentFetchError, StrictURLFetcher, render_pdf
from screening.documents.assets import TEMPLATE_DIR
from screening.documents.samples import decision_context, fast_track_context

from .conftest import contains, pdf_text


def payloads(canary_url: str) -> list[str]:
    return [
        '<img src="file:///etc/passwd">',
        '<link rel="attachment" href="file:///etc/passwd">',
        "@import url(http://169.254.169.254/)",
        "<script>alert(1)</script>",
        "{{7*7}}",
        "http://127.0.0.1:6379",
        f'"><img src="{canary_url}/img" onerror=alert(1)>',
        f'<link rel="stylesheet" href="{canary_url}/style.css">',
        f"<style>@import url({canary_url}/import.css); body {{ background: url({canary_url}/bg.png) }}</style>",
        f'<object data="{canary_url}/object"></object><iframe src="{canary_url}/frame"></iframe>',
        f'<svg><image href="{canary_url}/svg-image"/></svg>',
        "file:///dev/urandom",
        "{% raw %}{{ config }}{% endraw %}{{ ''.__class__ }}",
    ]


def poisoned_decision(canary_url: str) -> tuple[dict, list[str]]:
    texts = payloads(canary_url)
    context = decision_context()
    context["institution"]["name"] = texts[0]
    context["institution"]["office"] = texts[1]
    context["institution"]["address_lines"] = [texts[2], texts[8]]
    context["reference"] = texts[4]
    context["researcher"]["name"] = texts[3]
    context["researcher"]["department"] = texts[6]
    context["project"]["title"] = texts[7]
    context["partners"][0]["name"] = texts[9]
    context["partners"][1]["country"] = texts[5]
    context["conditions"] = [texts[10], texts[11], texts[12]]
    context["reasoning"] = "\n\n".join(texts)
    context["flags"][0]["title"] = texts[2]
    context["flags"][1]["sources"] = [texts[1], texts[5]]
    context["lists"][0]["name"] = texts[6]
    context["rule_set"]["version"] = texts[4]
    context["committee"]["name"] = texts[8]
    context["committee"]["chair"] = texts[3]
    context["verification_code"] = texts[4]
    context["verification_url"] = f"{canary_url}/verify/<b>x</b>"
    return context, texts


def assert_nothing_embedded(data: bytes) -> None:
    reader = PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    assert "/EmbeddedFiles" not in root.get("/Names", {})
    assert "/AF" not in root
    for number in range(1, len(reader.xref_objStm) + sum(len(v) for v in reader.xref.values()) + 1):
        try:
            obj = reader.get_object(number)
        except Exception:
            continue
        if hasattr(obj, "get"):
            assert obj.get("/Type") not in ("/EmbeddedFile", "/Filespec")
            assert obj.get("/Subtype") not in ("/FileAttachment",)
    assert b"/EmbeddedFile" not in data and b"/FileAttachment" not in data
    assert b"root:x:0:0" not in data


@pytest.mark.parametrize("language", ["en", "de"])
def test_injected_text_appears_literally_and_nothing_is_fetched(canary, language):
    context, texts = poisoned_decision(canary.url)
    result = render_pdf("decision_letter.html", context, language=language, title=texts[3], author=texts[0])

    text = pdf_text(result.data)
    for payload in texts:
        assert contains(text, payload), payload
    assert all(url.startswith("asset:") for url in result.fetch_log), result.fetch_log
    assert_nothing_embedded(result.data)
    assert canary.requests == []
    reader = PdfReader(io.BytesIO(result.data))
    assert reader.metadata.title == texts[3]  # metadata carries the text, escaped, too


def test_fast_track_letter_with_injected_text(canary):
    texts = payloads(canary.url)
    context = fast_track_context()
    context["researcher"]["name"] = texts[1]
    context["project"]["title"] = texts[8]
    context["partners"][0]["name"] = texts[6]
    result = render_pdf("fast_track_letter.html", context, language="en", title="t", author="a")
    text = pdf_text(result.data)
    for payload in (texts[1], texts[8], texts[6]):
        assert contains(text, payload)
    assert_nothing_embedded(result.data)
    assert canary.requests == []


def test_strict_fetcher_blocks_raw_html_attacks(canary):
    """Defence in depth: even markup that reaches WeasyPrint unescaped loads nothing."""
    registry = AssetRegistry()
    fetcher = StrictURLFetcher(registry)
    html = f"""<html><head>
      <link rel="attachment" href="file:///etc/passwd">
      <link rel="attachment" href="{canary.url}/attachment">
      <link rel="stylesheet" href="{canary.url}/sheet.css">
      <style>@import url({canary.url}/import.css); @import url(http://169.254.169.254/latest/meta-data/);
        body {{ background: url(file:///dev/urandom) }}
        @font-face {{ font-family: X; src: url({canary.url}/font.ttf) }}</style></head>
      <body style="font-family: X"><img src="file:///etc/passwd"><img src="{canary.url}/img.png">
      <img src="http://127.0.0.1:6379/"><object data="{canary.url}/object"></object>
      <embed src="{canary.url}/embed">
      <svg width="10" height="10"><image href="{canary.url}/svg.png" width="10" height="10"/>
        <use href="file:///etc/passwd#x"/></svg>
      <p>text</p></body></html>"""
    data = HTML(string=html, url_fetcher=fetcher).write_pdf()
    assert_nothing_embedded(data)
    assert canary.requests == []
    assert fetcher.log, "WeasyPrint asked for the resources"
    assert len(fetcher.refused) == len(fetcher.log)
    assert any("file:///etc/passwd" in url for url in fetcher.log)
    assert any(url.startswith(canary.url) for url in fetcher.log)


def test_a_refused_load_fails_the_render(tmp_path):
    css = tmp_path / "letter.css"
    css.write_text("@import url(file:///etc/passwd);\n" + (TEMPLATE_DIR / "letter.css").read_text())
    registry = AssetRegistry()
    registry.add_file("letter.css", css)
    with pytest.raises(DocumentFetchError, match="file:///etc/passwd"):
        render_pdf(
            "fast_track_letter.html",
            _no_logo(fast_track_context()),
            language="en",
            title="t",
            author="a",
            assets=registry,
        )


def _no_logo(context: dict) -> dict:
    context["institution"]["logo"] = None
    return context
