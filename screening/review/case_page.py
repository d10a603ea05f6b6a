"""What the pages show of a case: the case page, its history, version diffs, the researcher's view."""

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.models import User
from screening.core.database import utcnow
from screening.core.errors import NotFound
from screening.core.models import AuditEvent
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.cases import (
    CaseAccess,
    committee_members,
    current_decision,
    decisions,
    flags_of,
    versions,
)
from screening.review.models import (
    AdvisorInvitation,
    AdvisorOpinion,
    CaseComment,
    ConflictDeclaration,
    FlagDisposition,
    InformationRequest,
    Vote,
)
from screening.review.routing import case_for_proposal


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    if isinstance(value, list):
        return {prefix: ", ".join(str(v) for v in value)}
    return {prefix: value}


def diff_versions(old: ProposalVersion, new: ProposalVersion) -> dict[str, Any]:
    """Field changes between two versions and how their screening results differ."""
    a, b = _flatten(old.proposal_json), _flatten(new.proposal_json)
    fields = []
    for path in sorted(set(a) | set(b)):
        if a.get(path) != b.get(path):
            kind = "added" if path not in a else "removed" if path not in b else "changed"
            fields.append({"path": path, "old": a.get(path), "new": b.get(path), "kind": kind})
    fa = {f["key"]: f for f in flags_of(old)}
    fb = {f["key"]: f for f in flags_of(new)}
    flags = {
        "added": [fb[k] for k in fb if k not in fa],
        "removed": [fa[k] for k in fa if k not in fb],
        "changed": [{"old": fa[k], "new": fb[k]} for k in fb if k in fa and fa[k]["severity"] != fb[k]["severity"]],
    }
    return {"old": old, "new": new, "fields": fields, "flags": flags,
            "tier": (old.tier, new.tier)}


def case_diff(session: Session, access: CaseAccess, a: int | None, b: int | None) -> dict[str, Any]:
    vs = versions(session, access.proposal)
    if len(vs) < 2:
        raise NotFound("no second version")
    by_number = {v.number: v for v in vs}
    new = by_number.get(b) if b else vs[-1]
    old = by_number.get(a) if a else (by_number.get(new.number - 1) if new else None)
    if old is None or new is None or old.number == new.number:
        raise NotFound("version")
    return diff_versions(old, new)


def case_page(session: Session, access: CaseAccess) -> dict[str, Any]:
    """Everything the case page shows to a (non-recused) member of the case's committee."""
    vs = versions(session, access.proposal)
    current = vs[-1] if vs else None
    page: dict[str, Any] = {
        "access": access, "versions": vs, "version": current,
        "flags": flags_of(current) if current else [],
        "members": committee_members(session, access.case.committee_id),
        "rapporteur": session.get(User, access.case.rapporteur_id) if access.case.rapporteur_id else None,
        "overdue": bool(access.case.due_at and access.case.due_at < utcnow()
                        and access.proposal.status in workflow.UNDER_REVIEW),
        "decisions": decisions(session, access.case),
        "requests": list(session.exec(select(InformationRequest).where(
            InformationRequest.case_id == access.case.id).order_by(InformationRequest.asked_at)).all()),
    }
    users: dict[int, User] = {}

    def who(uid):
        if uid not in users:
            users[uid] = session.get(User, uid)
        return users[uid]

    dispositions: dict[str, list] = {}
    for d in session.exec(select(FlagDisposition).where(FlagDisposition.case_id == access.case.id)
                          .order_by(FlagDisposition.created_at, FlagDisposition.id)).all():
        dispositions.setdefault(d.flag_key, []).append((d, who(d.user_id)))
    page["deliberation"] = {
        "dispositions": dispositions,
        "comments": [(c, who(c.author_id)) for c in session.exec(
            select(CaseComment).where(CaseComment.case_id == access.case.id)
            .order_by(CaseComment.created_at, CaseComment.id)).all()],
        "votes": [(v, who(v.user_id)) for v in session.exec(
            select(Vote).where(Vote.case_id == access.case.id).order_by(Vote.created_at)).all()],
        "opinions": [(o, who(o.advisor_id)) for o in session.exec(
            select(AdvisorOpinion).where(AdvisorOpinion.case_id == access.case.id)
            .order_by(AdvisorOpinion.created_at)).all()],
        "conflicts": [(c, who(c.user_id)) for c in session.exec(
            select(ConflictDeclaration).where(ConflictDeclaration.case_id == access.case.id)).all()],
        "invitations": [(i, who(i.advisor_id)) for i in session.exec(
            select(AdvisorInvitation).where(AdvisorInvitation.case_id == access.case.id)
            .order_by(AdvisorInvitation.created_at)).all()],
        "timeline": timeline(session, access),
    }
    return page


def timeline(session: Session, access: CaseAccess) -> list[AuditEvent]:
    """Every audit event on the proposal and on its case, oldest first."""
    return list(session.exec(select(AuditEvent).where(sa.or_(
        sa.and_(AuditEvent.object_type == "proposal", AuditEvent.object_id == str(access.proposal.id)),
        sa.and_(AuditEvent.object_type == "review_case", AuditEvent.object_id == str(access.case.id)),
    )).order_by(AuditEvent.seq)).all())


def researcher_view(session: Session, proposal: Proposal) -> dict[str, Any] | None:
    """What the researcher sees of the review: questions, messages and the current decision."""
    case = case_for_proposal(session, proposal)
    if case is None:
        return None
    return {
        "case": case,
        "requests": list(session.exec(select(InformationRequest).where(InformationRequest.case_id == case.id)
                                      .order_by(InformationRequest.asked_at)).all()),
        "messages": list(session.exec(select(CaseComment).where(CaseComment.case_id == case.id,
                                                                CaseComment.kind == "message")
                                      .order_by(CaseComment.created_at)).all()),
        "decision": current_decision(session, case),
    }
