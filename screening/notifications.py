"""E-mail notifications, sent by the outbox after the change that causes them is committed.

    notify(session, "decision_issued", recipients=[researcher],
           context={"proposal_id": 7, "proposal_title": "…", "outcome": "approved"})

* :func:`notify` checks the event, the recipients and the context (plain values only: ids,
  strings, numbers, dates; never ORM objects) and enqueues ONE ``mail.send`` outbox message per
  recipient in the caller's transaction. Nothing leaves before commit; a rollback sends nothing.
* Events are data (:data:`EVENTS`, :func:`register_event`): the context keys each needs, allowed
  values, the default link and an example context that the tests render in every language.
* The ``mail.send`` handler renders ``templates/mail/<event>.<language>.txt`` (blocks ``subject``
  and ``body``) in an immutable sandbox with autoescape on for every template, adds an HTML
  alternative, and hands the message to a :class:`MailTransport` (SMTP, .eml files, memory).
* Idempotency, at-least-once: the message is sent, then a :class:`SentMail` row (unique per
  outbox message) is written in the transaction that marks the outbox message done. A crash
  between the two sends the mail again on retry, with the same ``Message-ID``; a message whose
  row exists is never sent again. See docs/web.md, "Notifications".
"""

import logging
import os
import re
import smtplib
import ssl
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime as email_date
from email.utils import formataddr, parseaddr
from functools import lru_cache
from html import unescape as html_unescape
from pathlib import Path
from typing import Any, Protocol

from babel.dates import format_date, format_datetime
from flask import current_app, has_app_context
from jinja2 import FileSystemLoader, StrictUndefined, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from sqlmodel import Session, select

from screening.core import outbox
from screening.core.database import utcnow
from screening.core.models import OutboxMessage
from screening.core.template_context import validate_context
from screening.models import User
from screening.notification_models import SentMail

log = logging.getLogger(__name__)

MAIL_TASK = "mail.send"
LANGUAGES = ("en", "de")
TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates" / "mail"
# Keys the renderer sets itself; a caller's context may not use them.
RESERVED_KEYS = frozenset({"language", "action_url", "base_url", "recipient_name", "subject", "body"})
_EMAIL_RE = re.compile(r"^[^@\s<>,;:\"()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})$")
_PATH_RE = re.compile(r"^/(?![/\\])[A-Za-z0-9/_.~%-]*$")


class NotificationError(ValueError):
    """``notify`` was called with an unknown event, a bad recipient or an unusable context."""


# ------------------------------------------------------------------------------------- events

@dataclass(frozen=True, slots=True)
class MailEvent:
    """One kind of notification. Templates: ``mail/<name>.<language>.txt`` for every language."""

    name: str
    audience: str  # who receives it (documentation and previews)
    required: tuple[str, ...]  # context keys the templates need
    optional: tuple[str, ...] = ()  # keys the templates use when present
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # allowed values per key
    link: str | None = None  # default local path, formatted with the context, e.g. "/proposals/{proposal_id}"
    example: Mapping[str, Any] = field(default_factory=dict)  # renders in every language (tests)


EVENTS: dict[str, MailEvent] = {}


def register_event(event: MailEvent) -> MailEvent:
    """Add an event (other modules may add theirs); its templates must exist in every language."""
    if event.name in EVENTS:
        raise ValueError(f"mail event {event.name!r} registered twice")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", event.name):
        raise ValueError(f"mail event name {event.name!r} must be lower_snake_case")
    clash = RESERVED_KEYS & set(event.required + event.optional)
    if clash:
        raise ValueError(f"mail event {event.name!r} uses reserved context keys {sorted(clash)}")
    missing = [lang for lang in LANGUAGES if not (TEMPLATE_DIR / f"{event.name}.{lang}.txt").is_file()]
    if missing:
        raise ValueError(f"mail event {event.name!r} has no template for {', '.join(missing)}")
    EVENTS[event.name] = event
    return event


OUTCOMES = ("approved", "approved_with_conditions", "declined")
TIERS = ("low", "medium", "high", "critical")
_TITLE = "Coastal sediment transport modelling"

register_event(MailEvent(
    "information_requested", audience="researcher",
    required=("proposal_id", "proposal_title", "questions"), optional=("due_date", "institution_name"),
    link="/proposals/{proposal_id}",
    example={"proposal_id": 1, "proposal_title": _TITLE, "questions": "Which data leave the EU?",
             "due_date": "2026-12-24"},
))
register_event(MailEvent(
    "decision_issued", audience="researcher",
    required=("proposal_id", "proposal_title", "outcome"), optional=("institution_name",),
    choices={"outcome": OUTCOMES}, link="/proposals/{proposal_id}",
    example={"proposal_id": 1, "proposal_title": _TITLE, "outcome": "approved_with_conditions"},
))
register_event(MailEvent(
    "case_new", audience="committee",
    required=("case_id", "proposal_title", "tier"), optional=("due_date", "researcher_name", "institution_name"),
    choices={"tier": TIERS}, link="/review/cases/{case_id}",
    example={"case_id": 1, "proposal_title": _TITLE, "tier": "high", "due_date": "2026-12-24",
             "researcher_name": "Dr. Ada Example"},
))
register_event(MailEvent(
    "case_resubmitted", audience="committee",
    required=("case_id", "proposal_title", "version_number"), optional=("researcher_name", "institution_name"),
    link="/review/cases/{case_id}",
    example={"case_id": 1, "proposal_title": _TITLE, "version_number": 2, "researcher_name": "Dr. Ada Example"},
))
register_event(MailEvent(
    "case_overdue", audience="committee",
    required=("case_id", "proposal_title", "due_date"), optional=("institution_name",),
    link="/review/cases/{case_id}",
    example={"case_id": 1, "proposal_title": _TITLE, "due_date": "2026-12-24"},
))
register_event(MailEvent(
    "advisor_invited", audience="external_advisor",
    required=("case_id", "proposal_title", "inviter_name"), optional=("expires_at", "institution_name"),
    link="/review/cases/{case_id}",
    example={"case_id": 1, "proposal_title": _TITLE, "inviter_name": "Prof. Chair Example",
             "expires_at": "2026-12-24T12:00:00+00:00"},
))


# ------------------------------------------------------------------------------------- notify

@dataclass(frozen=True, slots=True)
class _Recipient:
    email: str
    language: str
    name: str | None = None
    user_id: int | None = None


def notify(session: Session, event: str, *, recipients: Sequence[User] | Sequence[tuple[str, str | None]],
           context: Mapping[str, Any], path: str | None = None,
           default_language: str | None = None) -> list[OutboxMessage]:
    """Enqueue one ``mail.send`` outbox message per recipient in the caller's transaction.

    ``recipients``: users (their ``language``; disabled accounts are skipped) or
    ``(email, language)`` pairs. Language falls back to ``default_language`` (e.g. the
    institution's), then the app's ``BABEL_DEFAULT_LOCALE``, then ``"en"``. The same address
    twice gets one message. ``path``: the local link (default: the event's ``link``), joined
    to ``BASE_URL`` when the mail is rendered. Raises :class:`NotificationError` (a
    ``ValueError``) or ``TypeError`` (a non-plain context value) before enqueueing anything.
    """
    spec = EVENTS.get(event)
    if spec is None:
        raise NotificationError(f"unknown mail event {event!r}")
    plain = _plain_context(spec, context)
    link = _local_path(path if path is not None else _default_link(spec, plain))
    fallback = _fallback_language(default_language)
    resolved: list[_Recipient] = []
    seen: set[str] = set()
    for recipient in _recipients(recipients, fallback):
        if recipient.email.lower() not in seen:
            seen.add(recipient.email.lower())
            resolved.append(recipient)
    messages = []
    for recipient in resolved:
        payload = {
            "event": spec.name,
            "to": recipient.email,
            "name": recipient.name,
            "user_id": recipient.user_id,
            "language": recipient.language,
            "context": plain,
            "path": link,
            "token": uuid.uuid4().hex,  # makes the Message-ID unique across databases, stable across retries
        }
        messages.append(outbox.enqueue(session, MAIL_TASK, payload))
    return messages


def _plain_context(spec: MailEvent, context: Mapping[str, Any]) -> dict[str, Any]:
    checked = validate_context(context)  # TypeError for ORM objects, Markup, callables, …
    clash = RESERVED_KEYS & checked.keys()
    if clash:
        raise NotificationError(f"{spec.name}: reserved context keys {sorted(clash)}")
    missing = [key for key in spec.required if checked.get(key) in (None, "")]
    if missing:
        raise NotificationError(f"{spec.name}: context lacks {', '.join(missing)}")
    for key, allowed in spec.choices.items():
        if key in checked and checked[key] not in allowed:
            raise NotificationError(f"{spec.name}: {key} must be one of {', '.join(allowed)}")
    return _jsonable(checked)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _default_link(spec: MailEvent, context: dict) -> str | None:
    if spec.link is None:
        return None
    try:
        return spec.link.format(**{k: v for k, v in context.items() if isinstance(v, int | str)})
    except (KeyError, IndexError, ValueError) as exc:
        raise NotificationError(f"{spec.name}: link {spec.link!r} needs {exc}") from exc


def _local_path(path: str | None) -> str | None:
    if path is None:
        return None
    if type(path) is not str or len(path) > 500 or not _PATH_RE.match(path):
        raise NotificationError(f"link path must be a local path like /proposals/1, got {path!r:.80}")
    return path


def _fallback_language(default_language: str | None) -> str:
    if default_language in LANGUAGES:
        return default_language
    if has_app_context() and current_app.config.get("BABEL_DEFAULT_LOCALE") in LANGUAGES:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return "en"


def _recipients(recipients, fallback: str) -> Iterable[_Recipient]:
    if isinstance(recipients, str | bytes) or not isinstance(recipients, Sequence):
        raise NotificationError("recipients must be a list of users or (email, language) pairs")
    for item in recipients:
        if isinstance(item, User):
            if not item.is_active:
                log.info("notification to disabled user %s skipped", item.id)
                continue
            email, language, name, user_id = item.email, item.language, item.name, item.id
        elif isinstance(item, tuple) and len(item) == 2:
            (email, language), name, user_id = item, None, None
        else:
            raise NotificationError(f"recipient must be a User or an (email, language) pair, got {type(item).__name__}")
        if type(email) is not str or len(email) > 254 or not _EMAIL_RE.match(email):
            raise NotificationError(f"invalid recipient address {email!r:.80}")
        if name is not None:
            name = " ".join(str(name).split())[:200] or None
        yield _Recipient(email, language if language in LANGUAGES else fallback, name, user_id)


# ------------------------------------------------------------------------------------ render

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
    values = {**_plain_context(spec, context), "language": language, "action_url": action_url,
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


# -------------------------------------------------------------------------------- transports

class MailTransport(Protocol):
    name: str

    def send(self, message: EmailMessage, sender: str, recipients: list[str]) -> None:
        """Deliver or raise; raising leaves the outbox message to be retried."""


class SMTPTransport:
    name = "smtp"

    def __init__(self, host: str, port: int = 587, user: str | None = None, password: str | None = None,
                 starttls: bool = True, use_ssl: bool = False, timeout: float = 10) -> None:
        self.host, self.port, self.user, self.password = host, int(port), user, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout

    def send(self, message: EmailMessage, sender: str, recipients: list[str]) -> None:
        context = ssl.create_default_context()
        if self.use_ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client as smtp:
            if self.starttls and not self.use_ssl:
                smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password or "")
            refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)


class FileTransport:
    """Embedded default: one ``.eml`` file per message; a resent message overwrites its own file."""

    name = "file"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage, sender: str, recipients: list[str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", str(message["Message-ID"]).strip("<>"))
        target = self.directory / f"{stem}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.as_bytes(policy=SMTP_POLICY))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class MemoryTransport:
    """Tests (``TESTING`` without SMTP): messages kept in ``app.extensions["mail_outbox"]``."""

    name = "memory"

    def __init__(self, store: list) -> None:
        self.store = store

    def send(self, message: EmailMessage, sender: str, recipients: list[str]) -> None:
        self.store.append(message)


def memory_outbox(app=None) -> list[EmailMessage]:
    """The messages the memory transport has "sent" (tests)."""
    app = app or current_app
    return app.extensions.setdefault("mail_outbox", [])


def transport_kind(config: Mapping) -> str:
    kind = config.get("MAIL_TRANSPORT")
    if kind:
        return str(kind)
    if config.get("MAIL_SMTP_HOST"):
        return "smtp"
    return "memory" if config.get("TESTING") else "file"


def get_transport(app=None) -> MailTransport:
    """The transport the configuration asks for (see docs/web.md, "Notifications")."""
    app = app or current_app
    cfg = app.config
    kind = transport_kind(cfg)
    if kind == "smtp":
        if not cfg.get("MAIL_SMTP_HOST"):
            raise RuntimeError("MAIL_TRANSPORT is smtp but SCREENING_MAIL_SMTP_HOST is not set")
        return SMTPTransport(cfg["MAIL_SMTP_HOST"], cfg.get("MAIL_SMTP_PORT") or 587, cfg.get("MAIL_SMTP_USER"),
                             cfg.get("MAIL_SMTP_PASSWORD"), bool(cfg.get("MAIL_SMTP_STARTTLS")),
                             bool(cfg.get("MAIL_SMTP_SSL")), float(cfg.get("MAIL_SMTP_TIMEOUT") or 10))
    if kind == "file":
        return FileTransport(cfg.get("MAIL_FILE_DIR") or Path(app.instance_path) / "mail")
    if kind == "memory":
        return MemoryTransport(memory_outbox(app))
    raise RuntimeError(f"unknown MAIL_TRANSPORT {kind!r} (smtp, file or memory)")


# ------------------------------------------------------------------------------- the handler

def build_message(payload: Mapping[str, Any], outbox_id: int, config: Mapping) -> EmailMessage:
    """The complete e-mail for one outbox message (pure; same Message-ID on every retry)."""
    base_url = str(config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    action_url = base_url + payload["path"] if payload.get("path") else None
    rendered = render_mail(payload["event"], payload["language"], payload["context"], action_url=action_url,
                           recipient_name=payload.get("name"))
    sender = str(config.get("MAIL_FROM") or "screening@localhost")
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage(policy=SMTP_POLICY)
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = formataddr((payload["name"], payload["to"])) if payload.get("name") else payload["to"]
    message["Date"] = email_date(utcnow())
    message["Message-ID"] = f"<screening.{outbox_id}.{payload['token']}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    message["X-Screening-Event"] = payload["event"]
    message.set_content(rendered.text, charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    message["Content-Language"] = payload["language"]  # after set_content, which drops Content-* headers
    return message


def _record_sent(session: Session, message: OutboxMessage, payload: Mapping, email: EmailMessage,
                 transport: MailTransport) -> None:
    session.add(SentMail(outbox_message_id=message.id, event=payload["event"], recipient=payload["to"],
                         language=payload["language"], message_id=str(email["Message-ID"]),
                         transport=transport.name))
    session.flush()


@outbox.outbox_task(MAIL_TASK)
def send_mail(session: Session, payload: dict[str, Any], message: OutboxMessage) -> None:
    """Render and deliver one notification; at-least-once, never again once recorded as sent."""
    already = session.scalar(select(SentMail.id).where(SentMail.outbox_message_id == message.id))
    if already is not None:
        log.info("mail for outbox message %s was already sent; not sending again", message.id)
        return
    app = current_app._get_current_object()
    email = build_message(payload, message.id, app.config)
    transport = get_transport(app)
    sender = parseaddr(str(app.config.get("MAIL_FROM") or ""))[1] or "screening@localhost"
    transport.send(email, sender, [payload["to"]])
    # Sent: record it in the transaction that marks the outbox message done. Should this commit
    # fail, the retry sends again with the same Message-ID (at-least-once, see the module doc).
    _record_sent(session, message, payload, email, transport)
    # The link may carry a one-time secret (an advisor's set-password token): keep it no longer.
    message.payload = {**payload, "path": None}
    session.add(message)

