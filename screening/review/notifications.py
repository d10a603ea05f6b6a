"""The committee review's mail events (templates in ``templates/mail/``) and how a case sends them."""

from sqlmodel import Session

from screening.accounts.models import Institution, User
from screening.notifications.events import EVENTS, MailEvent, register_event
from screening.notifications.service import notify
from screening.proposals.models import Proposal
from screening.review.cases import committee_members, recused_user_ids
from screening.review.models import OUTCOMES, ReviewCase

TIERS = ("low", "medium", "high", "critical")
_TITLE = "Coastal sediment transport modelling"

register_event(MailEvent(
    "information_requested", audience="researcher",
    required=("proposal_id", "proposal_title", "questions"), optional=("due_date", "institution_name"),
    link="/proposals/{proposal_id}",
    example={"proposal_id": 1, "proposal_title": _TITLE, "questions": "Which data leave the EU?",
             "due_date": "2026-12-24"},
))
register_event(MailEvent(
    "decision_issued", audience="researcher",
    required=("proposal_id", "proposal_title", "outcome"), optional=("institution_name",),
    choices={"outcome": OUTCOMES}, link="/proposals/{proposal_id}",
    example={"proposal_id": 1, "proposal_title": _TITLE, "outcome": "approved_with_conditions"},
))
register_event(MailEvent(
    "case_new", audience="committee",
    required=("case_id", "proposal_title", "tier"), optional=("due_date", "researcher_name", "institution_name"),
    choices={"tier": TIERS}, link="/review/cases/{case_id}",
    example={"case_id": 1, "proposal_title": _TITLE, "tier": "high", "due_date": "2026-12-24",
             "researcher_name": "Dr. Ada Example"},
))
register_event(MailEvent(
    "case_resubmitted", audience="committee",
    required=("case_id", "proposal_title", "version_number"), optional=("researcher_name", "institution_name"),
    link="/review/cases/{case_id}",
    example={"case_id": 1, "proposal_title": _TITLE, "version_number": 2, "researcher_name": "Dr. Ada Example"},
))
register_event(MailEvent(
    "case_overdue", audience="committee",
    required=("case_id", "proposal_title", "due_date"), optional=("institution_name",),
    link="/review/cases/{case_id}",
    example={"case_id": 1, "proposal_title": _TITLE, "due_date": "2026-12-24"},
))
register_event(MailEvent(
    "advisor_invited", audience="external_advisor",
    required=("case_id", "proposal_title", "inviter_name"), optional=("expires_at", "institution_name"),
    link="/review/cases/{case_id}",
    example={"case_id": 1, "proposal_title": _TITLE, "inviter_name": "Prof. Chair Example",
             "expires_at": "2026-12-24T12:00:00+00:00"},
))


def notify_case(session: Session, event: str, proposal: Proposal, case: ReviewCase, *, path: str | None = None,
                to: list[User] | None = None, **context) -> None:
    """Hand an event to :mod:`screening.notifications` (mail leaves through the outbox after commit).

    Researcher events go to the proposal's owner, committee events to the case's committee,
    unless ``to`` names the recipients.
    """
    if to is None:
        if EVENTS[event].audience == "researcher":
            to = [session.get(User, proposal.owner_id)]
        else:
            recused = recused_user_ids(session, case.id)  # they learn nothing more of the case
            to = [user for user, _role in committee_members(session, case.committee_id) if user.id not in recused]
    if not to:
        return
    institution = session.get(Institution, case.institution_id)
    ids = {"proposal_id": proposal.id} if EVENTS[event].audience == "researcher" \
        else {"case_id": case.id}
    notify(session, event, recipients=to, path=path, institution_id=case.institution_id,
           context={**ids, "proposal_title": proposal.title, "institution_name": institution.name, **context})
