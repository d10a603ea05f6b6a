"""Writers of one institution's counts at the same time never deadlock (PostgreSQL).

Each transaction that changes proposals, partners or fields upserts many ``portfolio_count``
rows (status and tier, day filed, countries, list entries, fields), statement by statement. Two
transactions that lock such rows in different orders, or that lock rows and then queue for the
audit chain's lock while the other holds it, would wait on each other until PostgreSQL aborts one:
a web user would see a 500, an import chunk would be retried by the outbox.

The interleavings are forced, not hoped for: a third, explicit transaction holds a lock the
writers queue on, so they stand where a deadlock would start, and lets go once both are waiting.
Every write really commits (the test app's session database, wiped afterwards). The outbox's
broker is left out: the test runs the import messages itself, one worker thread each.
"""

import os
import threading
import time

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.models import Institution, User
from screening.core import audit, outbox
from screening.core.extensions import db
from screening.core.models import OutboxMessage
from screening.portfolio import counts
from screening.portfolio.models import ImportItem, ImportJob
from screening.proposals.models import Proposal
from screening.review import routing
from screening.review.models import CommitteeMember

from .conftest import Factory
from .helpers import form_post_data
from .test_portfolio import _csv, _upload

pytestmark = [
    pytest.mark.no_isolation,
    pytest.mark.skipif(not os.environ.get("SCREENING_TEST_DATABASE_URL"),
                       reason="needs PostgreSQL: SQLite lets one writer in at a time"),
]

# Harbin goes to the committee (tier critical, in review); Copenhagen is fast-tracked (tier low).
COMMITTEE = "Harbin Institute of Technology,CN"
FAST_TRACK = "University of Copenhagen,DK"


@pytest.fixture
def world(app, monkeypatch):
    """An institution with a committee, its office, a researcher and a logged-in web client each."""
    published: list[int] = []
    monkeypatch.setattr(outbox, "publish", published.extend)  # messages stay pending until the test runs them
    with app.app_context():
        factory = Factory(app)
        inst = factory.institution()
        chair = factory.user(inst, "committee_chair")
        committee = routing.ensure_setup(db.session, None, inst.id)
        db.session.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
        db.session.commit()
        researcher, office = factory.user(inst, "researcher"), factory.user(inst, "international_office")
        clients = {}
        for name, user in (("researcher", researcher), ("office", office)):
            clients[name] = app.test_client()
            factory.login(clients[name], user)
        yield {"inst_id": inst.id, "researcher_id": researcher.id, **clients}


def _start_import(app, world, partners: list[str]) -> tuple[int, int]:
    """Upload a CSV through the office's web form; returns the job and the outbox message that screens it."""
    rows = [f"r{n},Imported project {n},2.2,{partner}" for n, partner in enumerate(partners)]
    assert _upload(world["office"], world["researcher_id"], _csv(rows)).status_code == 303
    with app.app_context():
        job_id = db.session.scalars(select(ImportJob.id).order_by(ImportJob.id.desc())).first()
        return job_id, next(m.id for m in db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.task == "portfolio.import", OutboxMessage.status == outbox.PENDING))
            if m.payload["job_id"] == job_id)


def _in_thread(app, work, failures: list) -> threading.Thread:
    def run():
        try:
            with app.app_context():
                work()
        except Exception as exc:  # the assertion below names it
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _run_outbox_message(app, message_id: int, failures: list) -> threading.Thread:
    return _in_thread(app, lambda: outbox.run_outbox_message.apply(args=[message_id]), failures)


def _wait_until_waiting(engine, n: int, or_done: threading.Thread | None = None) -> None:
    """Until ``n`` sessions of this database wait for a lock (or the thread ``or_done`` has finished)."""
    deadline = time.monotonic() + 10
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
            conn.rollback()
            if waiting >= n or (or_done is not None and not or_done.is_alive()):
                return
            time.sleep(0.02)
    raise AssertionError(f"never saw {n} sessions waiting for a lock")


def _finish(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()


def _assert_clean(app, world, message_ids: list[int]) -> None:
    with app.app_context(), Session(db.engine) as session:
        for message_id in message_ids:
            message = session.get(OutboxMessage, message_id)
            assert message.last_error is None, message.last_error  # a deadlock would be retried, and show here
            assert (message.status, message.attempts) == (outbox.DONE, 0)
        assert counts.stored(session, world["inst_id"]) == counts.recounted(session, world["inst_id"])


def test_a_submission_and_an_import_chunk_of_one_institution_do_not_deadlock(app, world):
    """The web submission (draft, submitted, screened, in review: a statement each) and the chunk
    (the status of all its rows, then their partners and fields) share counts such as proposals
    in review at tier critical. The submission queues first, for the lock a writer holds until it
    commits, then the chunk; both then go through, one after the other."""
    _job, message_id = _start_import(app, world, [COMMITTEE] * 4)
    failures: list[Exception] = []
    responses = []
    with app.app_context():
        engine = db.engine
    with engine.connect() as blocker:
        blocker.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": audit._LOCK_KEY})
        web = _in_thread(app, lambda: responses.append(world["researcher"].post(
            "/proposals/new", data=form_post_data(**{"partners-0-name": "Harbin Institute of Technology",
                                                     "partners-0-country": "CN", "research_fields": ["2.2"]}))),
                         failures)
        _wait_until_waiting(engine, 1)
        chunk = _run_outbox_message(app, message_id, failures)
        _wait_until_waiting(engine, 2)
        blocker.rollback()
    _finish([web, chunk])
    assert failures == []
    assert [r.status_code for r in responses] == [302]
    _assert_clean(app, world, [message_id])
    with app.app_context():
        statuses = db.session.scalars(select(Proposal.status).where(Proposal.institution_id == world["inst_id"]))
        assert sorted(statuses) == ["in_review"] * 5


def test_two_imports_of_one_institution_do_not_deadlock(app, world):
    """The first chunk stands at its status change (its second row is locked by someone else)
    while the second import's chunk moves its rows. With one UPDATE per row, the first had moved a
    row to review already and, going on, needed the second's count of open proposals filed today,
    which waited for the first. With one UPDATE per chunk the first holds no count yet, so the
    second may simply finish; either way both commit."""
    first_job, first = _start_import(app, world, [COMMITTEE, FAST_TRACK, COMMITTEE])
    _job, second = _start_import(app, world, [FAST_TRACK, COMMITTEE])
    with app.app_context():
        second_row_of_first = db.session.scalars(select(ImportItem.proposal_id).where(ImportItem.job_id == first_job)
                                                 .order_by(ImportItem.id).offset(1).limit(1)).one()
        engine = db.engine
    failures: list[Exception] = []
    with engine.connect() as blocker:
        blocker.execute(sa.text("SELECT 1 FROM proposal WHERE id = :id FOR UPDATE"), {"id": second_row_of_first})
        one = _run_outbox_message(app, first, failures)
        _wait_until_waiting(engine, 1)
        two = _run_outbox_message(app, second, failures)
        _wait_until_waiting(engine, 2, or_done=two)
        blocker.rollback()
    _finish([one, two])
    assert failures == []
    _assert_clean(app, world, [first, second])


def test_a_change_that_counts_nothing_does_not_wait_for_count_writers(app, world):
    """Editing a draft's text while an import chunk holds the lock goes through at once; filing it waits."""
    with app.app_context():
        factory = Factory(app)
        researcher = db.session.get(User, world["researcher_id"])
        draft_id = factory.proposal(researcher, db.session.get(Institution, world["inst_id"])).id
        engine = db.engine
    with engine.connect() as writer, engine.connect() as editor:
        writer.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": audit._LOCK_KEY})
        editor.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        editor.execute(sa.update(Proposal).where(Proposal.id == draft_id)
                       .values(title="Renamed draft", updated_at=sa.func.now()))
        editor.commit()
        editor.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            editor.execute(sa.update(Proposal).where(Proposal.id == draft_id).values(status="submitted"))
        editor.rollback()
        writer.rollback()
