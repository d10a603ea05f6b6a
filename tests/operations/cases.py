"""A decided case for the privacy tests: a committee chaired by ``chair`` decides ``owner``'s proposal."""

from screening.core.extensions import db
from screening.review import cases, decisions, deliberation, routing
from screening.review.models import CommitteeMember, Decision

HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]


def seat_chair(institution, chair) -> None:
    committee = routing.ensure_setup(db.session, None, institution.id)
    db.session.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
    db.session.commit()


def decided_case(factory, institution, owner, chair, comment: str, reasoning: str, **proposal) -> Decision:
    """Files the proposal (routed to the committee by its partner), comments and approves it; commits."""
    submitted = factory.proposal(owner, institution, submit=True, **{"partners": HARBIN, **proposal})
    case = routing.case_for_proposal(db.session, submitted)
    access = cases.get_case(db.session, factory.actor(chair, institution), case.id)
    deliberation.add_comment(db.session, access, "internal", comment)
    decision = decisions.decide(db.session, access, access.case.version, "approved", reasoning, [], [])
    db.session.commit()
    return decision
