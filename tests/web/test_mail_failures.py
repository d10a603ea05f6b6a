"""Permanent mail failures: an SMTP 5xx is final, a 4xx is retried (issue 14, item 7).

A real SMTP server (aiosmtpd on 127.0.0.1) answers 550 for one mailbox and 451 for another. The
550 mail is marked failed after one attempt, its reason is kept, the audit records it, and the
institution's administrators (and nobody else, and no other institution) see it at
/admin/notifications.
"""

import smtplib

import pytest
from sqlmodel import select

from screening.core import outbox
from screening.core.extensions import db
from screening.core.models import AuditEvent, OutboxMessage
from screening.notifications.models import FailedMail, SentMail
from screening.notifications.service import notify
from screening.notifications.tasks import smtp_reply_code

from .test_notifications import Recorder, _decision, smtp_server

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
