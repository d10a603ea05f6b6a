"""A bulk import survives its Celery worker being killed mid-import (scorecard 15).

Runs in the PostgreSQL pass with Redis (SCREENING_TEST_REDIS_URL and SCREENING_TEST_DATABASE_URL).
The 1,400-row portfolio is uploaded through the web; a real worker process screens it in chunks
of 100 rows (one task each). The whole worker is SIGKILLed once some chunks are committed, in the
middle of the next one; a new worker, after the sweeper republished the pending outbox message,
finishes the job. Every row ends up screened exactly once: one version, one case, one current
screening and one audit event per move, an intact audit chain, nothing left ``imported``.

The test uses the Redis database of SCREENING_TEST_REDIS_URL (flushed before and after) and a
database of its own that the test app and the worker share; data is really committed.
"""

import gc
import io
import os
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from screening.core import audit, outbox
from screening.core.extensions import db
from screening.core.models import AuditEvent
from screening.portfolio.models import ImportItem, ImportJob, ProposalScreening
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.models import ReviewCase

from .celery_worker import Worker, app_context_with_broker, migrated_app, running
from .conftest import Factory, scratch_database

REDIS_URL = os.environ.get("SCREENING_TEST_REDIS_URL")
PG_URL = os.environ.get("SCREENING_TEST_DATABASE_URL")
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "collaborations_1400.csv"
ROWS, CHUNK = 1400, 100

pytestmark = [
    pytest.mark.no_isolation,
    pytest.mark.skipif(not (REDIS_URL and PG_URL), reason="needs PostgreSQL and Redis"),
]


@pytest.fixture(scope="module")
def worker_app(tmp_path_factory):
    with scratch_database(tmp_path_factory, "imports") as url, \
            migrated_app(url, tmp_path_factory.mktemp("import-files"), REDIS_URL) as app:
        yield app


@pytest.fixture
def ctx(worker_app):
    with app_context_with_broker(worker_app) as app:
        yield app


def _progress(client, job_id: int) -> dict:
    progress = client.get(f"/portfolio/import/{job_id}/progress").get_json()
    db.session.rollback()  # the view's session must not keep a snapshot while the worker writes
    return progress


def _wait_for(client, job_id: int, condition, timeout: float = 240) -> list[dict]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(_progress(client, job_id))
        if condition(seen[-1]):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} never got there; last progress {seen[-1]}")


# Werkzeug spools the 550 KB upload to a temporary file that is finalised by the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_worker_killed_mid_import_then_restarted_screens_every_row_once(ctx, tmp_path):
    factory = Factory(ctx)
    inst = factory.institution()
    office = factory.user(inst, "international_office")
    client = ctx.test_client()
    factory.login(client, office)
    db.session.rollback()

    first = Worker(ctx, tmp_path / "worker.log", PORTFOLIO_IMPORT_CHUNK=str(CHUNK))
    with running(first):
        r = client.post("/portfolio/import", data={"file": (io.BytesIO(FIXTURE.read_bytes()), FIXTURE.name),
                                                   "owner": str(office.id)}, content_type="multipart/form-data")
        assert r.status_code == 303, r.get_data(as_text=True)[:2000]
        job_id = int(r.headers["Location"].rsplit("/", 1)[1])
        del r
        gc.collect()
        db.session.rollback()
        before_kill = _wait_for(client, job_id, lambda p: p["done"] >= 3 * CHUNK)
        first.kill_all()  # main process and pool process: the chunk being screened is rolled back
    stopped = _progress(client, job_id)
    assert stopped["status"] == "running" and 3 * CHUNK <= stopped["done"] < ROWS, stopped
    assert stopped["done"] % CHUNK == 0  # only whole chunks were committed

    with running(Worker(ctx, tmp_path / "worker2.log", PORTFOLIO_IMPORT_CHUNK=str(CHUNK))) as second:
        # Redis hands the unacknowledged task back only after its visibility timeout: the sweeper
        # republishes the still-pending outbox message at once.
        assert outbox.sweep(db.session, older_than=timedelta(0))
        after_restart = _wait_for(client, job_id, lambda p: p["status"] == "done")
    assert after_restart[-1] == {"id": job_id, "status": "done", "total": ROWS, "done": ROWS, "percent": 100}, \
        second.log()[-3000:]
    percents = {p["percent"] for p in before_kill + after_restart}
    assert len(percents - {0, 100}) >= 2  # the progress bar moved in between

    proposal_ids = set(db.session.exec(select(ImportItem.proposal_id).where(ImportItem.job_id == job_id)).all())
    assert len(proposal_ids) == ROWS

    def per_proposal(column) -> Counter:
        return Counter(db.session.exec(select(column).where(column.in_(proposal_ids))).all())

    for column in (ProposalVersion.proposal_id, ReviewCase.proposal_id, ProposalScreening.proposal_id):
        assert per_proposal(column) == Counter({pid: 1 for pid in proposal_ids}), column
    statuses = Counter(db.session.exec(select(Proposal.status).where(Proposal.id.in_(proposal_ids))).all())
    assert set(statuses) <= {workflow.FAST_TRACKED, workflow.IN_REVIEW} and statuses.total() == ROWS
    moves = Counter(db.session.exec(select(AuditEvent.action, AuditEvent.object_id).where(
        AuditEvent.object_type == "proposal", AuditEvent.object_id.in_([str(p) for p in proposal_ids]))).all())
    assert set(moves.values()) == {1}
    assert Counter(action for action, _pid in moves) == Counter(
        {"proposal.screened": ROWS, **{f"proposal.{status}": n for status, n in statuses.items()}})
    assert db.session.scalar(select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "portfolio.import_screened")) == 1
    assert audit.verify(db.session).ok
    job = db.session.get(ImportJob, job_id)
    assert sum(job.summary["tiers"].values()) == ROWS
