"""Notifications: one outbox message per recipient, sent after commit, in the recipient's language.

A real SMTP server (aiosmtpd on 127.0.0.1, a free port) receives the mails; the file transport
writes .eml files; injection strings stay literal (scorecard 5); retries never send twice once a
mail is recorded; an SMTP outage never fails the request that enqueued the mail (scorecard 16).
"""

import email
import socket
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update
from sqlmodel import select

from screening.core import outbox
from screening.core.extensions import db
from screening.core.models import OutboxMessage
from screening.notifications import events, render, tasks, transports
from screening.notifications.events import NotificationError
from screening.notifications.models import SentMail
from screening.notifications.service import notify
from screening.portfolio import notifications as portfolio_events  # noqa: F401 - registers its mail event
from screening.proposals import service as proposal_service
from screening.review import notifications as review_events  # noqa: F401 - registers the review's events

from .helpers import form_post_data

BASE_URL = "https://screening.example.org"
INJECTIONS = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "{{7*7}}", "{% raw %}", "R&D &amp;")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """aiosmtpd handler: keeps what it accepts; refuses the first ``refuse`` DATA commands."""

    def __init__(self):
        self.received: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Temporary failure, try again later"
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [msg for _, rcpts, msg in self.received if address in rcpts]


def _use_smtp(app, monkeypatch, port: int) -> None:
    for key, value in {"MAIL_TRANSPORT": None, "MAIL_SMTP_HOST": "127.0.0.1", "MAIL_SMTP_PORT": port,
                       "MAIL_SMTP_STARTTLS": False, "MAIL_SMTP_TIMEOUT": 5, "BASE_URL": BASE_URL,
                       "MAIL_FROM": "Screening Nordhafen <screening@nordhafen.example>"}.items():
        monkeypatch.setitem(app.config, key, value)


@contextmanager
def smtp_server(app, monkeypatch, handler):
    """``handler`` answers SMTP on 127.0.0.1 at a free port, where the app's mail settings point."""
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    _use_smtp(app, monkeypatch, port)
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def smtp(app, monkeypatch):
    with smtp_server(app, monkeypatch, Recorder()) as recorder:
        yield recorder


@pytest.fixture
def smtp_down(app, monkeypatch):
    """SMTP configured at a port nobody listens on."""
    port = _free_port()
    _use_smtp(app, monkeypatch, port)
    return port


@pytest.fixture
def memory(app):
    sent = transports.memory_outbox(app)
    sent.clear()
    yield sent
    sent.clear()


def _text(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def _html(msg) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def _fresh(model, key):
    db.session.expire_all()
    return db.session.get(model, key)


def _decision(proposal_id=7, title="Coastal sediment transport modelling", outcome="approved"):
    return {"proposal_id": proposal_id, "proposal_title": title, "outcome": outcome}


# ------------------------------------------------------------------------------ delivery

def test_each_recipient_gets_one_mail_in_their_language_over_smtp(factory, smtp):
    inst = factory.institution()
    german = factory.user(inst, language="de")
    english = factory.user(inst, language="en")
    messages = notify(db.session, "decision_issued", recipients=[german, english],
                      context=_decision(outcome="approved_with_conditions"))
    assert len(messages) == 2 and smtp.received == []  # nothing before commit
    db.session.commit()

    assert len(smtp.received) == 2
    [de] = smtp.to(german.email)
    [en] = smtp.to(english.email)
    assert smtp.received[0][0] == "screening@nordhafen.example"  # envelope sender
    assert de["Subject"] == "Entscheidung über Ihren Antrag: Coastal sediment transport modelling"
    assert "Unter Auflagen genehmigt" in _text(de) and f"Guten Tag {german.name}," in _text(de)
    assert de["Content-Language"] == "de"
    assert en["Subject"] == "Decision on your proposal: Coastal sediment transport modelling"
    assert "Approved with conditions" in _text(en) and f"Dear {english.name}," in _text(en)
    assert en["Content-Language"] == "en"
    for msg in (de, en):
        assert f"{BASE_URL}/proposals/7" in _text(msg)
        assert f'href="{BASE_URL}/proposals/7"' in _html(msg)
        assert msg["From"] == "Screening Nordhafen <screening@nordhafen.example>"
        assert msg["Auto-Submitted"] == "auto-generated"
    assert de["To"] == f"{german.name} <{german.email}>"

    sent = db.session.exec(select(SentMail).order_by(SentMail.id)).all()
    assert [(s.recipient, s.language, s.transport) for s in sent] == [
        (german.email, "de", "smtp"), (english.email, "en", "smtp")]
    # A long Message-ID (large outbox ids) is folded onto a continuation line; its value is the same.
    assert {s.message_id for s in sent} == {de["Message-ID"].strip(), en["Message-ID"].strip()}
    assert all(_fresh(OutboxMessage, m.id).status == "done" for m in messages)


def test_a_secret_in_the_link_is_dropped_from_the_outbox_once_sent(factory, memory):
    inst = factory.institution()
    advisor = factory.user(inst, "external_advisor")
    [message] = notify(db.session, "advisor_invited", recipients=[advisor], path="/review/advisor/welcome/s3cr3t-token",
                       context={"case_id": 4, "proposal_title": "T", "inviter_name": "Prof. Chair"})
    db.session.commit()
    assert "/review/advisor/welcome/s3cr3t-token" in _text(memory[0])
    stored = _fresh(OutboxMessage, message.id)
    assert stored.status == "done" and stored.payload["path"] is None and "s3cr3t" not in str(stored.payload)


@pytest.mark.parametrize("event", sorted(events.EVENTS))
def test_every_event_renders_in_german_and_english(event):
    spec = events.EVENTS[event]
    de = render.render_mail(event, "de", spec.example, action_url=f"{BASE_URL}/x")
    en = render.render_mail(event, "en", spec.example, action_url=f"{BASE_URL}/x")
    assert de.subject and en.subject and de.subject != en.subject
    assert de.text.startswith("Guten Tag,") and en.text.startswith("Hello,")
    assert "Diese Nachricht wurde automatisch versandt" in de.text
    assert f"{BASE_URL}/x" in de.text and f"{BASE_URL}/x" in en.text
    assert "<!DOCTYPE html>" in de.html and f'href="{BASE_URL}/x"' in en.html


def test_language_falls_back_to_the_given_default_then_english(memory):
    notify(db.session, "case_overdue", recipients=[("a@example.org", "fr"), ("b@example.org", None)],
           context={"case_id": 3, "proposal_title": "T", "due_date": date(2026, 12, 24)})
    notify(db.session, "case_overdue", recipients=[("c@example.org", None)], default_language="de",
           context={"case_id": 3, "proposal_title": "T", "due_date": date(2026, 12, 24)})
    db.session.commit()
    by_to = {m["To"]: m for m in memory}
    assert by_to["a@example.org"]["Content-Language"] == "en"
    assert "was due on December 24, 2026" in _text(by_to["b@example.org"])
    assert "war am 24. Dezember 2026 fällig" in _text(by_to["c@example.org"])


def test_duplicate_addresses_get_one_mail_and_disabled_users_none(factory, memory):
    inst = factory.institution()
    member = factory.user(inst, "committee_member")
    disabled = factory.user(inst, "committee_member")
    disabled.is_active = False
    db.session.add(disabled)
    db.session.commit()
    messages = notify(db.session, "case_new", recipients=[member, disabled, (member.email.upper(), "de")],
                      context={"case_id": 1, "proposal_title": "T", "tier": "high"})
    db.session.commit()
    assert len(messages) == 1
    assert [m["To"] for m in memory] == [f"{member.name} <{member.email}>"]


def test_file_transport_writes_eml_files_under_the_instance_path(app, monkeypatch, tmp_path, factory):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    monkeypatch.setitem(app.config, "MAIL_TRANSPORT", None)
    monkeypatch.setitem(app.config, "TESTING", False)  # the embedded default: no SMTP host → files
    inst = factory.institution()
    advisor = factory.user(inst, "external_advisor", language="de")
    [message] = notify(db.session, "advisor_invited", recipients=[advisor],
                       context={"case_id": 4, "proposal_title": "Tsinghua climate", "inviter_name": "Prof. Chair",
                                "expires_at": datetime(2026, 12, 24, 12, tzinfo=UTC)})
    db.session.commit()
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1 and str(message.id) in files[0].name
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=default_policy)
    assert parsed["To"] == f"{advisor.name} <{advisor.email}>"
    assert parsed["Subject"] == "Einladung zur Stellungnahme: Tsinghua climate"
    assert "Die Einladung gilt bis 24. Dezember 2026, 12:00:00 UTC" in _text(parsed)
    assert "http://127.0.0.1:5000/review/cases/4" in _text(parsed)  # the default BASE_URL
    assert list((tmp_path / "mail").glob("*.tmp")) == []
    assert _fresh(OutboxMessage, message.id).status == "done"


# ------------------------------------------------------------------ transactions, retries

def test_nothing_is_sent_when_the_transaction_rolls_back(factory, smtp):
    inst = factory.institution()
    user = factory.user(inst)
    notify(db.session, "decision_issued", recipients=[user], context=_decision())
    db.session.rollback()
    db.session.commit()
    assert smtp.received == []
    assert db.session.exec(select(OutboxMessage).where(OutboxMessage.task == "mail.send")).all() == []


def test_a_redelivered_message_is_not_sent_again(factory, smtp):
    inst = factory.institution()
    user = factory.user(inst)
    [message] = notify(db.session, "decision_issued", recipients=[user], context=_decision())
    db.session.commit()
    assert len(smtp.received) == 1
    # The broker delivers the task again (worker lost before the acknowledgement).
    assert outbox.run_outbox_message.apply(args=[message.id]).get() == "done"
    # Even a message put back to pending (e.g. by hand) is not sent once recorded as sent.
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(status="pending"))
    db.session.commit()
    assert outbox.run_outbox_message.apply(args=[message.id]).get() == "done"
    assert len(smtp.received) == 1
    assert len(db.session.exec(select(SentMail).where(SentMail.outbox_message_id == message.id)).all()) == 1


def test_a_crash_after_sending_resends_with_the_same_message_id(factory, smtp, monkeypatch):
    """The documented at-least-once choice: a lost commit means one duplicate, recognisable by its id."""
    inst = factory.institution()
    user = factory.user(inst)
    real_record = tasks._record_sent
    crashes = {"left": 1}

    def crash_once(*args, **kwargs):
        if crashes["left"]:
            crashes["left"] -= 1
            raise ConnectionError("database went away after the SMTP send")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(tasks, "_record_sent", crash_once)
    [message] = notify(db.session, "decision_issued", recipients=[user], context=_decision())
    db.session.commit()
    assert len(smtp.received) == 2
    assert smtp.received[0][2]["Message-ID"] == smtp.received[1][2]["Message-ID"]
    stored = _fresh(OutboxMessage, message.id)
    assert stored.status == "done" and stored.attempts == 1


def test_a_temporary_smtp_refusal_is_retried_and_delivered_once(factory, smtp):
    smtp.refuse = 2
    inst = factory.institution()
    user = factory.user(inst)
    [message] = notify(db.session, "decision_issued", recipients=[user], context=_decision())
    db.session.commit()
    stored = _fresh(OutboxMessage, message.id)
    assert stored.status == "done" and stored.attempts == 2
    assert "451" in stored.last_error
    assert len(smtp.received) == 1


def test_smtp_down_leaves_the_mail_pending_until_the_server_is_back(app, factory, smtp_down, monkeypatch):
    monkeypatch.setattr(outbox, "publish", lambda ids: None)  # a real broker would retry later
    inst = factory.institution()
    user = factory.user(inst, language="de")
    [message] = notify(db.session, "information_requested", recipients=[user],
                       context={"proposal_id": 5, "proposal_title": "T", "questions": "Which data?"})
    db.session.commit()
    status, error = outbox._attempt(message.id)
    assert status == "pending" and isinstance(error, OSError)
    stored = _fresh(OutboxMessage, message.id)
    assert stored.status == "pending" and stored.attempts == 1 and "Connection refused" in stored.last_error

    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=smtp_down)
    controller.start()
    try:
        monkeypatch.undo()  # publish again; the config below is restored by hand
        _use_smtp(app, monkeypatch, smtp_down)
        assert outbox.sweep(db.session, older_than=timedelta(0)) == [message.id]
    finally:
        controller.stop()
    assert len(recorder.to(user.email)) == 1
    assert _fresh(OutboxMessage, message.id).status == "done"


def test_the_request_that_enqueued_a_mail_succeeds_while_smtp_is_down(client, factory, smtp_down, monkeypatch):
    inst = factory.institution()
    researcher = factory.user(inst)
    member = factory.user(inst, "committee_member", language="de")
    original_submit = proposal_service.submit

    def submit_and_notify(session, actor, proposal, *args, **kwargs):  # what the review workflow will do
        version = original_submit(session, actor, proposal, *args, **kwargs)
        notify(session, "case_new", recipients=[member],
               context={"case_id": proposal.id, "proposal_title": proposal.title, "tier": version.tier})
        return version

    monkeypatch.setattr(proposal_service, "submit", submit_and_notify)
    factory.login(client, researcher, inst)
    response = client.post("/proposals/new", data=form_post_data(title="Harbour sensors"))
    assert response.status_code == 302
    db.session.expire_all()
    [message] = db.session.exec(select(OutboxMessage).where(OutboxMessage.task == "mail.send")).all()
    assert message.status == "failed" and message.attempts == outbox.MAX_RETRIES + 1
    assert "Connection refused" in message.last_error
    assert message.payload["to"] == member.email
    assert client.get(response.headers["Location"]).status_code == 200


# ------------------------------------------------------------------------ injection (sc. 5)

def test_injection_strings_appear_literally_and_are_never_evaluated(factory, smtp):
    inst = factory.institution()
    user = factory.user(inst)
    title = " ".join(INJECTIONS)
    notify(db.session, "information_requested", recipients=[user],
           context={"proposal_id": 9, "proposal_title": title, "questions": "\n".join(INJECTIONS)})
    db.session.commit()
    [(_, _, msg)] = smtp.received
    text, html = _text(msg), _html(msg)
    assert msg["Subject"] == f"Information requested: {title}"
    for payload in INJECTIONS:
        assert payload in text  # the text part shows each value exactly as given
    assert "49" not in text and "49" not in html and "49" not in msg["Subject"]
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "{{7*7}}" in html and "R&amp;D &amp;amp;" in html


def test_autoescape_is_on_for_text_templates_and_no_template_turns_it_off():
    env = render.environment()
    template = env.get_template("case_overdue.en.txt")
    assert env.autoescape is True  # every template, whatever its name
    rendered = template.render(case_id=1, proposal_title="<b>x</b>", due_date="2026-01-01", language="en",
                               action_url=None, recipient_name=None)
    assert "&lt;b&gt;x&lt;/b&gt;" in rendered
    for path in Path(events.TEMPLATE_DIR).iterdir():
        source = path.read_text()
        assert "|safe" not in source.replace(" ", "") and "autoescape false" not in source, path.name


# ---------------------------------------------------------------------- refused input

@pytest.mark.parametrize("kwargs, error, match", [
    ({"event": "no_such_event"}, NotificationError, "unknown mail event"),
    ({"context": {"proposal_id": 1, "proposal_title": "T"}}, NotificationError, "lacks outcome"),
    ({"context": {**_decision(), "outcome": "maybe"}}, NotificationError, "outcome must be one of"),
    ({"context": {**_decision(), "language": "de"}}, NotificationError, "reserved"),
    ({"context": {**_decision(), "proposal": object()}}, TypeError, "not a plain value"),
    ({"context": {**_decision(), "note": "a\x00b"}}, ValueError, "control characters"),
    ({"path": "//evil.example/x"}, NotificationError, "local path"),
    ({"path": "https://evil.example/"}, NotificationError, "local path"),
    ({"path": "/\\evil.example"}, NotificationError, "local path"),
    ({"recipients": [("victim@example.org\r\nBcc: all@example.org", "en")]}, NotificationError, "invalid recipient"),
    ({"recipients": [("not-an-address", "en")]}, NotificationError, "invalid recipient"),
    ({"recipients": "someone@example.org"}, NotificationError, "list of users"),
    ({"recipients": [42]}, NotificationError, "User or an"),
])
def test_bad_calls_are_refused_before_anything_is_enqueued(kwargs, error, match):
    call = {"event": "decision_issued", "recipients": [("r@example.org", "en")], "context": _decision()}
    call.update(kwargs)
    event = call.pop("event")
    with pytest.raises(error, match=match):
        notify(db.session, event, **call)
    assert db.session.exec(select(OutboxMessage).where(OutboxMessage.task == "mail.send")).all() == []


def test_orm_objects_are_refused_in_the_context(factory):
    inst = factory.institution()
    user = factory.user(inst)
    with pytest.raises(TypeError, match="not a plain value"):
        notify(db.session, "decision_issued", recipients=[user], context={**_decision(), "owner": user})


def test_the_event_registry_is_data_that_other_modules_extend(monkeypatch):
    monkeypatch.setattr(events, "EVENTS", dict(events.EVENTS))
    with pytest.raises(ValueError, match="no template for en, de"):
        events.register_event(events.MailEvent("tests_without_templates", audience="nobody",
                                                             required=("partner_name",)))
    with pytest.raises(ValueError, match="reserved"):
        events.register_event(events.MailEvent("case_new_copy", audience="committee",
                                                             required=("language",)))
    with pytest.raises(ValueError, match="registered twice"):
        events.register_event(events.EVENTS["case_new"])


@pytest.mark.parametrize("overrides, reason", [
    ({"MAIL_SMTP_HOST": "smtp.example.org", "MAIL_SMTP_USER": "u", "MAIL_SMTP_PASSWORD": "p",
      "MAIL_SMTP_STARTTLS": False}, "unencrypted"),
    ({"MAIL_TRANSPORT": "memory"}, "tests only"),
])
def test_production_refuses_unsafe_mail_settings(overrides, reason):
    from screening import create_app
    from screening.core.config import UnsafeConfiguration

    cfg = {"ENV": "production", "SECRET_KEY": "k" * 48, "DATABASE_URL": "sqlite://",
           "REDIS_URL": "redis://127.0.0.1:6379/15", **overrides}
    with pytest.raises(UnsafeConfiguration, match=reason):
        create_app(cfg)


def test_transport_follows_the_configuration(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_TRANSPORT", None)
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "smtp.example.org")
    assert isinstance(transports.get_transport(app), transports.SMTPTransport)
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", None)
    assert isinstance(transports.get_transport(app), transports.MemoryTransport)  # TESTING
    monkeypatch.setitem(app.config, "TESTING", False)
    transport = transports.get_transport(app)
    assert isinstance(transport, transports.FileTransport)
    assert transport.directory == Path(app.instance_path) / "mail"
