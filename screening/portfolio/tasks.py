"""Background work of the portfolio: import screening, re-screens, the dashboard PDF, the monitor.

Outbox handlers (run after the causing transaction commits, idempotent by the job's cursor):

- ``portfolio.import`` {job_id}: screens the next chunk of an import (``PORTFOLIO_IMPORT_CHUNK`` rows,
  default 500), then enqueues the next chunk;
- ``portfolio.rescreen`` {job_id}: re-screens the next chunk of active and decided proposals;
- ``portfolio.report`` {report_id}: renders the dashboard PDF and stores it by its SHA-256.

Each chunk is one task (with Redis); in the eager embedded default the chunks run one after the
other in the same call, committing after each so that the progress bar moves.

Celery beat runs ``screening.portfolio.monitor`` (a new list version or rule set starts a
re-screen) and ``screening.portfolio.rescreen`` (a periodic full re-screen).
"""

from pathlib import Path

from celery import shared_task
from flask import current_app
from sqlmodel import Session

from screening.accounts.models import Institution
from screening.core import outbox
from screening.core.database import utcnow
from screening.core.engine import get_screener, install_screener, screener_class
from screening.core.extensions import db
from screening.documents.storage import FileDocumentStore
from screening.portfolio import import_jobs, reports, rescreens
from screening.portfolio.models import ReportJob, RescreenJob


def _eager() -> bool:
    celery = current_app.extensions.get("celery")
    return bool(celery and celery.conf.task_always_eager)


def current_screener():
    return get_screener()


def fresh_screener():
    """A screener built from the files on disk now; replaces the process's cached one."""
    screener = screener_class().default()
    install_screener(current_app._get_current_object(), screener)
    return screener


def _screener_for(fp: str):
    screener = current_screener()
    if rescreens.fingerprint(screener) != fp:
        screener = fresh_screener()
    return screener


@outbox.outbox_task("portfolio.import")
def run_import(session: Session, payload: dict, message) -> None:
    job_id = int(payload["job_id"])
    screener = current_screener()
    chunk = int(current_app.config.get("PORTFOLIO_IMPORT_CHUNK") or import_jobs.CHUNK)
    while import_jobs.run_import_chunk(session, job_id, screener, chunk):
        if not _eager():
            outbox.enqueue(session, "portfolio.import", {"job_id": job_id})
            return
        session.commit()  # progress is visible; a crash resumes from the cursor


@outbox.outbox_task("portfolio.rescreen")
def run_rescreen(session: Session, payload: dict, message) -> None:
    job_id = int(payload["job_id"])
    job = session.get(RescreenJob, job_id)
    if job is None:
        return
    screener = _screener_for(job.fingerprint)
    while rescreens.run_rescreen_chunk(session, job_id, screener):
        if not _eager():
            outbox.enqueue(session, "portfolio.rescreen", {"job_id": job_id})
            return
        session.commit()


def report_dir() -> Path:
    configured = current_app.config.get("PORTFOLIO_REPORT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "reports"


def report_store():
    return FileDocumentStore(report_dir())


@outbox.outbox_task("portfolio.report")
def run_report(session: Session, payload: dict, message) -> None:
    report = session.get(ReportJob, int(payload["report_id"]))
    if report is None or report.status != "pending":
        return
    institution = session.get(Institution, report.institution_id)
    pdf = reports.render_dashboard_pdf(session, institution, suppress=report.suppress, language=report.language)
    stored = report_store().put(pdf.data)
    report.sha256, report.size = stored.sha256, stored.size
    report.status, report.finished_at = "ready", utcnow()
    session.add(report)
    session.flush()


def monitor(session: Session, force: bool = False):
    """Start a re-screen if the lists or rules changed (or always, with ``force``)."""
    return rescreens.check_for_changes(session, fresh_screener_no_swap, current_screener(), force=force)


def fresh_screener_no_swap():
    return screener_class().default()


@shared_task(name="screening.portfolio.monitor", ignore_result=True)
def monitor_task() -> int | None:
    job = monitor(db.session)
    db.session.commit()
    return job.id if job else None


@shared_task(name="screening.portfolio.rescreen", ignore_result=True)
def periodic_rescreen_task() -> int | None:
    job = monitor(db.session, force=True)
    db.session.commit()
    return job.id if job else None
