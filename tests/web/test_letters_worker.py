"""Letters with a real Redis and a real Celery worker process (scorecard 14-16).

Runs only when SCREENING_TEST_REDIS_URL is set (scripts/test.sh's second pass, with PostgreSQL).
The tests use their own Redis database (number 5, flushed before and after, nothing else) and
their own database (a PostgreSQL schema, or a SQLite file without SCREENING_TEST_DATABASE_URL)
that the test app and the worker subprocess share; data is really committed (``no_isolation``).

(a) SIGKILL of the worker child, and of the whole worker, while a letter renders;
(b) Redis flushed after the commit, before any worker took the task: the sweeper republishes;
(c) rendering fails twice (fault injection in the worker): retried, then stored.
Each ends with exactly one GeneratedDocument and one stored file.
"""

import os
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlmodel import select

from screening.core import outbox
from screening.core.commands import outbox_sweep
from screening.core.extensions import db
from screening.core.models import OutboxMessage
from screening.documents.models import GeneratedDocument
from screening.review import cases, decisions, routing
from screening.review.models import CommitteeMember

from .celery_worker import Worker, app_context_with_broker, flush_redis, migrated_app, running
from .conftest import Factory, scratch_database

REDIS_URL = os.environ.get("SCREENING_TEST_REDIS_URL")
PG_URL = os.environ.get("SCREENING_TEST_DATABASE_URL")
REDIS_DB = 5
HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]

pytestmark = [
    pytest.mark.no_isolation,
    pytest.mark.skipif(not REDIS_URL, reason="SCREENING_TEST_REDIS_URL not set"),
]


def _redis_db_url() -> str:
    parts = urlsplit(REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_DB}", parts.query, parts.fragment))


def _flush_redis() -> None:
    flush_redis(_redis_db_url())


@pytest.fixture(scope="module")
def worker_db(tmp_path_factory):
    """A database of its own, migrated; dropped afterwards."""
    with scratch_database(tmp_path_factory, "letters") as url:
        yield url


@pytest.fixture(scope="module")
def worker_app(worker_db, tmp_path_factory):
    with migrated_app(worker_db, tmp_path_factory.mktemp("letters-files"), _redis_db_url()) as app:
        yield app


@pytest.fixture
def store_dir(worker_app, tmp_path):
    """A fresh document directory per test, for the test app and its worker."""
    directory = tmp_path / "documents"
    directory.mkdir()
    worker_app.config["DOCUMENT_STORE_DIR"] = str(directory)
    return directory


@pytest.fixture
def ctx(worker_app, store_dir):
    with app_context_with_broker(worker_app) as app:
        yield app


def letters_worker(app, store_dir: Path, log_path: Path, **knobs) -> Worker:
    return Worker(app, log_path, DOCUMENT_STORE_DIR=str(store_dir), LETTERS_FAULT_INJECTION="true",
                  **{f"LETTERS_TEST_{k.upper()}": str(v) for k, v in knobs.items()})


def _case_in_review():
    factory = Factory(None)
    inst = factory.institution()
    owner = factory.user(inst, "researcher")
    chair = factory.user(inst, "committee_chair")
    committee = routing.ensure_setup(db.session, None, inst.id)
    db.session.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
    db.session.commit()
    proposal = factory.proposal(owner, inst, submit=True, partners=HARBIN)
    case = routing.case_for_proposal(db.session, proposal)
    access = cases.get_case(db.session, factory.actor(chair, inst), case.id)
    return access


def _decide(access) -> tuple[int, int]:
    decision = decisions.decide(db.session, access, access.case.version, "approved_with_conditions",
                                "Conditions limit the transfer of technology.", [], ["Publish results only."])
    db.session.commit()  # decision + outbox row + pending document; then published to Redis
    doc = db.session.exec(select(GeneratedDocument).where(GeneratedDocument.object_type == "decision",
                                                          GeneratedDocument.object_id == decision.id)).one()
    ids = decision.id, doc.outbox_message_id
    db.session.rollback()  # SQLite: release the write lock for the worker
    return ids


def _wait_done(message_id: int, timeout: float = 90) -> OutboxMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot
        message = db.session.get(OutboxMessage, message_id)
        db.session.refresh(message)
        status = message.status
        db.session.rollback()  # SQLite: never hold the write lock (BEGIN IMMEDIATE) while the worker works
        if status != "pending":
            return db.session.get(OutboxMessage, message_id)
        time.sleep(0.25)
    raise AssertionError(f"outbox message {message_id} still pending after {timeout}s")


def _assert_exactly_one(decision_id: int, store_dir: Path) -> GeneratedDocument:
    db.session.rollback()
    docs = db.session.exec(select(GeneratedDocument).where(GeneratedDocument.object_type == "decision",
                                                           GeneratedDocument.object_id == decision_id)).all()
    assert len(docs) == 1 and docs[0].sha256
    files = [p for p in store_dir.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"{docs[0].sha256}.pdf"], files
    return docs[0]


def test_worker_killed_while_rendering_renders_the_letter_once(ctx, store_dir, tmp_path):
    access = _case_in_review()
    with running(letters_worker(ctx, store_dir, tmp_path / "worker.log", render_delay=3)) as worker:
        decision_id, message_id = _decide(access)
        worker.wait_for_log("screening.outbox.run", 30)  # received: the child is rendering (sleeping 3 s)
        time.sleep(1)
        worker.kill_child()  # SIGKILL of the pool process: the task is rejected and redelivered
        message = _wait_done(message_id)
    assert message.status == "done", worker.log()[-3000:]
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log() or "signal 9" in worker.log()
    _assert_exactly_one(decision_id, store_dir)


def test_whole_worker_killed_then_restarted_and_swept(ctx, store_dir, tmp_path):
    access = _case_in_review()
    worker = letters_worker(ctx, store_dir, tmp_path / "worker.log", render_delay=3)
    with running(worker):
        decision_id, message_id = _decide(access)
        worker.wait_for_log("screening.outbox.run", 30)
        time.sleep(1)
        worker.kill_all()  # main process and child: the message stays unacknowledged in Redis
    db.session.rollback()
    assert db.session.get(OutboxMessage, message_id).status == "pending"
    db.session.rollback()
    with running(letters_worker(ctx, store_dir, tmp_path / "worker2.log", render_delay=0)):
        # Redis gives an unacknowledged message back only after the visibility timeout (an hour):
        # the sweeper republishes the still-pending outbox message at once.
        assert message_id in outbox.sweep(db.session, older_than=timedelta(0))
        message = _wait_done(message_id)
    assert message.status == "done"
    _assert_exactly_one(decision_id, store_dir)


def test_redis_flushed_before_the_worker_took_the_task_is_swept(ctx, store_dir, tmp_path):
    access = _case_in_review()
    decision_id, message_id = _decide(access)  # published, but no worker is running
    _flush_redis()  # the broker loses it
    with running(letters_worker(ctx, store_dir, tmp_path / "worker.log")):
        time.sleep(1)
        db.session.rollback()
        assert db.session.get(OutboxMessage, message_id).status == "pending"  # nothing to take
        db.session.rollback()
        result = ctx.test_cli_runner().invoke(outbox_sweep, ["--older-than", "0"], catch_exceptions=False)
        assert str(message_id) in result.output
        message = _wait_done(message_id)
    assert message.status == "done"
    _assert_exactly_one(decision_id, store_dir)


def test_rendering_fails_twice_then_succeeds(ctx, store_dir, tmp_path):
    access = _case_in_review()
    with running(letters_worker(ctx, store_dir, tmp_path / "worker.log", failures=2)) as worker:
        decision_id, message_id = _decide(access)
        message = _wait_done(message_id, timeout=60)
    assert message.status == "done" and message.attempts == 2, worker.log()[-3000:]
    assert "injected failure" in message.last_error
    _assert_exactly_one(decision_id, store_dir)
