"""Deliberation on a case: rapporteur, flag dispositions, comments, questions, reopening,
conflicts of interest and votes."""

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from screening.core.database import utcnow
from screening.core.errors import Conflict, ValidationFailed
from screening.proposals import workflow
from screening.review.cases import (
    CaseAccess,
    audit_case,
    bump_version,
    clean_text,
    committee_role,
    flags_of,
    is_recused,
    latest_version,
    require_chair,
    require_under_review,
)
from screening.review.models import (
    COMMENT_KINDS,
    DISPOSITIONS,
    RECOMMENDATIONS,
    CaseComment,
    ConflictDeclaration,
    FlagDisposition,
    InformationRequest,
    Vote,
)
from screening.review.notifications import notify_case


def assign_rapporteur(session: Session, access: CaseAccess, user_id: int | None) -> None:
    require_chair(access)
    if user_id is not None and committee_role(session, access.case.committee_id, user_id) is None:
        raise ValidationFailed({"rapporteur": "not a member of this committee"})
    if user_id is not None and is_recused(session, access.case.id, user_id):
        raise ValidationFailed({"rapporteur": "declared a conflict of interest on this case"})
    bump_version(session, access.case, access.case.version)
    access.case.rapporteur_id = user_id
    session.add(access.case)
    session.flush()
    audit_case(session, access.actor.user, "case.rapporteur_assigned", access.case, {"rapporteur_id": user_id})


def record_disposition(session: Session, access: CaseAccess, key: str, disposition: str, reason: str
                       ) -> FlagDisposition:
    require_under_review(access)
    if disposition not in DISPOSITIONS:
        raise ValidationFailed({"disposition": "unknown disposition"})
    reason = clean_text(reason, "reason")
    version = latest_version(session, access.proposal)
    flags = {f["key"]: f for f in flags_of(version)} if version else {}
    if key not in flags:
        raise ValidationFailed({"flag": "no such flag on the current version"})
    row = FlagDisposition(case_id=access.case.id, version_number=version.number, flag_key=key,
                          disposition=disposition, reason=reason, user_id=access.actor.user.id)
    session.add(row)
    session.flush()
    audit_case(session, access.actor.user, "flag.disposition", access.case,
               {"flag": key, "rule": flags[key].get("rule"), "disposition": disposition, "version": version.number})
    return row


def add_comment(session: Session, access: CaseAccess, kind: str, body: str) -> CaseComment:
    if kind not in COMMENT_KINDS:
        raise ValidationFailed({"kind": "unknown kind"})
    comment = CaseComment(case_id=access.case.id, author_id=access.actor.user.id, kind=kind,
                          body=clean_text(body, "body"))
    session.add(comment)
    session.flush()
    audit_case(session, access.actor.user, f"case.{'message' if kind == 'message' else 'comment'}", access.case,
               {"comment_id": comment.id})
    return comment


def request_information(session: Session, access: CaseAccess, questions: str) -> InformationRequest:
    questions = clean_text(questions, "questions")
    bump_version(session, access.case, access.case.version)
    version = latest_version(session, access.proposal)
    workflow.transition(session, access.proposal, workflow.INFORMATION_REQUESTED, access.actor.user,
                        {"case_id": access.case.id}, committee_role=access.workflow_role)
    req = InformationRequest(case_id=access.case.id, asked_by_id=access.actor.user.id, questions=questions,
                             version_asked=version.number if version else 0)
    session.add(req)
    session.flush()
    audit_case(session, access.actor.user, "case.information_requested", access.case, {"request_id": req.id})
    notify_case(session, "information_requested", access.proposal, access.case, questions=questions)
    return req


def reopen(session: Session, access: CaseAccess, reason: str) -> None:
    """A fast-tracked (any member) or decided (chair) case goes back into review."""
    reason = clean_text(reason, "reason")
    if not workflow.allowed(access.proposal.status, workflow.IN_REVIEW) or \
            access.proposal.status == workflow.INFORMATION_REQUESTED:
        raise Conflict(_l("Only a fast-tracked or decided case can be reopened."))
    bump_version(session, access.case, access.case.version)
    workflow.transition(session, access.proposal, workflow.IN_REVIEW, access.actor.user,
                        {"case_id": access.case.id, "reason": reason}, committee_role=access.workflow_role)
    now = utcnow()
    access.case.opened_at = now
    access.case.due_at = now + timedelta(days=access.committee.due_days)
    access.case.overdue_notified_at = None
    session.add(access.case)
    session.flush()
    audit_case(session, access.actor.user, "case.reopened", access.case, {"reason": reason})


def declare_conflict(session: Session, access: CaseAccess, reason: str) -> ConflictDeclaration:
    """From now on the member has no access to the case (see :func:`cases.get_case`)."""
    row = ConflictDeclaration(case_id=access.case.id, user_id=access.actor.user.id, reason=clean_text(reason, "reason"))
    session.add(row)
    session.flush()
    audit_case(session, access.actor.user, "case.conflict_declared", access.case, {"user_id": access.actor.user.id})
    if access.case.rapporteur_id == access.actor.user.id:
        access.case.rapporteur_id = None
        session.add(access.case)
        session.flush()
    return row


def cast_vote(session: Session, access: CaseAccess, recommendation: str, text: str) -> Vote:
    require_under_review(access)
    if recommendation not in RECOMMENDATIONS:
        raise ValidationFailed({"recommendation": "unknown recommendation"})
    text = clean_text(text, "text")
    vote = session.exec(select(Vote).where(Vote.case_id == access.case.id,
                                           Vote.user_id == access.actor.user.id)).first()
    if vote is None:
        vote = Vote(case_id=access.case.id, user_id=access.actor.user.id, recommendation=recommendation, text=text)
    else:
        vote.recommendation, vote.text, vote.created_at = recommendation, text, utcnow()
    session.add(vote)
    session.flush()
    audit_case(session, access.actor.user, "case.vote", access.case, {"recommendation": recommendation})
    return vote
