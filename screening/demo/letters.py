"""Letters in ``screening demo``: demo signing keys first, then letters for the demo's cases."""

from sqlmodel import Session, select

from screening.demo.data import INSTITUTIONS
from screening.documents import config, letters
from screening.documents.models import GeneratedDocument


def before_load() -> None:
    """Self-signed keys for the demo institutions (kept under instance/signing/), if missing."""
    config.create_demo_signing_keys(None, list(INSTITUTIONS))


def after_load(session: Session) -> str:
    """Request letters for decided and fast-tracked demo cases that have none (eager: rendered now)."""

    requested = letters.request_missing_letters(session)
    session.commit()
    ready = len(session.exec(select(GeneratedDocument).where(GeneratedDocument.sha256.is_not(None))).all())
    return f"letters: {ready} stored" + (f", {len(requested)} requested now" if requested else "")
