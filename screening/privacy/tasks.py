"""Celery tasks of data protection.

Celery beat runs ``screening.privacy.retention`` once a day (``beat_schedule`` in
``screening/core/config.py``); ``screening retention run`` does the same from the command line.
Letter files of pseudonymised cases are removed by the outbox task ``privacy.discard_letter_files``
only after the transaction that pseudonymised them has committed.
"""

from celery import shared_task
from sqlmodel import Session, select

from screening.core import outbox
from screening.core.database import utcnow
from screening.core.extensions import db
from screening.documents.config import document_store
from screening.documents.models import GeneratedDocument
from screening.documents.storage import FileDocumentStore
from screening.privacy import retention
from screening.privacy.records import DISCARD_FILES_TASK

RETENTION_TASK = "screening.privacy.retention"


def run_retention() -> dict[str, int]:
    """Apply every institution's retention policy now and commit; returns the counts per category."""
    try:
        items = retention.apply(db.session, None, utcnow())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return retention.counts(items)


@shared_task(name=RETENTION_TASK, ignore_result=True)
def retention_task() -> dict[str, int]:
    return run_retention()


@outbox.outbox_task(DISCARD_FILES_TASK)
def discard_letter_files(session: Session, payload: dict, message) -> None:
    """Remove letter files no stored letter record points at any more (idempotent)."""
    store = document_store(session, "file")
    if not isinstance(store, FileDocumentStore):
        return
    for sha256 in payload.get("sha256") or []:
        still_kept = session.exec(select(GeneratedDocument.id).where(
            GeneratedDocument.sha256 == sha256, GeneratedDocument.storage_key.is_not(None))).first()
        if still_kept is None:
            store.path_for(sha256).unlink(missing_ok=True)
