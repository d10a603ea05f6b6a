"""Celery tasks of the committee review.

Celery beat runs ``screening.review.notify_overdue`` every hour (``beat_schedule`` in
``screening/core/config.py``); ``screening review notify-overdue`` does the same once from the command
line. Each overdue case is notified once (``review_case.overdue_notified_at``); the mails leave
through the outbox after the commit, so a task that dies before committing sends nothing and the
next run picks the cases up again.
"""

from celery import shared_task

from screening.core.extensions import db
from screening.review import queues

OVERDUE_TASK = "screening.review.notify_overdue"


def notify_overdue() -> list[int]:
    """Notify the committees of every newly overdue case and commit; returns the case ids."""
    try:
        ids = queues.notify_overdue(db.session)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ids


@shared_task(name=OVERDUE_TASK, ignore_result=True)
def notify_overdue_task() -> list[int]:
    return notify_overdue()
