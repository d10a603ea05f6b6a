"""The audit-log viewer: the institution's events, filtered, and whether the hash chain holds."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlmodel import Session, select

from screening.accounts.service import Actor
from screening.admin.access import require_admin
from screening.core import audit
from screening.core.models import AuditEvent

PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""  # an action or its prefix, e.g. "user." or "membership.granted"
    actor: str = ""  # part of the acting user's e-mail
    subject_type: str = ""
    subject_id: str = ""
    since: date | None = None
    until: date | None = None  # inclusive
    before_seq: int | None = None  # the next page: events older than this one


def parse_subject(subject: str) -> tuple[str, str]:
    """``"user:12"`` -> ``("user", "12")``; ``"user"`` -> ``("user", "")``."""
    kind, _sep, ident = (subject or "").partition(":")
    return kind, ident


def events(session: Session, actor: Actor, filters: AuditFilters) -> list[AuditEvent]:
    """The newest ``PAGE_SIZE`` events of the administrator's institution that match ``filters``."""
    require_admin(actor)
    query = select(AuditEvent).where(AuditEvent.institution_id == actor.institution_id)
    if filters.action:
        query = query.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.actor:
        query = query.where(AuditEvent.actor.contains(filters.actor.lower(), autoescape=True))
    if filters.subject_type:
        query = query.where(AuditEvent.object_type == filters.subject_type)
    if filters.subject_id:
        query = query.where(AuditEvent.object_id == filters.subject_id)
    if filters.since:
        query = query.where(AuditEvent.at >= datetime.combine(filters.since, time.min, UTC))
    if filters.until:
        query = query.where(AuditEvent.at <= datetime.combine(filters.until, time.max, UTC))
    if filters.before_seq:
        query = query.where(AuditEvent.seq < filters.before_seq)
    return list(session.exec(query.order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE)).all())


def chain_status(session: Session, actor: Actor) -> audit.VerifyResult:
    """Whether the installation's whole chain verifies (one chain links every institution's events)."""
    require_admin(actor)
    return audit.verify(session)
