"""The one way to turn a letter template and plain data into a PDF.

    render_pdf("decision_letter.html", context, language="de", title=..., author=...)

* Jinja: an immutable sandbox, autoescaping every template whatever its name, strict undefined
  values, templates only from ``templates/letters``; the context is checked first
  (:func:`screening.core.template_context.validate_context`).
* WeasyPrint: a :class:`~screening.documents.fetcher.StrictURLFetcher` that serves registered
  ``asset:`` names only; any refused load fails the render (:class:`DocumentFetchError`).
* Output: PDF/A-3u, tagged, with title, author (the institution) and language set.
* Speed: the stylesheet is parsed and the fonts are loaded once per asset registry and process;
  later renders reuse them (and the decoded logo images). The QR code is a tiny PNG made here (one
  pixel per module, drawn unsmoothed), served to WeasyPrint under a per-render ``asset:_qr/…`` name.
"""

import hashlib
import io
import re
import shutil
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

import cssselect2
import segno
from defusedxml import ElementTree
from jinja2 import FileSystemLoader, StrictUndefined, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup
from PIL import Image
from weasyprint import CSS, HTML
from weasyprint.css.counters import CounterStyle
from weasyprint.text.fonts import FontConfiguration

from screening.core.template_context import ContextError, validate_context

from .assets import TEMPLATE_DIR, AssetError, AssetRegistry, default_registry
from .fetcher import ASSET_SCHEME, StrictURLFetcher
from .i18n import LANGUAGES, Translator, format_date

PDF_VARIANT = "pdf/a-3u"
STYLESHEET_ASSET = "letter.css"
RESERVED_NAMES = frozenset({"document", "t", "fmt_date", "qr_image", "asset_url", "page_counter"})
MAX_METADATA = 500
MAX_QR_TEXT = 500
_TEMPLATE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*\.html$")
# A line break and indentation between two tags only lays out the template source; dropped, they
# cost the parser and WeasyPrint nothing. (Escaped values contain no raw "<" or ">".)
_BETWEEN_TAGS_RE = re.compile(r">\s*\n\s*<")


class DocumentFetchError(RuntimeError):
    """The letter tried to load something that is not a registered asset; no PDF was produced."""

    def __init__(self, refused: list[str]) -> None:
        super().__init__("refused to load: " + "; ".join(refused))
        self.refused = refused


@dataclass(frozen=True, slots=True)
class RenderedPdf:
    data: bytes
    sha256: str  # of ``data``: record it with the stored file; /verify compares uploads with it
    size: int
    fetch_log: list[str] = field(default_factory=list)  # every URL the renderer asked for


OUTPUT_INTENT = "letter-srgb"


def _load_output_profile():
    """WeasyPrint's sRGB profile, loaded once with the file closed afterwards.

    With ``output_intent="srgb"`` WeasyPrint 70 opens the profile on every render and never closes
    it (a ``ResourceWarning``); handing it a ready profile under our own key avoids both.
    """
    try:
        from importlib.resources import files

        from weasyprint.css import ColorProfile

        with (files("weasyprint.pdf") / "sRGB2014.icc").open("rb") as handle:
            profile = ColorProfile(handle, "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"]))
    except (ImportError, OSError, TypeError):  # pragma: no cover - other WeasyPrint layouts
        return None
    # Reading the profile's name (every render does, for the output intent) makes LittleCMS write the
    # profile differently from then on; read it now, so that the first letter a worker renders has
    # the same bytes as every later one.
    profile.name  # noqa: B018
    return profile


def _letter_ua_stylesheet() -> CSS | None:
    """WeasyPrint's user-agent stylesheet with its universal pseudo-element rules narrowed.

    The stock sheet styles ``::marker``, ``::footnote-call``, ``::footnote-marker``, ``::note-*`` on
    every element, so WeasyPrint computes six extra pseudo-element styles per element of every
    letter. Letters have markers only on list items and use no footnotes or notes; everything
    else is WeasyPrint's sheet unchanged. ``None`` (use the stock sheet) if its text has changed.
    """
    try:
        from weasyprint.html import UA
    except ImportError:  # pragma: no cover - other WeasyPrint layouts
        return None
    narrowed, markers = re.subn(r"^::marker \{", "li::marker {", UA, flags=re.M)
    narrowed, notes = re.subn(r"^::(?:footnote|note)-[a-z]+ \{[^}]*\}\n", "", narrowed, flags=re.M)
    if markers != 1 or notes != 5 or re.search(r"(?m)^::", narrowed):
        return None
    # A private counter-style registry: the stock sheet already filled WeasyPrint's.
    return CSS(string=narrowed, counter_style=CounterStyle())


class _LetterHTML(HTML):
    """A letter document: WeasyPrint's ``HTML``, parsed faster and with the narrowed user-agent
    stylesheet.

    The letter templates are written as well-formed XHTML and every value in them is escaped, so
    the C XML parser builds the same tree as WeasyPrint's pure-Python HTML5 parser, about 40 times
    faster. Anything that is not well-formed XML (a template using HTML-only syntax, or a value
    with a character XML forbids) is parsed as HTML, as before.
    """

    ua_stylesheet: CSS | None = None
    # What HTML.__init__ sets in WeasyPrint 70; another version setting anything else is parsed the
    # stock way (checked once, by xml_parsing_fits()).
    ATTRIBUTES = frozenset({"base_url", "url_fetcher", "media_type", "wrapper_element", "etree_element"})
    xml_parsing: bool | None = None

    @classmethod
    def xml_parsing_fits(cls) -> bool:
        if cls.xml_parsing is None:
            cls.xml_parsing = set(vars(HTML(string="<p>x</p>"))) == cls.ATTRIBUTES
        return cls.xml_parsing

    def __init__(self, *, string: str, url_fetcher: StrictURLFetcher) -> None:
        try:
            if not self.xml_parsing_fits():
                raise ElementTree.ParseError("this WeasyPrint builds its documents differently")
            root = ElementTree.fromstring(string)  # defusedxml: no entity or external declarations
        except ElementTree.ParseError:
            super().__init__(string=string, url_fetcher=url_fetcher)
            return
        # The attributes of ATTRIBUTES, from the XML tree instead of tinyhtml5's.
        self.base_url = None
        self.url_fetcher = url_fetcher
        self.media_type = "print"
        self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
        self.etree_element = self.wrapper_element.etree_element

    def _ua_stylesheets(self, forms=False):
        if self.ua_stylesheet is None or forms:
            return super()._ua_stylesheets(forms)
        return [self.ua_stylesheet]


@dataclass
class _RenderState:
    """What stays warm between renders for one asset registry."""

    font_config: FontConfiguration
    stylesheet: CSS
    image_cache: dict
    lock: threading.Lock
    setup_fetch_log: list[str]
    output_profile: object | None


_state_lock = threading.Lock()


def _render_state(registry: AssetRegistry) -> _RenderState:
    state = registry.render_state
    if state is not None:
        return state
    with _state_lock:
        if registry.render_state is None:
            registry.freeze()
            fetcher = StrictURLFetcher(registry)
            font_config = FontConfiguration()
            stylesheet = CSS(
                string=registry.read(STYLESHEET_ASSET).decode("utf-8"),
                url_fetcher=fetcher,
                font_config=font_config,
            )
            if fetcher.refused:
                raise DocumentFetchError(fetcher.refused)
            if _LetterHTML.ua_stylesheet is None:
                _LetterHTML.ua_stylesheet = _letter_ua_stylesheet()
            registry.render_state = _RenderState(
                font_config, stylesheet, {}, threading.Lock(), fetcher.log, _load_output_profile()
            )
            weakref.finalize(registry, _remove_font_files, font_config)
        return registry.render_state


def _remove_font_files(font_config: FontConfiguration) -> None:
    """Delete the temporary folder WeasyPrint copies the ``@font-face`` fonts to.

    WeasyPrint removes it only when the font configuration is garbage-collected, which never
    happens to one kept for the life of the process; this runs when the registry goes, or at exit.
    """
    folder = getattr(font_config, "_folder", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,  # every template, whatever its file name
        undefined=StrictUndefined,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


QR_PREFIX = "_qr/"  # generated images: "_" never starts a registered asset name
SHARED_IMAGES_KEPT = 256  # decoded asset images (logos) kept between renders


@lru_cache(maxsize=64)
def qr_png(text: str) -> bytes:
    """A QR code of ``text`` as a grayscale PNG with one pixel per module and a 2-module margin.

    The letter scales it up with ``image-rendering: pixelated`` (``/Interpolate false``), so every
    module stays a sharp square. WeasyPrint draws this image far faster than the same code as SVG
    path data (hundreds of path commands, each handled in Python).
    """
    if type(text) is not str or not text or len(text) > MAX_QR_TEXT:
        raise ContextError("QR code text must be a non-empty string of at most 500 characters")
    # A fixed mask pattern is as valid as the one segno would pick after scoring all eight, and it
    # saves most of the encoding time.
    code = segno.make(text, error="m", micro=False, mask=2)
    size = code.symbol_size(scale=1, border=2)
    pixels = bytes(0 if dark else 255 for row in code.matrix_iter(scale=1, border=2) for dark in row)
    out = io.BytesIO()
    Image.frombytes("L", size, pixels).save(out, format="PNG")
    return out.getvalue()


def _forget_generated_images(cache: dict, generated: Mapping[str, tuple[bytes, str]]) -> None:
    """Drop this letter's generated images from the shared image cache after its render, so the QR
    codes of past letters do not pile up in a long-running worker (WeasyPrint 70 keys an image by
    its URL and by the URL's MD5); the registered assets' images (logos) stay decoded."""
    private = set()
    for name in generated:
        url = ASSET_SCHEME + name
        private.update((url, hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()))
    for key in [key for key in cache if key in private or key.split("-", 1)[0] in private]:
        del cache[key]
    if len(cache) > SHARED_IMAGES_KEPT:  # should WeasyPrint ever key its cache differently
        cache.clear()


def _css_string(text: str) -> str:
    escaped = "".join(ch if ch.isalnum() or ch == " " else f"\\{ord(ch):06x}" for ch in text)
    return f'"{escaped}"'


def page_counter_content(pattern: str) -> Markup:
    """CSS ``content`` for a "Page {page} of {pages}" pattern, every literal part CSS-escaped."""
    parts = []
    for piece in re.split(r"(\{page\}|\{pages\})", pattern):
        if piece == "{page}":
            parts.append("counter(page)")
        elif piece == "{pages}":
            parts.append("counter(pages)")
        elif piece:
            parts.append(_css_string(piece))
    return Markup(" ".join(parts))  # noqa: S704 - counters and CSS-escaped strings only


def _check_metadata(name: str, value: str) -> str:
    if type(value) is not str or not value.strip():
        raise ContextError(f"{name} must be a non-empty string")
    if len(value) > MAX_METADATA:
        raise ContextError(f"{name} is longer than {MAX_METADATA} characters")
    return value


def render_html(
    template_name: str,
    context: Mapping,
    *,
    language: str,
    title: str,
    author: str,
    assets: AssetRegistry | None = None,
    created: date | datetime | None = None,
) -> str:
    """The letter as HTML (what :func:`render_pdf` lays out); useful for previews and tests."""
    html, _generated = _render_html(
        template_name, context, language=language, title=title, author=author, assets=assets, created=created
    )
    return html


def _render_html(
    template_name: str,
    context: Mapping,
    *,
    language: str,
    title: str,
    author: str,
    assets: AssetRegistry | None,
    created: date | datetime | None,
) -> tuple[str, dict[str, tuple[bytes, str]]]:
    """The HTML and the images made for it (asset name -> bytes and media type)."""
    if type(template_name) is not str or not _TEMPLATE_NAME_RE.match(template_name):
        raise ValueError(f"invalid letter template name: {template_name!r}")
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; expected one of {', '.join(LANGUAGES)}")
    registry = assets or default_registry()
    values = validate_context(context)
    clash = RESERVED_NAMES & values.keys()
    if clash:
        raise ContextError(f"reserved context names: {', '.join(sorted(clash))}")
    if created is not None and not isinstance(created, date):
        raise TypeError("created must be a date or datetime")
    if isinstance(created, datetime) and created.tzinfo is None:
        raise ContextError("created must be timezone-aware")

    translate = Translator(language)
    generated: dict[str, tuple[bytes, str]] = {}

    def asset_url(name: str) -> str:
        if name not in registry:
            raise AssetError(f"unknown asset: {name!r}")
        return ASSET_SCHEME + name

    def qr_image(text: str) -> str:
        data = qr_png(text)
        name = f"{QR_PREFIX}{hashlib.sha256(data).hexdigest()[:32]}.png"
        generated[name] = (data, "image/png")
        return ASSET_SCHEME + name

    values.update(
        document={
            "language": language,
            "title": _check_metadata("title", title),
            "author": _check_metadata("author", author),
            "created": created.isoformat() if created is not None else None,
        },
        t=translate,
        fmt_date=lambda value: format_date(value, language),
        qr_image=qr_image,
        asset_url=asset_url,
        page_counter=page_counter_content(translate("page_of")),
    )
    try:
        template = _environment().get_template(template_name)
        return _BETWEEN_TAGS_RE.sub("><", template.render(values)), generated
    except UndefinedError as exc:
        raise ContextError(f"{template_name}: missing value: {exc.message}") from exc
    except SecurityError as exc:
        raise ContextError(f"{template_name}: {exc}") from exc
    except KeyError as exc:  # a value with no wording, e.g. an unknown decision or severity
        raise ContextError(f"{template_name}: {exc.args[0] if exc.args else exc}") from exc


def render_pdf(
    template_name: str,
    context: Mapping,
    *,
    language: str,
    title: str,
    author: str,
    assets: AssetRegistry | None = None,
    created: date | datetime | None = None,
) -> RenderedPdf:
    """Render a letter template to a PDF/A-3u document.

    ``context`` holds plain values only (``TypeError`` otherwise; :class:`ContextError`, a
    ``ValueError``, when too large). ``title``, ``author`` (the institution) and ``language``
    (``de`` or ``en``) become the PDF's metadata. ``created`` adds a creation date; without it the
    same input gives byte-identical PDFs. Raises :class:`DocumentFetchError` if the document tried
    to load anything that is not a registered asset.
    """
    registry = assets or default_registry()
    html, generated = _render_html(
        template_name, context, language=language, title=title, author=author, assets=registry, created=created
    )
    state = _render_state(registry)
    fetcher = StrictURLFetcher(registry, generated=generated)
    options = {}
    if state.output_profile is not None:
        options = {"color_profiles": {OUTPUT_INTENT: state.output_profile}, "output_intent": OUTPUT_INTENT}
    with state.lock:  # the font configuration, image cache and profile are shared: renders take turns
        data = _LetterHTML(string=html, url_fetcher=fetcher).write_pdf(
            stylesheets=[state.stylesheet],
            font_config=state.font_config,
            pdf_variant=PDF_VARIANT,
            pdf_tags=True,
            cache=state.image_cache,
            optimize_images=True,
            **options,
        )
        _forget_generated_images(state.image_cache, generated)
    if fetcher.refused:
        raise DocumentFetchError(fetcher.refused)
    return RenderedPdf(data=data, sha256=hashlib.sha256(data).hexdigest(), size=len(data), fetch_log=list(fetcher.log))
