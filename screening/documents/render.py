"""The one way to turn a letter template and plain data into a PDF.

    render_pdf("decision_letter.html", context, language="de", title=..., author=...)

* Jinja: an immutable sandbox, autoescaping every template whatever its name, strict undefined
  values, templates only from ``templates/letters``; the context is checked first
  (:func:`screening.documents.context.validate_context`).
* WeasyPrint: a :class:`~screening.documents.fetcher.StrictURLFetcher` that serves registered
  ``asset:`` names only; any refused load fails the render (:class:`DocumentFetchError`).
* Output: PDF/A-3u, tagged, with title, author (the institution) and language set.
* Speed: the stylesheet is parsed and the fonts are loaded once per asset registry and process;
  later renders reuse them (and the decoded logo images).
"""

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

import segno
from jinja2 import FileSystemLoader, StrictUndefined, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from .assets import TEMPLATE_DIR, AssetError, AssetRegistry, default_registry
from .context import ContextError, validate_context
from .fetcher import StrictURLFetcher
from .i18n import LANGUAGES, Translator, format_date

PDF_VARIANT = "pdf/a-3u"
STYLESHEET_ASSET = "letter.css"
RESERVED_NAMES = frozenset({"document", "t", "fmt_date", "qr_svg", "asset_url", "page_counter"})
MAX_METADATA = 500
MAX_QR_TEXT = 500
_TEMPLATE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*\.html$")


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
            return ColorProfile(handle, "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"]))
    except (ImportError, OSError, TypeError):  # pragma: no cover - other WeasyPrint layouts
        return None


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
            registry.render_state = _RenderState(
                font_config, stylesheet, {}, threading.Lock(), fetcher.log, _load_output_profile()
            )
        return registry.render_state


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


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code of ``text`` (drawn as one path; made here, no network)."""
    if type(text) is not str or not text or len(text) > MAX_QR_TEXT:
        raise ContextError("QR code text must be a non-empty string of at most 500 characters")
    return Markup(_qr_svg(text))  # noqa: S704 - SVG path data made by segno, no input text in it


@lru_cache(maxsize=64)
def _qr_svg(text: str) -> str:
    # A fixed mask pattern is as valid as the one segno would pick after scoring all eight, and it
    # saves most of the encoding time. The output is path data only, no text from ``text``.
    code = segno.make(text, error="m", micro=False, mask=2)
    return code.svg_inline(scale=1, border=2, omitsize=True, svgclass=None, lineclass=None)


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

    def asset_url(name: str) -> str:
        if name not in registry:
            raise AssetError(f"unknown asset: {name!r}")
        return "asset:" + name

    values.update(
        document={
            "language": language,
            "title": _check_metadata("title", title),
            "author": _check_metadata("author", author),
            "created": created.isoformat() if created is not None else None,
        },
        t=translate,
        fmt_date=lambda value: format_date(value, language),
        qr_svg=qr_svg,
        asset_url=asset_url,
        page_counter=page_counter_content(translate("page_of")),
    )
    try:
        template = _environment().get_template(template_name)
        return template.render(values)
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
    html = render_html(
        template_name, context, language=language, title=title, author=author, assets=registry, created=created
    )
    state = _render_state(registry)
    fetcher = StrictURLFetcher(registry)
    options = {}
    if state.output_profile is not None:
        options = {"color_profiles": {OUTPUT_INTENT: state.output_profile}, "output_intent": OUTPUT_INTENT}
    with state.lock:  # the font configuration, image cache and profile are shared: renders take turns
        data = HTML(string=html, url_fetcher=fetcher).write_pdf(
            stylesheets=[state.stylesheet],
            font_config=state.font_config,
            pdf_variant=PDF_VARIANT,
            pdf_tags=True,
            cache=state.image_cache,
            optimize_images=True,
            **options,
        )
    if fetcher.refused:
        raise DocumentFetchError(fetcher.refused)
    return RenderedPdf(data=data, sha256=hashlib.sha256(data).hexdigest(), size=len(data), fetch_log=list(fetcher.log))
