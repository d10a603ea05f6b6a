"""Mail templates rendered in an immutable sandbox, autoescaped, with a text and an HTML part."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from html import unescape as html_unescape
from typing import Any

from babel.dates import format_date, format_datetime
from jinja2 import FileSystemLoader, StrictUndefined, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from screening.notifications.events import EVENTS, LANGUAGES, TEMPLATE_DIR, NotificationError, plain_context


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    text: str  # the text/plain part: values appear exactly as given
    html: str  # the text/html alternative: values HTML-escaped


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """The mail templates' Jinja environment: sandboxed, autoescape for EVERY template (.txt too)."""
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,  # whatever the file name; see render_mail for the text part
        undefined=StrictUndefined,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(date=_date_filter, datetime=_datetime_filter)
    return env


def _parse(value) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    text = str(value)
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


@pass_context
def _date_filter(ctx, value) -> str:
    parsed = _parse(value)
    return format_date(parsed.date() if isinstance(parsed, datetime) else parsed, "long", locale=ctx["language"])


@pass_context
def _datetime_filter(ctx, value) -> str:
    parsed = _parse(value)
    if not isinstance(parsed, datetime):
        return format_date(parsed, "long", locale=ctx["language"])
    return format_datetime(parsed, "long", tzinfo=UTC, locale=ctx["language"])


def render_mail(event: str, language: str, context: Mapping[str, Any], *, action_url: str | None = None,
                recipient_name: str | None = None) -> RenderedMail:
    """Render subject, text and HTML of ``event`` in ``language`` from plain ``context`` values.

    Every template is autoescaped, so the rendered text is HTML-safe: the HTML alternative embeds
    it as it is. The text/plain part is that same output unescaped once (``html.unescape``:
    ``&amp;`` back to ``&``), which gives back each value exactly as given, so "R&D" does not read
    "R&amp;D" in a text mail. Values are data, never evaluated as templates.
    """
    spec = EVENTS[event]
    if language not in LANGUAGES:
        raise NotificationError(f"no mail templates in language {language!r}")
    values = {**plain_context(spec, context), "language": language, "action_url": action_url,
              "recipient_name": recipient_name}
    env = environment()
    template = env.get_template(f"{event}.{language}.txt")
    escaped_subject = "".join(template.blocks["subject"](template.new_context(values)))
    escaped_body = template.render(values).strip() + "\n"
    subject = " ".join(html_unescape(escaped_subject).split())
    text = html_unescape(escaped_body)
    safe_body = Markup(escaped_body)  # noqa: S704 - the autoescaped output of our own template
    html = env.get_template("_layout.html").render(language=language, subject=subject, body=safe_body,
                                                   action_url=action_url)
    return RenderedMail(subject=subject, text=text, html=html)
