"""Permanent mail failures: an SMTP 5xx refusing the mail is final, a 4xx is retried (issue 14, item 7).

A real SMTP server (aiosmtpd on 127.0.0.1) answers 550 for one mailbox and 451 for another. The
550 mail is marked failed after one attempt, its reason is kept, the audit records it, and the
institution's administrators (and nobody else, and no other institution) see it at
/admin/notifications. A 5xx about the service's own settings (535: wrong SMTP password) would
refuse every mail alike, so it is retried: once the password is fixed the queued mail goes out.
"""

import logging
import smtplib
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlmodel import select

from screening.core import outbox
from screening.core.extensions import db
from screening.core.models import AuditEvent, OutboxMessage
from screening.notifications.models import FailedMail, SentMail
from screening.notifications.service import notify
from screening.notifications.tasks import smtp_reply_code

from .test_notifications import Recorder, _decision, _free_port, _use_smtp, smtp_server

GONE = "left-the-university@nordhafen.example"
GREYLISTED = "greylisted@nordhafen.example"


class RefusingServer(Recorder):
    """Refuses one mailbox for good (550) and another for now (451) at RCPT TO."""

    def __init__(self):
        super().__init__()
        self.greylisting = True
        self.refused_too = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in (GONE, self.refused_too):
            return f"550 5.1.1 <{address}>: mailbox unknown"
        if address == GREYLISTED and self.greylisting:
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def refusing_smtp(app, monkeypatch):
    with smtp_server(app, monkeypatch, RefusingServer()) as server:
        monkeypatch.setattr(outbox, "publish", lambda ids: None)  # each attempt is run by hand below
        yield server


def _mail_to(factory, inst, address: str) -> OutboxMessage:
    user = factory.user(inst, email=address)
    [message] = notify(db.session, "decision_issued", recipients=[user], context=_decision(),
                       institution_id=inst.id)
    db.session.commit()
    return message


def _fresh(model, key):
    db.session.expire_all()
    return db.session.get(model, key)


def test_a_5xx_fails_at_once_and_a_4xx_is_retried_until_delivered(factory, refusing_smtp):
    inst = factory.institution()
    gone = _mail_to(factory, inst, GONE)
    greylisted = _mail_to(factory, inst, GREYLISTED)

    assert outbox._attempt(gone.id) == ("failed", None)  # not retried
    stored = _fresh(OutboxMessage, gone.id)
    assert stored.status == "failed" and stored.attempts == 1 and "550" in stored.last_error
    [failure] = db.session.exec(select(FailedMail).where(FailedMail.outbox_message_id == gone.id)).all()
    assert (failure.smtp_code, failure.permanent, failure.recipient, failure.institution_id) == \
        (550, True, GONE, inst.id)
    assert "mailbox unknown" in failure.reason
    [event] = db.session.exec(select(AuditEvent).where(AuditEvent.action == "mail.failed")).all()
    assert event.object_id == str(gone.id) and event.institution_id == inst.id
    assert event.details["smtp_code"] == 550 and event.details["permanent"] is True

    status, error = outbox._attempt(greylisted.id)
    assert status == "pending" and isinstance(error, smtplib.SMTPRecipientsRefused)
    assert smtp_reply_code(error) == 451
    stored = _fresh(OutboxMessage, greylisted.id)
    assert stored.status == "pending" and stored.attempts == 1 and "451" in stored.last_error
    assert db.session.exec(select(FailedMail).where(FailedMail.outbox_message_id == greylisted.id)).first() is None

    refusing_smtp.greylisting = False
    assert outbox._attempt(greylisted.id) == ("done", None)
    assert len(refusing_smtp.to(GREYLISTED)) == 1 and refusing_smtp.to(GONE) == []
    assert db.session.exec(select(SentMail.recipient)).all() == [GREYLISTED]


def test_a_5xx_after_the_data_is_final_too(factory, refusing_smtp, monkeypatch):
    async def refuse_data(server, session, envelope):
        return "554 5.6.0 Message rejected as spam"

    monkeypatch.setattr(refusing_smtp, "handle_DATA", refuse_data)
    inst = factory.institution()
    message = _mail_to(factory, inst, "chair@nordhafen.example")
    assert outbox._attempt(message.id) == ("failed", None)
    failure = db.session.exec(select(FailedMail).where(FailedMail.outbox_message_id == message.id)).one()
    assert failure.smtp_code == 554 and failure.permanent and "spam" in failure.reason


def test_retries_exhausted_on_a_4xx_are_listed_as_temporary(factory, refusing_smtp):
    inst = factory.institution()
    message = _mail_to(factory, inst, GREYLISTED)
    for _ in range(outbox.MAX_RETRIES):
        assert outbox._attempt(message.id)[0] == "pending"
    assert outbox._attempt(message.id) == ("failed", None)
    failure = db.session.exec(select(FailedMail).where(FailedMail.outbox_message_id == message.id)).one()
    assert failure.smtp_code == 451 and not failure.permanent


def test_admins_see_the_failures_of_their_own_institution_only(app, factory, refusing_smtp):
    own, other = factory.institution(), factory.institution()
    admin = factory.user(own, "institution_admin")
    office = factory.user(own, "international_office")
    outbox._attempt(_mail_to(factory, own, GONE).id)
    refusing_smtp.refused_too = "other-institution@nordhafen.example"
    outbox._attempt(_mail_to(factory, other, "other-institution@nordhafen.example").id)

    client = app.test_client()
    factory.login(client, admin, own)
    page = client.get("/admin/notifications/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert GONE in html and "550" in html and "mailbox unknown" in html
    assert "other-institution@" not in html

    factory.login(client, factory.user(other, "institution_admin"), other)
    html = client.get("/admin/notifications/").get_data(as_text=True)
    assert GONE not in html and "other-institution@nordhafen.example" in html

    factory.login(client, office, own)
    assert client.get("/admin/notifications/").status_code == 403


def test_a_failing_failure_hook_still_leaves_the_mail_failed(factory, refusing_smtp, monkeypatch):
    def broken_hook(session, payload, message, error):
        raise RuntimeError("the failure could not be recorded")

    monkeypatch.setitem(outbox.FAILURE_HOOKS, "mail.send", broken_hook)
    message = _mail_to(factory, factory.institution(), GONE)
    assert outbox._attempt(message.id) == ("failed", None)
    stored = _fresh(OutboxMessage, message.id)
    assert stored.status == "failed" and stored.attempts == 1 and "550" in stored.last_error


SMTP_USER, SMTP_PASSWORD = "screening-relay", "relay-password-of-the-university"


@contextmanager
def authenticating_smtp(app, monkeypatch, password: str):
    """A real SMTP server that requires AUTH (535 for a wrong password); the app logs in with ``password``."""
    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(handled=False, success=(auth_data.login, auth_data.password) ==
                          (SMTP_USER.encode(), SMTP_PASSWORD.encode()))

    recorder = Recorder()
    port = _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)  # plain AUTH on loopback: the test has no TLS
    controller.start()
    _use_smtp(app, monkeypatch, port)
    monkeypatch.setitem(app.config, "MAIL_SMTP_USER", SMTP_USER)
    monkeypatch.setitem(app.config, "MAIL_SMTP_PASSWORD", password)
    monkeypatch.setattr(outbox, "publish", lambda ids: None)  # each attempt is run by hand below
    try:
        yield recorder
    finally:
        controller.stop()


def test_a_wrong_smtp_password_is_retried_and_the_mail_goes_out_once_it_is_fixed(app, factory, monkeypatch,
                                                                                 caplog):
    with authenticating_smtp(app, monkeypatch, password="an-outdated-password") as server:
        inst = factory.institution()
        message = _mail_to(factory, inst, "chair@nordhafen.example")

        with caplog.at_level(logging.ERROR, logger="screening.notifications.tasks"):
            status, error = outbox._attempt(message.id)
        assert status == "pending" and isinstance(error, smtplib.SMTPAuthenticationError)
        assert smtp_reply_code(error) == 535
        assert any("mail settings" in r.getMessage() and "535" in r.getMessage() for r in caplog.records)
        assert _fresh(OutboxMessage, message.id).status == "pending"
        assert db.session.exec(select(FailedMail)).all() == []

        monkeypatch.setitem(app.config, "MAIL_SMTP_PASSWORD", SMTP_PASSWORD)  # the operator fixes it
        assert outbox._attempt(message.id) == ("done", None)
        assert len(server.to("chair@nordhafen.example")) == 1


def test_a_refused_sender_address_is_retried_but_a_too_large_mail_is_final(factory, refusing_smtp, monkeypatch):
    answers = iter(["553 5.7.1 Sender address not allowed", "552 5.3.4 Message size exceeds fixed limit"])

    async def refuse_sender(server, session, envelope, address, mail_options):
        return next(answers)

    monkeypatch.setattr(refusing_smtp, "handle_MAIL", refuse_sender, raising=False)
    inst = factory.institution()
    message = _mail_to(factory, inst, "chair@nordhafen.example")
    status, error = outbox._attempt(message.id)
    assert status == "pending" and smtp_reply_code(error) == 553
    assert outbox._attempt(message.id) == ("failed", None)
    failure = db.session.exec(select(FailedMail).where(FailedMail.outbox_message_id == message.id)).one()
    assert failure.smtp_code == 552 and failure.permanent
