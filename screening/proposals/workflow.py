"""The proposal life cycle: states, allowed transitions and who may fire them, as data.

Every status change in the application goes through :func:`transition`, which checks the move
against :data:`TRANSITIONS`, checks that the acting party is one of those named for the move in
:data:`WHO`, and writes an audit event.

Parties ("who") are relationships to the proposal, not only roles:

- ``owner``: the researcher who filed the proposal;
- ``committee_member`` / ``committee_chair``: a member or the chair of the committee the case is
  routed to (the review service checks the committee membership before it calls ``transition``);
- ``system``: a step the application takes by itself as part of another action (screening,
  routing), fired with ``as_system=True``.
"""

from dataclasses import dataclass

from sqlmodel import Session, select

from screening.accounts.models import Membership, User
from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import Forbidden, IllegalTransition
from screening.proposals.models import Proposal

DRAFT = "draft"
SUBMITTED = "submitted"
SCREENED = "screened"
FAST_TRACKED = "fast_tracked"
IN_REVIEW = "in_review"
INFORMATION_REQUESTED = "information_requested"
DECIDED = "decided"
WITHDRAWN = "withdrawn"
IMPORTED = "imported"  # bulk import (portfolio): stored, waiting for its background screening

STATES: tuple[str, ...] = (DRAFT, SUBMITTED, SCREENED, FAST_TRACKED, IN_REVIEW, INFORMATION_REQUESTED,
                           DECIDED, WITHDRAWN, IMPORTED)

OWNER = "owner"
MEMBER = "committee_member"
CHAIR = "committee_chair"
SYSTEM = "system"
COMMITTEE = frozenset({MEMBER, CHAIR})


@dataclass(frozen=True)
class Move:
    """One allowed transition: its name (used in audit details) and the parties that may fire it."""

    name: str
    who: frozenset[str]


# (from, to) -> Move. Everything not listed here is refused.
MOVES: dict[tuple[str, str], Move] = {
    (DRAFT, SUBMITTED): Move("submit", frozenset({OWNER})),
    (DRAFT, WITHDRAWN): Move("withdraw", frozenset({OWNER})),
    (SUBMITTED, SCREENED): Move("screen", frozenset({SYSTEM})),
    (IMPORTED, SCREENED): Move("screen", frozenset({SYSTEM})),
    (SUBMITTED, WITHDRAWN): Move("withdraw", frozenset({OWNER})),
    (SCREENED, FAST_TRACKED): Move("fast_track", frozenset({SYSTEM})),
    (SCREENED, IN_REVIEW): Move("route_to_committee", frozenset({SYSTEM})),
    (SCREENED, WITHDRAWN): Move("withdraw", frozenset({OWNER})),
    (FAST_TRACKED, IN_REVIEW): Move("reopen", COMMITTEE | {SYSTEM}),  # system: a re-screen raised the tier
    (FAST_TRACKED, WITHDRAWN): Move("withdraw", frozenset({OWNER})),
    (IN_REVIEW, INFORMATION_REQUESTED): Move("request_information", COMMITTEE),
    (IN_REVIEW, DECIDED): Move("decide", frozenset({CHAIR})),
    (IN_REVIEW, WITHDRAWN): Move("withdraw", frozenset({OWNER})),
    (INFORMATION_REQUESTED, IN_REVIEW): Move("resubmit", frozenset({OWNER})),
    (INFORMATION_REQUESTED, WITHDRAWN): Move("withdraw", frozenset({OWNER})),
    (DECIDED, IN_REVIEW): Move("reopen", frozenset({CHAIR, SYSTEM})),  # system: a re-screen raised the tier
}

TRANSITIONS: dict[str, frozenset[str]] = {
    state: frozenset(to for (frm, to) in MOVES if frm == state) for state in STATES
}

# The researcher may edit the working copy while a draft or when the committee asked for more.
EDITABLE: frozenset[str] = frozenset({DRAFT, INFORMATION_REQUESTED})
FINAL: frozenset[str] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# States in which the case is with the committee (deliberation possible).
UNDER_REVIEW: frozenset[str] = frozenset({IN_REVIEW, INFORMATION_REQUESTED})


def allowed(from_state: str, to_state: str) -> bool:
    return (from_state, to_state) in MOVES


def may_fire(from_state: str, to_state: str, parties: frozenset[str] | set[str]) -> bool:
    move = MOVES.get((from_state, to_state))
    return move is not None and bool(move.who & set(parties))


def parties_of(session: Session, proposal: Proposal, actor: User | None,
               committee_role: str | None = None) -> frozenset[str]:
    """The relationships ``actor`` has to ``proposal``.

    ``committee_role`` (``committee_member`` or ``committee_chair``) is passed by the review
    service after it has checked the actor's membership of the case's committee; the chair of a
    committee is also one of its members.
    """
    if actor is None:
        return frozenset()
    parties: set[str] = set()
    if actor.id == proposal.owner_id:
        roles = set(session.exec(select(Membership.role).where(
            Membership.user_id == actor.id, Membership.institution_id == proposal.institution_id
        )).all())
        if "researcher" in roles:
            parties.add(OWNER)
    if committee_role == CHAIR:
        parties.update({CHAIR, MEMBER})
    elif committee_role == MEMBER:
        parties.add(MEMBER)
    return frozenset(parties)


def _move(from_state: str, to_state: str, parties: frozenset[str] | set[str]) -> Move:
    move = MOVES.get((from_state, to_state))
    if move is None:
        raise IllegalTransition(from_state, to_state)
    if not move.who & parties:
        raise Forbidden(f"{sorted(parties) or 'nobody'} may not {move.name} ({from_state} -> {to_state})")
    return move


def _audit_entry(proposal_id: int, institution_id: int, from_state: str, to_state: str, move: Move,
                 details: dict | None) -> audit.Entry:
    return audit.Entry(f"proposal.{to_state}", "proposal", proposal_id, institution_id,
                       {"from": from_state, "to": to_state, "move": move.name, **(details or {})})


def transition(session: Session, proposal: Proposal, to_state: str, actor: User | None,
               details: dict | None = None, *, as_system: bool = False,
               committee_role: str | None = None) -> None:
    """Move ``proposal`` to ``to_state``; audits the move.

    Raises :class:`IllegalTransition` (409) when the move is not in the table, and
    :class:`Forbidden` (403) when the actor is none of the parties allowed to fire it.
    ``as_system`` fires an automatic step (the actor is still recorded as its cause).
    """
    from_state = proposal.status
    if (from_state, to_state) not in MOVES:
        raise IllegalTransition(from_state, to_state)
    move = _move(from_state, to_state, {SYSTEM} if as_system else parties_of(session, proposal, actor, committee_role))
    proposal.status = to_state
    proposal.updated_at = utcnow()
    session.add(proposal)
    session.flush()
    entry = _audit_entry(proposal.id, proposal.institution_id, from_state, to_state, move, details)
    audit.record(session, actor, entry.action, entry.object_type, entry.object_id, entry.institution_id,
                 entry.details)


def system_transition_entry(proposal_id: int, institution_id: int, from_state: str, to_state: str,
                            details: dict | None = None) -> audit.Entry:
    """The audit event of an automatic step taken in bulk (an import chunk), which updates the rows itself.

    Checks the move like :func:`transition` with ``as_system=True``; the caller hands the entries
    to :func:`screening.core.audit.record_many` in the same transaction as the status change.
    """
    return _audit_entry(proposal_id, institution_id, from_state, to_state,
                        _move(from_state, to_state, {SYSTEM}), details)
