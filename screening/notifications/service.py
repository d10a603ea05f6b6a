"""``notify``: one ``mail.send`` outbox message per recipient, in the caller's transaction."""

import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlmodel import Session, select

from screening.accounts.models import User
from screening.accounts.service import Actor
from screening.core import outbox
from screening.core.errors import Forbidden
from screening.core.models import OutboxMessage
from screening.notifications.events import EVENTS, LANGUAGES, MailEvent, NotificationError, plain_context
from screening.notifications.models import FailedMail

log = logging.getLogger(__name__)

MAIL_TASK = "mail.send"
_EMAIL_RE = re.compile(r"^[^@\s<>,;:\"()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})$")
_PATH_RE = re.compile(r"^/(?![/\\])[A-Za-z0-9/_.~%-]*$")


@dataclass(frozen=True, slots=True)
class _Recipient:
    email: str
    language: str
    name: str | None = None
    user_id: int | None = None


def notify(session: Session, event: str, *, recipients: Sequence[User] | Sequence[tuple[str, str | None]],
           context: Mapping[str, Any], path: str | None = None,
           default_language: str | None = None, institution_id: int | None = None) -> list[OutboxMessage]:
    """Enqueue one ``mail.send`` outbox message per recipient in the caller's transaction.

    ``recipients``: users (their ``language``; disabled accounts are skipped) or
    ``(email, language)`` pairs. Language falls back to ``default_language`` (e.g. the
    institution's), then the app's ``BABEL_DEFAULT_LOCALE``, then ``"en"``. The same address
    twice gets one message. ``institution_id``: the institution the mail is sent for (its
    administrators see the mail if it fails for good). ``path``: the local link (default: the event's ``link``), joined
    to ``BASE_URL`` when the mail is rendered. Raises :class:`NotificationError` (a
    ``ValueError``) or ``TypeError`` (a non-plain context value) before enqueueing anything.
    """
    spec = EVENTS.get(event)
    if spec is None:
        raise NotificationError(f"unknown mail event {event!r}")
    plain = plain_context(spec, context)
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
            "institution_id": institution_id,
            "token": uuid.uuid4().hex,  # makes the Message-ID unique across databases, stable across retries
        }
        messages.append(outbox.enqueue(session, MAIL_TASK, payload))
    return messages


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


def failed_mails(session: Session, actor: Actor, limit: int = 200) -> list[FailedMail]:
    """The notifications of the actor's institution that were given up, newest first (institution admins)."""
    if not actor.has("institution_admin"):
        raise Forbidden("institution administrators only")
    return list(session.exec(
        select(FailedMail).where(FailedMail.institution_id == actor.institution_id)
        .order_by(FailedMail.failed_at.desc(), FailedMail.id.desc()).limit(limit)
    ).all())
