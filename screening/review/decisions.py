"""Decisions: the institution's condition templates and issuing (or correcting) a decision."""

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from screening.core.errors import Conflict, ValidationFailed
from screening.proposals import workflow
from screening.review import signals
from screening.review.cases import (
    CaseAccess,
    audit_case,
    bump_version,
    clean_text,
    current_decision,
    latest_version,
    require_chair,
)
from screening.review.models import OUTCOMES, ConditionTemplate, Decision
from screening.review.notifications import notify_case


def condition_templates(session: Session, institution_id: int, active_only: bool = True) -> list[ConditionTemplate]:
    stmt = select(ConditionTemplate).where(ConditionTemplate.institution_id == institution_id)
    if active_only:
        stmt = stmt.where(ConditionTemplate.active.is_(True))
    return list(session.exec(stmt.order_by(ConditionTemplate.id)).all())


def decide(session: Session, access: CaseAccess, seen_version: int, outcome: str, reasoning: str,
           template_ids: list[int], free_conditions: list[str]) -> Decision:
    """Issue the decision (or, on a decided case, a correction that supersedes the current one).

    ``seen_version`` is the case version the form was rendered with: if anybody changed the case
    since, :class:`StaleCase` (409) is raised and nothing is written.
    """
    require_chair(access)
    if outcome not in OUTCOMES:
        raise ValidationFailed({"outcome": "unknown outcome"})
    reasoning = clean_text(reasoning, "reasoning")
    templates = {t.id: t for t in condition_templates(session, access.case.institution_id)}
    conditions = []
    for tid in template_ids:
        if tid not in templates:
            raise ValidationFailed({"conditions": "unknown condition template"})
        t = templates[tid]
        conditions.append({"template_id": t.id, "key": t.key, "text_en": t.text_en, "text_de": t.text_de})
    for text in free_conditions:
        text = clean_text(text, "free_conditions", limit=2000)
        conditions.append({"template_id": None, "key": None, "text_en": text, "text_de": text})
    if outcome == "approved_with_conditions" and not conditions:
        raise ValidationFailed({"conditions": "choose or write at least one condition"})
    if outcome != "approved_with_conditions" and conditions:
        raise ValidationFailed({"conditions": "conditions belong to an approval with conditions"})
    bump_version(session, access.case, seen_version)  # first: a concurrent decision fails here
    previous = current_decision(session, access.case)
    status = access.proposal.status
    if status == workflow.IN_REVIEW:
        workflow.transition(session, access.proposal, workflow.DECIDED, access.actor.user,
                            {"case_id": access.case.id, "outcome": outcome}, committee_role=access.workflow_role)
    elif status != workflow.DECIDED or previous is None:
        raise Conflict(_l("A decision can only be issued while the case is in review."))
    version = latest_version(session, access.proposal)
    decision = Decision(case_id=access.case.id, proposal_id=access.proposal.id,
                        institution_id=access.case.institution_id, version_number=version.number,
                        case_version=seen_version, outcome=outcome, reasoning=reasoning, conditions=conditions,
                        decided_by_id=access.actor.user.id, supersedes_id=previous.id if previous else None)
    session.add(decision)
    session.flush()
    if previous is not None:
        previous.superseded_at = decision.decided_at
        session.add(previous)
        session.flush()
    audit_case(session, access.actor.user, "decision.corrected" if previous else "decision.issued", access.case,
               {"decision_id": decision.id, "outcome": outcome, "supersedes": previous.id if previous else None,
            "conditions": [c["key"] or "free" for c in conditions]})
    signals.decided.send(decision, session=session)  # the decision letter, rendered after commit
    notify_case(session, "decision_issued", access.proposal, access.case, outcome=outcome)
    return decision
