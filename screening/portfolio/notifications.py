"""The portfolio's mail event (``list_match_changed``, templates in ``templates/mail/``)."""

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.models import Institution
from screening.notifications.events import MailEvent, register_event
from screening.notifications.service import notify
from screening.portfolio.models import RescreenJob, ScreeningEvent
from screening.portfolio.office import office_users

register_event(MailEvent(
    "list_match_changed", audience="international_office",
    required=("cause", "changed", "tier_rose", "reopened"), optional=("institution_name",),
    link="/portfolio/monitoring",
    example={"cause": "list canada-named-research-organizations 2026-12-01", "changed": 3, "tier_rose": 2,
             "reopened": 1},
))


def notify_offices(session: Session, job: RescreenJob) -> None:
    per_inst = session.execute(
        select(ScreeningEvent.institution_id, sa.func.count(),
               sa.func.sum(sa.case((ScreeningEvent.tier_rose.is_(True), 1), else_=0)),
               sa.func.sum(sa.case((ScreeningEvent.reopened.is_(True), 1), else_=0)))
        .where(ScreeningEvent.job_id == job.id).group_by(ScreeningEvent.institution_id)).all()
    for inst_id, changed, rose, reopened in per_inst:
        recipients = office_users(session, inst_id)
        if not recipients:
            continue
        institution = session.get(Institution, inst_id)
        notify(session, "list_match_changed", recipients=recipients, institution_id=inst_id,
                             context={"cause": job.cause, "changed": int(changed), "tier_rose": int(rose or 0),
                                      "reopened": int(reopened or 0), "institution_name": institution.name})
