"""Where rendered mails go: SMTP, ``.eml`` files (the embedded default) or memory (tests)."""

import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Protocol

from flask import current_app


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
