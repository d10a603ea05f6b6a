"""Transactional outbox: side effects leave only after the change that causes them is committed.

- ``enqueue(session, task, payload)`` writes an :class:`OutboxMessage` in the caller's
  transaction; nothing is sent yet.
- After that transaction commits, the relay (an SQLAlchemy ``after_commit`` hook) publishes each
  new message id to Celery. A rollback discards them with the rest of the transaction.
- Handlers are registered with ``@outbox_task("name")``. The Celery task loads the message by id,
  skips it when already done (idempotent), runs the handler in its own session, and marks the
  message done in the same transaction as the handler's writes. Failures are retried with
  back-off; after the last retry the message is marked failed and shows up for admins.
- A handler raises :class:`PermanentFailure` when a retry cannot help (a mail server's 5xx refusing that mail):
  the message is marked failed at once. When a message fails for good, the handler's
  ``on_failed(session, payload, message, error)`` hook (if registered) runs in the transaction that
  marks it failed, so the feature can record and audit the failure.
- ``sweep(session)`` republishes messages still pending after a grace period (Redis wiped or
  unreachable, worker killed before acknowledging): Celery beat runs it, and so does
  ``screening outbox sweep``.

In the embedded default Celery is eager, so publishing runs the handler at once, in-process.
"""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import event, func, select, update
from sqlmodel import Session

from screening.core.database import utcnow
from screening.core.models import OutboxMessage

log = logging.getLogger(__name__)

PENDING, DONE, FAILED = "pending", "done", "failed"
MAX_RETRIES = 5
SOFT_TIME_LIMIT = 60
_SESSION_KEY = "outbox_new_ids"
HANDLERS: dict[str, Callable[[Session, dict[str, Any], OutboxMessage], None]] = {}
FailureHook = Callable[[Session, dict[str, Any], OutboxMessage, BaseException], None]
FAILURE_HOOKS: dict[str, FailureHook] = {}


class PermanentFailure(Exception):
    """The side effect can never succeed as it stands (e.g. SMTP 550): fail now, do not retry."""


def enqueue(session: Session, task: str, payload: dict[str, Any]) -> OutboxMessage:
    """Record a side effect in the current transaction; it is published after commit."""
    if task not in HANDLERS:
        raise KeyError(f"no outbox handler registered for {task!r}")
    message = OutboxMessage(task=task, payload=payload)
    session.add(message)
    session.flush()
    session.info.setdefault(_SESSION_KEY, []).append(message.id)
    return message


def outbox_task(name: str, on_failed: FailureHook | None = None):
    """Register ``handler(session, payload, message)`` for outbox messages named ``name``.

    ``on_failed(session, payload, message, error)`` runs once the message has failed for good
    (``error`` is the last exception), in the transaction that marks it failed.

    The handler must be idempotent with respect to its own effects (e.g. a unique constraint on
    the outbox id of what it creates), because a worker killed after the handler's commit but
    before the acknowledgement runs it again.
    """

    def register(handler):
        if name in HANDLERS:
            raise ValueError(f"outbox handler {name!r} registered twice")
        HANDLERS[name] = handler
        if on_failed is not None:
            FAILURE_HOOKS[name] = on_failed
        return handler

    return register


def publish(message_ids: list[int]) -> None:
    """Hand message ids to Celery. A broker outage leaves them pending for the sweeper."""
    for message_id in message_ids:
        try:
            run_outbox_message.apply_async(args=[message_id])
        except Exception:  # any broker failure: the sweeper will republish
            log.warning("outbox message %s not published; the sweeper will retry", message_id, exc_info=True)


@event.listens_for(Session, "after_commit")
def _relay_after_commit(session: Session) -> None:
    ids = session.info.pop(_SESSION_KEY, None)
    if ids:
        publish(ids)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)


@shared_task(
    name="screening.outbox.run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # the message's own attempt count decides (it survives republishing)
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=SOFT_TIME_LIMIT + 30,
    ignore_result=True,
)
def run_outbox_message(self, message_id: int) -> str:
    """Run one outbox message; returns its final status (for logs and tests)."""
    while True:
        status, error = _attempt(message_id)
        if error is None:
            return status
        if self.request.is_eager:
            continue  # embedded default: no broker to wait for, try again at once
        raise self.retry(exc=error, countdown=min(2 ** self.request.retries, 300))


def _attempt(message_id: int) -> tuple[str, BaseException | None]:
    """One try: (status, None) when finished for now, ("pending", error) when worth retrying."""
    from screening.core.extensions import db

    session = db.session
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status != PENDING:
        return (message.status if message else "missing"), None
    task = message.task
    try:
        HANDLERS[task](session, dict(message.payload), message)
        message.status, message.done_at = DONE, utcnow()
        session.add(message)
        session.commit()
        return DONE, None
    except (Exception, SoftTimeLimitExceeded) as exc:  # recorded, retried, surfaced
        session.rollback()
        error = f"{type(exc).__name__}: {exc}"[:2000]
        attempts = session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == message_id)) + 1
        final = attempts > MAX_RETRIES or isinstance(exc, PermanentFailure)
        outcome = update(OutboxMessage).where(OutboxMessage.id == message_id).values(
            attempts=attempts, last_error=error, status=FAILED if final else PENDING, published_at=utcnow())
        session.execute(outcome)
        if final and task in FAILURE_HOOKS:
            try:
                failed = session.get(OutboxMessage, message_id)
                session.refresh(failed)
                FAILURE_HOOKS[task](session, dict(failed.payload), failed, exc)
            except Exception:  # the message must still end up failed, not retried for ever
                log.exception("failure hook of outbox message %s (%s) failed", message_id, task)
                session.rollback()
                session.execute(outcome)
        session.commit()
        if final:
            log.error("outbox message %s (%s) failed for good: %s", message_id, task, error)
            return FAILED, None
        return PENDING, exc


def sweep(session: Session, older_than: timedelta = timedelta(minutes=5)) -> list[int]:
    """Republish messages still pending after ``older_than``; returns their ids."""
    cutoff = utcnow() - older_than
    last_sent = func.coalesce(OutboxMessage.published_at, OutboxMessage.created_at)
    ids = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == PENDING, last_sent < cutoff)
            .order_by(OutboxMessage.id)
        )
    )
    if ids:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(published_at=utcnow()))
        session.commit()
        publish(ids)
    return ids


@shared_task(name="screening.outbox.sweep", ignore_result=True)
def sweep_task() -> int:
    from screening.core.extensions import db

    return len(sweep(db.session))
