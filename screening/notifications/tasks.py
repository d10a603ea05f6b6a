"""The ``mail.send`` outbox handler: render, deliver, record (at-least-once; see the package doc)."""

import logging
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime as email_date
from email.utils import formataddr, parseaddr
from typing import Any

from flask import current_app
from sqlmodel import Session, select

from screening.core import audit, outbox
from screening.core.database import utcnow
from screening.core.models import OutboxMessage
from screening.notifications.models import FailedMail, SentMail
from screening.notifications.render import render_mail
from screening.notifications.service import MAIL_TASK
from screening.notifications.transports import MailTransport, get_transport

log = logging.getLogger(__name__)


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


def smtp_reply_code(exc: BaseException) -> int | None:
    """The SMTP reply code of a refusal (the worst one when several recipients were refused), else None."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values() if isinstance(code, int)]
        return max(codes) if codes else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code if isinstance(exc.smtp_code, int) else None
    return None


def _deliver(transport: MailTransport, email: EmailMessage, sender: str, recipient: str) -> None:
    """Send. A 5xx refusal of this mail is final: the same mail gets the same answer. Anything
    else is retried, including a 5xx about our own settings (see :func:`refuses_this_mail`)."""
    try:
        transport.send(email, sender, [recipient])
    except smtplib.SMTPException as exc:
        if refuses_this_mail(exc):
            raise outbox.PermanentFailure(f"SMTP {smtp_reply_code(exc)}: {_reply_text(exc)}") from exc
        if (smtp_reply_code(exc) or 0) >= 500:
            # Wrong credentials (535), TLS or AUTH required (530), a sender address the server does not
            # accept: every mail fails alike until an operator fixes the settings, after which the
            # queued mails still go out. Failing them for good would lose every notice meanwhile.
            log.error("the mail server refused the service's mail settings (%s: SMTP %s %s); the mail is retried",
                      type(exc).__name__, smtp_reply_code(exc), _reply_text(exc))
        raise


def refuses_this_mail(exc: smtplib.SMTPException) -> bool:
    """A 5xx about this recipient (RCPT TO) or this message (DATA, or its size at MAIL FROM)."""
    code = smtp_reply_code(exc)
    if code is None or code < 500:
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError):
        return True
    return isinstance(exc, smtplib.SMTPSenderRefused) and code == 552  # message too large


def _reply_text(exc: smtplib.SMTPException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = exc.recipients.values()
    else:
        replies = [(getattr(exc, "smtp_code", None), getattr(exc, "smtp_error", b""))]
    texts = [text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text) for _code, text in replies]
    return "; ".join(texts)[:500]


def record_failure(session: Session, payload: dict[str, Any], message: OutboxMessage, error: BaseException) -> None:
    """The outbox gave up on this mail: keep who did not get what and why, for the admins, and audit it."""
    permanent = isinstance(error, outbox.PermanentFailure)
    code = smtp_reply_code(error.__cause__ if permanent else error)
    reason = message.last_error or f"{type(error).__name__}: {error}"
    institution_id = payload.get("institution_id")
    session.add(FailedMail(outbox_message_id=message.id, institution_id=institution_id, event=payload["event"],
                           recipient=payload["to"], smtp_code=code, permanent=permanent, reason=reason))
    session.flush()
    audit.record(session, None, "mail.failed", "outbox_message", message.id, institution_id,
                 {"event": payload["event"], "recipient": payload["to"], "smtp_code": code,
                  "permanent": permanent, "reason": reason[:500]})


@outbox.outbox_task(MAIL_TASK, on_failed=record_failure)
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
    _deliver(transport, email, sender, payload["to"])
    # Sent: record it in the transaction that marks the outbox message done. Should this commit
    # fail, the retry sends again with the same Message-ID (at-least-once, see the module doc).
    _record_sent(session, message, payload, email, transport)
    # The link may carry a one-time secret (an advisor's set-password token): keep it no longer.
    message.payload = {**payload, "path": None}
    session.add(message)
