"""Overdue notices: the beat entry, the Celery task and ``screening review notify-overdue``."""

from datetime import timedelta

import pytest
from sqlmodel import select

from screening.core.database import utcnow
from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.notifications import transports
from screening.review import routing
from screening.review import tasks as review_tasks
from screening.review.commands import notify_overdue_command
from screening.review.models import CommitteeMember, ReviewCase

HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]


@pytest.fixture
def overdue(factory):
    """An in-review case of a committee with a chair, due yesterday; a fast-tracked one (never overdue)."""
    inst = factory.institution()
    researcher = factory.user(inst, "researcher")
    chair = factory.user(inst, "committee_chair", email=f"chair-{inst.slug}@example.org")
    committee = routing.ensure_setup(db.session, None, inst.id)
    db.session.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
    db.session.commit()
    late = routing.case_for_proposal(db.session, factory.proposal(researcher, inst, submit=True,
                                                                 title="Late case", partners=HARBIN))
    fast = routing.case_for_proposal(db.session, factory.proposal(researcher, inst, submit=True, title="Fast"))
    for case in (late, fast):
        case.due_at = utcnow() - timedelta(days=1)
        db.session.add(case)
    db.session.commit()
    return late, chair


def _overdue_mails(app, chair):
    return [m for m in transports.memory_outbox(app)
            if m["X-Screening-Event"] == "case_overdue" and chair.email in m["To"]]


def test_beat_runs_the_registered_task_hourly(app):
    entry = app.config["CELERY"]["beat_schedule"]["review-notify-overdue"]
    assert entry["task"] == review_tasks.OVERDUE_TASK and entry["schedule"] <= 3600
    assert review_tasks.OVERDUE_TASK in app.extensions["celery"].tasks


def test_task_notifies_each_overdue_case_once(app, overdue):
    late, chair = overdue
    transports.memory_outbox(app).clear()
    app.extensions["celery"].tasks[review_tasks.OVERDUE_TASK].apply().get()
    db.session.expire_all()
    assert db.session.get(ReviewCase, late.id).overdue_notified_at is not None
    events = db.session.exec(select(AuditEvent).where(AuditEvent.action == "case.overdue")).all()
    assert [e.object_id for e in events] == [str(late.id)]  # not the fast-tracked one
    assert len(_overdue_mails(app, chair)) == 1
    app.extensions["celery"].tasks[review_tasks.OVERDUE_TASK].apply().get()  # the next hour: nothing new
    assert len(db.session.exec(select(AuditEvent).where(AuditEvent.action == "case.overdue")).all()) == 1
    assert len(_overdue_mails(app, chair)) == 1


def test_command_notifies_and_reports(app, overdue):
    late, chair = overdue
    transports.memory_outbox(app).clear()
    runner = app.test_cli_runner()
    result = runner.invoke(notify_overdue_command, catch_exceptions=False)
    assert result.exit_code == 0 and result.output.strip() == f"notified 1 overdue case(s): {late.id}"
    assert len(_overdue_mails(app, chair)) == 1
    again = runner.invoke(notify_overdue_command, catch_exceptions=False)
    assert again.output.strip() == "notified 0 overdue case(s)"
    assert "notify-overdue" in app.cli.get_command(None, "review").list_commands(None)
