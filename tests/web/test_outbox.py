"""The transactional outbox: effects after commit only, idempotent, retried, swept (scorecard 14-16)."""

from datetime import timedelta

import pytest
from sqlmodel import select

from screening.core import outbox
from screening.core.commands import outbox_status
from screening.core.extensions import db
from screening.core.models import OutboxMessage

CALLS: list[dict] = []
FAILURES_LEFT = {"count": 0}


@outbox.outbox_task("tests.record")
def record_call(session, payload, message):
    if FAILURES_LEFT["count"] > 0:
        FAILURES_LEFT["count"] -= 1
        raise RuntimeError("renderer crashed")
    CALLS.append(payload)


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    FAILURES_LEFT["count"] = 0


def _message(message_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message_id)


def test_an_effect_runs_once_after_commit_and_is_marked_done():
    message = outbox.enqueue(db.session, "tests.record", {"n": 1})
    assert CALLS == []  # not before commit
    db.session.commit()
    assert CALLS == [{"n": 1}]
    stored = _message(message.id)
    assert stored.status == "done" and stored.done_at is not None


def test_a_rolled_back_transaction_sends_nothing():
    outbox.enqueue(db.session, "tests.record", {"n": 2})
    db.session.rollback()
    db.session.commit()
    assert CALLS == []
    assert db.session.exec(select(OutboxMessage).where(OutboxMessage.task == "tests.record")).all() == []


def test_running_a_message_twice_has_one_effect():
    message = outbox.enqueue(db.session, "tests.record", {"n": 3})
    db.session.commit()
    assert outbox.run_outbox_message.apply(args=[message.id]).get() == "done"
    assert CALLS == [{"n": 3}]


def test_a_failing_effect_is_retried_until_it_succeeds():
    FAILURES_LEFT["count"] = 2
    message = outbox.enqueue(db.session, "tests.record", {"n": 4})
    db.session.commit()
    stored = _message(message.id)
    assert CALLS == [{"n": 4}]
    assert stored.status == "done" and stored.attempts == 2
    assert "renderer crashed" in stored.last_error


def test_a_permanent_failure_is_recorded_and_listed(app):
    FAILURES_LEFT["count"] = 100
    message = outbox.enqueue(db.session, "tests.record", {"n": 5})
    db.session.commit()
    stored = _message(message.id)
    assert stored.status == "failed"
    assert stored.attempts == outbox.MAX_RETRIES + 1
    result = app.test_cli_runner().invoke(outbox_status, catch_exceptions=False)
    assert f"failed #{message.id} tests.record" in result.output


def test_a_message_the_broker_never_got_is_republished_by_the_sweeper(monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is away")

    monkeypatch.setattr(outbox.run_outbox_message, "apply_async", broker_down)
    message = outbox.enqueue(db.session, "tests.record", {"n": 6})
    db.session.commit()  # the decision still commits although the broker is down
    assert _message(message.id).status == "pending" and CALLS == []
    monkeypatch.undo()
    assert outbox.sweep(db.session, older_than=timedelta(hours=1)) == []  # too young to sweep
    assert outbox.sweep(db.session, older_than=timedelta(0)) == [message.id]
    assert CALLS == [{"n": 6}]
    assert _message(message.id).status == "done"


def test_enqueueing_an_unknown_task_is_refused():
    with pytest.raises(KeyError):
        outbox.enqueue(db.session, "tests.nobody-handles-this", {})
