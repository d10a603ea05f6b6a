"""The proposal life cycle: states and allowed transitions as data, one function to move.

Every status change in the application goes through :func:`transition`, which checks the
move against :data:`TRANSITIONS` and writes an audit event. The committee workflow extends the
tables below.
"""

from sqlmodel import Session

from screening.errors import IllegalTransition
from screening.models import Proposal, User, utcnow
from screening.services import audit

DRAFT = "draft"
SUBMITTED = "submitted"
SCREENED = "screened"
FAST_TRACKED = "fast_tracked"
IN_REVIEW = "in_review"
WITHDRAWN = "withdrawn"

STATES: tuple[str, ...] = (DRAFT, SUBMITTED, SCREENED, FAST_TRACKED, IN_REVIEW, WITHDRAWN)

TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({SUBMITTED, WITHDRAWN}),
    SUBMITTED: frozenset({SCREENED, WITHDRAWN}),
    SCREENED: frozenset({FAST_TRACKED, IN_REVIEW, WITHDRAWN}),
    FAST_TRACKED: frozenset({WITHDRAWN}),
    IN_REVIEW: frozenset({WITHDRAWN}),
    WITHDRAWN: frozenset(),
}

EDITABLE: frozenset[str] = frozenset({DRAFT})
FINAL: frozenset[str] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def allowed(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def transition(session: Session, proposal: Proposal, to_state: str, actor: User | None,
               details: dict | None = None) -> None:
    """Move ``proposal`` to ``to_state`` or raise :class:`IllegalTransition`; audits the move."""
    from_state = proposal.status
    if not allowed(from_state, to_state):
        raise IllegalTransition(from_state, to_state)
    proposal.status = to_state
    proposal.updated_at = utcnow()
    session.add(proposal)
    session.flush()
    audit.record(
        session, actor, f"proposal.{to_state}", "proposal", proposal.id, proposal.institution_id,
        {"from": from_state, "to": to_state, **(details or {})},
    )
