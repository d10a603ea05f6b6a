"""Committee review: routing, the queue, deliberation, conflicts, advisors, votes and decisions.

Plain functions taking a session and the acting user (an :class:`Actor`); they flush, never
commit. Every state change writes an audit row: status moves through
:func:`screening.workflow.transition`, everything else through :func:`_audit` on the case.

Access rules (enforced here, not only in the views):

- a case is visible to the members of the committee it is routed to, in its institution; anyone
  else of that institution gets 404, anyone of another institution 404 (logged);
- a member who declared a conflict of interest sees the proposal but none of the deliberation
  (dispositions, comments, votes, opinions, history) and can change nothing (403);
- an external advisor sees only the proposal and flags of the cases they are invited to, until
  the invitation expires or is revoked.
"""

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from screening import workflow
from screening.accounts import service as accounts
from screening.accounts.models import Institution, Membership, User
from screening.accounts.service import Actor
from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from screening.core.models import AuditEvent
from screening.models import Proposal, ProposalVersion
from screening.notifications.events import EVENTS
from screening.notifications.service import notify
from screening.review import notifications as _events  # noqa: F401 - registers the review's mail events
from screening.review_models import (
    COMMENT_KINDS,
    DISPOSITIONS,
    OUTCOMES,
    RECOMMENDATIONS,
    ROUTING_KINDS,
    AdvisorInvitation,
    AdvisorOpinion,
    CaseComment,
    Committee,
    CommitteeMember,
    ConditionTemplate,
    ConflictDeclaration,
    Decision,
    FlagDisposition,
    InformationRequest,
    ReviewCase,
    RoutingRule,
    Vote,
)

log = logging.getLogger(__name__)

COMMITTEE_ROLES = ("committee_member", "committee_chair")
DEFAULT_COMMITTEE_NAME = "Research security committee"
DEFAULT_DUE_DAYS = 30
MAX_TEXT = 20000
TIER_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}
SEED_CONDITIONS = [
    ("no_personal_data_transfer", "No transfer of personal data to the partner.",
     "Keine Übermittlung personenbezogener Daten an den Partner."),
    ("export_licence_before_start", "An export-control licence must be granted before the project starts.",
     "Vor Projektbeginn muss eine Ausfuhrgenehmigung vorliegen."),
    ("annual_report", "An annual report on the collaboration is sent to the committee.",
     "Dem Ausschuss wird jährlich über die Zusammenarbeit berichtet."),
]


class StaleCase(Conflict):
    """The case changed since the page was rendered (optimistic locking)."""

    def __init__(self):
        super().__init__(_l("Someone else changed this case in the meantime (for example, a decision was "
                            "already issued). Reload the page to see the current state."))


# ---------------------------------------------------------------- helpers


def _audit(session: Session, actor: User | None, action: str, case: ReviewCase, details: dict | None = None):
    return audit.record(session, actor, action, "review_case", case.id, case.institution_id, details or {})


def _text(value: str | None, name: str, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed({name: "required"})
    if len(value) > limit:
        raise ValidationFailed({name: f"at most {limit} characters"})
    return value


def _notify(session: Session, event: str, proposal: Proposal, case: ReviewCase, *, path: str | None = None,
            to: list[User] | None = None, **context) -> None:
    """Hand an event to :mod:`screening.notifications` (mail leaves through the outbox after commit).

    Researcher events go to the proposal's owner, committee events to the case's committee,
    unless ``to`` names the recipients.
    """
    if to is None:
        if EVENTS[event].audience == "researcher":
            to = [session.get(User, proposal.owner_id)]
        else:
            to = [user for user, _role in committee_members(session, case.committee_id)]
    if not to:
        return
    institution = session.get(Institution, case.institution_id)
    ids = {"proposal_id": proposal.id} if EVENTS[event].audience == "researcher" \
        else {"case_id": case.id}
    notify(session, event, recipients=to, path=path,
                         context={**ids, "proposal_title": proposal.title,
                                  "institution_name": institution.name, **context})


def flag_key(flag: dict[str, Any]) -> str:
    """A stable identity of a flag across versions and languages: the rule and what it is about.

    Match quality (score, band, method), list versions and the listings are left out, so that a
    flag whose severity changed between two versions keeps its key, and a partner flag stays the
    same finding when a list adds or drops the partner's entry: one finding per partner.
    """
    volatile = {"score", "band", "method", "list_version", "matched_name", "overlap", "overlap_areas",
                "risk_level", "listings", "entry", "entry_id", "list", "list_category", "unit", "unit_kind"}
    evidence = {k: v for k, v in (flag.get("evidence") or {}).items() if k not in volatile}
    raw = json.dumps([flag.get("rule"), evidence], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _bump(session: Session, case: ReviewCase, seen: int) -> None:
    """Optimistic lock: ``UPDATE ... SET version = seen + 1 WHERE id = :id AND version = :seen``.

    On PostgreSQL a concurrent writer waits for the row lock and then finds the version moved on;
    on SQLite ``BEGIN IMMEDIATE`` serialises writers and the check fails the same way.
    """
    result = session.execute(
        sa.update(ReviewCase)
        .where(ReviewCase.id == case.id, ReviewCase.version == seen)
        .values(version=seen + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise StaleCase()
    session.expire(case, ["version"])


# ---------------------------------------------------------------- set-up, committees, routing


def ensure_setup(session: Session, actor: User | None, institution_id: int) -> Committee:
    """The institution's default committee, and its seed condition templates, created once."""
    committee = session.exec(select(Committee).where(
        Committee.institution_id == institution_id, Committee.is_default.is_(True)
    )).first()
    if committee is None:
        committee = Committee(institution_id=institution_id, name=DEFAULT_COMMITTEE_NAME, is_default=True,
                              due_days=DEFAULT_DUE_DAYS)
        session.add(committee)
        session.flush()
        audit.record(session, actor, "committee.created", "committee", committee.id, institution_id,
                     {"name": committee.name, "default": True})
    if session.exec(select(ConditionTemplate.id).where(
            ConditionTemplate.institution_id == institution_id)).first() is None:
        for key, en, de in SEED_CONDITIONS:
            session.add(ConditionTemplate(institution_id=institution_id, key=key, text_en=en, text_de=de))
        session.flush()
    return committee


def route(session: Session, proposal: Proposal, version: ProposalVersion) -> tuple[Committee, str]:
    """The committee for a proposal: by faculty, else by the longest FORD prefix, else the default."""
    default = ensure_setup(session, None, proposal.institution_id)
    rules = session.exec(select(RoutingRule).where(RoutingRule.institution_id == proposal.institution_id)).all()
    faculty = (proposal.faculty or "").strip().casefold()
    if faculty:
        for rule in rules:
            if rule.kind == "faculty" and rule.value.strip().casefold() == faculty:
                return session.get(Committee, rule.committee_id), f"faculty:{rule.value}"
    fields = [str(f) for f in version.proposal_json.get("research_fields", [])]
    best: RoutingRule | None = None
    for rule in rules:
        if rule.kind != "field_prefix":
            continue
        prefix = rule.value.strip()
        matches = any(f == prefix or f.startswith(prefix.rstrip(".") + ".") for f in fields)
        if matches and (best is None or len(prefix) > len(best.value)):
            best = rule
    if best is not None:
        return session.get(Committee, best.committee_id), f"field:{best.value}"
    return default, "default"


def open_case(session: Session, user: User, proposal: Proposal, version: ProposalVersion) -> ReviewCase:
    """Called by the intake after screening: file the case with its committee (fast-tracked or in review)."""
    committee, routed_by = route(session, proposal, version)
    now = utcnow()
    case = ReviewCase(proposal_id=proposal.id, institution_id=proposal.institution_id, committee_id=committee.id,
                      routed_by=routed_by, opened_at=now, due_at=now + timedelta(days=committee.due_days))
    if proposal.status == workflow.FAST_TRACKED:
        case.due_at = None
        case.fast_track_rationale = {
            "reason": "automatic clearance: no rule raised a concern above the low tier",
            "tier": version.tier, "version": version.number,
            "ruleset_version": version.ruleset_version, "ruleset_hash": version.ruleset_hash,
            "lists": [{"name": x.get("name"), "version": x.get("version")} for x in version.lists_json],
        }
    session.add(case)
    session.flush()
    _audit(session, user, "case.opened", case, {"committee": committee.name, "routed_by": routed_by,
                                                "fast_tracked": case.fast_track_rationale is not None})
    if case.fast_track_rationale is not None:
        _audit(session, user, "case.fast_tracked", case, case.fast_track_rationale)
    else:
        owner = session.get(User, proposal.owner_id)
        _notify(session, "case_new", proposal, case, tier=proposal.tier or "low",
                due_date=case.due_at.date().isoformat(), researcher_name=owner.name)
    return case


def case_for_proposal(session: Session, proposal: Proposal) -> ReviewCase | None:
    return session.exec(select(ReviewCase).where(ReviewCase.proposal_id == proposal.id)).first()


def resubmitted(session: Session, user: User, proposal: Proposal, version: ProposalVersion) -> None:
    """Called by the intake when the researcher answered an information request with a new version."""
    case = case_for_proposal(session, proposal)
    if case is None:
        return
    _bump(session, case, case.version)
    for request in session.exec(select(InformationRequest).where(
            InformationRequest.case_id == case.id, InformationRequest.answered_version.is_(None))).all():
        request.answered_version = version.number
        request.answered_at = utcnow()
        session.add(request)
    session.flush()
    _audit(session, user, "case.resubmitted", case, {"version": version.number, "tier": version.tier})
    _notify(session, "case_resubmitted", proposal, case, version_number=version.number, researcher_name=user.name)


# ---------------------------------------------------------------- access


@dataclass
class CaseAccess:
    case: ReviewCase
    proposal: Proposal
    committee: Committee
    role: str  # "member" or "chair" (committee role)
    recused: bool
    actor: Actor

    @property
    def is_chair(self) -> bool:
        return self.role == "chair"

    @property
    def workflow_role(self) -> str:
        return workflow.CHAIR if self.is_chair else workflow.MEMBER


def _deny(actor: Actor, what: str, why: str) -> NotFound:
    log.warning("access denied: user=%s institution=%s %s reason=%s", actor.user.id, actor.institution_id,
                what, why)
    return NotFound(what)


def committee_role(session: Session, committee_id: int, user_id: int) -> str | None:
    return session.exec(select(CommitteeMember.role).where(
        CommitteeMember.committee_id == committee_id, CommitteeMember.user_id == user_id
    )).first()


def _my_committee_ids(session: Session, actor: Actor) -> list[int]:
    return list(session.exec(
        select(Committee.id).join(CommitteeMember, CommitteeMember.committee_id == Committee.id)
        .where(CommitteeMember.user_id == actor.user.id, Committee.institution_id == actor.institution_id)
    ).all())


def get_case(session: Session, actor: Actor, case_id: int) -> CaseAccess:
    """The case if the actor sits on its committee; otherwise NotFound (never says why)."""
    if not actor.has(*COMMITTEE_ROLES):
        raise Forbidden("committee members only")
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise NotFound(f"case {case_id}")
    if case.institution_id != actor.institution_id:
        raise _deny(actor, f"case {case_id}", "other institution")
    role = committee_role(session, case.committee_id, actor.user.id)
    if role is None:
        raise _deny(actor, f"case {case_id}", "not on the case's committee")
    recused = session.exec(select(ConflictDeclaration.id).where(
        ConflictDeclaration.case_id == case.id, ConflictDeclaration.user_id == actor.user.id
    )).first() is not None
    return CaseAccess(case=case, proposal=session.get(Proposal, case.proposal_id),
                      committee=session.get(Committee, case.committee_id), role=role, recused=recused, actor=actor)


def _deliberating(access: CaseAccess) -> None:
    if access.recused:
        log.warning("recused member refused: user=%s case=%s", access.actor.user.id, access.case.id)
        raise Forbidden("you declared a conflict of interest on this case")


def _chair(access: CaseAccess) -> None:
    _deliberating(access)
    if not access.is_chair or not access.actor.has("committee_chair"):
        raise Forbidden("only the committee's chair may do this")


def _under_review(access: CaseAccess) -> None:
    if access.proposal.status not in workflow.UNDER_REVIEW:
        raise Conflict(_l("This case is not under review at the moment."))


# ---------------------------------------------------------------- versions, flags, diff


def versions(session: Session, proposal: Proposal) -> list[ProposalVersion]:
    return list(session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)
                             .order_by(ProposalVersion.number)).all())


def latest_version(session: Session, proposal: Proposal) -> ProposalVersion | None:
    return session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)
                        .order_by(ProposalVersion.number.desc()).limit(1)).first()


def flags_of(version: ProposalVersion) -> list[dict[str, Any]]:
    return [{**flag, "key": flag_key(flag)} for flag in version.result_json.get("flags", [])]


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
    _deliberating(access)
    vs = versions(session, access.proposal)
    if len(vs) < 2:
        raise NotFound("no second version")
    by_number = {v.number: v for v in vs}
    new = by_number.get(b) if b else vs[-1]
    old = by_number.get(a) if a else (by_number.get(new.number - 1) if new else None)
    if old is None or new is None or old.number == new.number:
        raise NotFound("version")
    return diff_versions(old, new)


# ---------------------------------------------------------------- queue


@dataclass
class QueueRow:
    case: ReviewCase
    proposal: Proposal
    version: ProposalVersion | None
    committee: Committee
    rapporteur: User | None
    overdue: bool
    categories: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)

    @property
    def age_days(self) -> int:
        return (utcnow() - self.case.opened_at).days


QUEUE_SORTS = ("due", "opened", "tier", "title")


def _rows(session: Session, actor: Actor, statuses: set[str]) -> list[QueueRow]:
    committee_ids = _my_committee_ids(session, actor)
    if not committee_ids:
        return []
    pairs = session.exec(
        select(ReviewCase, Proposal).join(Proposal, Proposal.id == ReviewCase.proposal_id)
        .where(ReviewCase.committee_id.in_(committee_ids), ReviewCase.institution_id == actor.institution_id,
               Proposal.status.in_(statuses))
    ).all()
    if not pairs:
        return []
    latest = sa.select(ProposalVersion.proposal_id, sa.func.max(ProposalVersion.number).label("n")).where(
        ProposalVersion.proposal_id.in_([p.id for _c, p in pairs])).group_by(ProposalVersion.proposal_id).subquery()
    versions_by_pid = {v.proposal_id: v for v in session.exec(
        select(ProposalVersion).join(latest, sa.and_(ProposalVersion.proposal_id == latest.c.proposal_id,
                                                     ProposalVersion.number == latest.c.n))).all()}
    committees = {c.id: c for c in session.exec(select(Committee).where(Committee.id.in_(committee_ids))).all()}
    rapporteur_ids = {c.rapporteur_id for c, _p in pairs if c.rapporteur_id}
    users = {u.id: u for u in session.exec(select(User).where(User.id.in_(rapporteur_ids))).all()} \
        if rapporteur_ids else {}
    now = utcnow()
    rows = []
    for case, proposal in pairs:
        version = versions_by_pid.get(proposal.id)
        flags = version.result_json.get("flags", []) if version else []
        partners = version.proposal_json.get("partners", []) if version else []
        rows.append(QueueRow(
            case=case, proposal=proposal, version=version, committee=committees[case.committee_id],
            rapporteur=users.get(case.rapporteur_id),
            overdue=bool(case.due_at and case.due_at < now and proposal.status in workflow.UNDER_REVIEW),
            categories={f.get("category") for f in flags},
            countries={p.get("country") for p in partners if p.get("country")},
        ))
    return rows


def queue(session: Session, actor: Actor, filters: dict[str, Any]) -> list[QueueRow]:
    """The committee's cases, filtered and sorted.

    ``filters``: status, tier, category, country, min_age (days), assignee ("me", "none" or a
    user id), sort (one of :data:`QUEUE_SORTS`).
    """
    if not actor.has(*COMMITTEE_ROLES):
        raise Forbidden("committee members only")
    status = filters.get("status")
    statuses = {status} if status in workflow.STATES else set(workflow.UNDER_REVIEW)
    rows = _rows(session, actor, statuses)
    if tier := filters.get("tier"):
        rows = [r for r in rows if r.proposal.tier == tier]
    if category := filters.get("category"):
        rows = [r for r in rows if category in r.categories]
    if country := filters.get("country"):
        rows = [r for r in rows if country in r.countries]
    if (min_age := filters.get("min_age")) is not None:
        rows = [r for r in rows if r.age_days >= int(min_age)]
    assignee = filters.get("assignee")
    if assignee == "me":
        rows = [r for r in rows if r.case.rapporteur_id == actor.user.id]
    elif assignee == "none":
        rows = [r for r in rows if r.case.rapporteur_id is None]
    elif isinstance(assignee, int):
        rows = [r for r in rows if r.case.rapporteur_id == assignee]
    sort = filters.get("sort") or "due"
    far = datetime.max.replace(tzinfo=utcnow().tzinfo)
    keys = {
        "due": lambda r: (not r.overdue, r.case.due_at or far, r.case.id),
        "opened": lambda r: (r.case.opened_at, r.case.id),
        "tier": lambda r: (-TIER_ORDER.get(r.proposal.tier or "low", 0), r.case.opened_at),
        "title": lambda r: (r.proposal.title.casefold(), r.case.id),
    }
    rows.sort(key=keys.get(sort, keys["due"]))
    return rows


def fast_tracked(session: Session, actor: Actor) -> list[QueueRow]:
    """The spot-check list: fast-tracked cases of the actor's committees, newest first."""
    if not actor.has(*COMMITTEE_ROLES):
        raise Forbidden("committee members only")
    rows = _rows(session, actor, {workflow.FAST_TRACKED})
    rows.sort(key=lambda r: r.case.opened_at, reverse=True)
    return rows


def committee_members(session: Session, committee_id: int) -> list[tuple[User, str]]:
    return list(session.exec(
        select(User, CommitteeMember.role).join(CommitteeMember, CommitteeMember.user_id == User.id)
        .where(CommitteeMember.committee_id == committee_id).order_by(User.name)
    ).all())


# ---------------------------------------------------------------- case page content


def case_page(session: Session, access: CaseAccess) -> dict[str, Any]:
    """Everything the case page shows to this member; deliberation is left out for a recused one."""
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
        "deliberation": None,
    }
    if access.recused:
        return page
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
    _deliberating(access)
    return list(session.exec(select(AuditEvent).where(sa.or_(
        sa.and_(AuditEvent.object_type == "proposal", AuditEvent.object_id == str(access.proposal.id)),
        sa.and_(AuditEvent.object_type == "review_case", AuditEvent.object_id == str(access.case.id)),
    )).order_by(AuditEvent.seq)).all())


def decisions(session: Session, case: ReviewCase) -> list[Decision]:
    return list(session.exec(select(Decision).where(Decision.case_id == case.id)
                             .order_by(Decision.decided_at.desc(), Decision.id.desc())).all())


def current_decision(session: Session, case: ReviewCase) -> Decision | None:
    return session.exec(select(Decision).where(Decision.case_id == case.id, Decision.superseded_at.is_(None))
                        .order_by(Decision.id.desc())).first()


# ---------------------------------------------------------------- deliberation actions


def assign_rapporteur(session: Session, access: CaseAccess, user_id: int | None) -> None:
    _chair(access)
    if user_id is not None and committee_role(session, access.case.committee_id, user_id) is None:
        raise ValidationFailed({"rapporteur": "not a member of this committee"})
    _bump(session, access.case, access.case.version)
    access.case.rapporteur_id = user_id
    session.add(access.case)
    session.flush()
    _audit(session, access.actor.user, "case.rapporteur_assigned", access.case, {"rapporteur_id": user_id})


def record_disposition(session: Session, access: CaseAccess, key: str, disposition: str, reason: str
                       ) -> FlagDisposition:
    _deliberating(access)
    _under_review(access)
    if disposition not in DISPOSITIONS:
        raise ValidationFailed({"disposition": "unknown disposition"})
    reason = _text(reason, "reason")
    version = latest_version(session, access.proposal)
    flags = {f["key"]: f for f in flags_of(version)} if version else {}
    if key not in flags:
        raise ValidationFailed({"flag": "no such flag on the current version"})
    row = FlagDisposition(case_id=access.case.id, version_number=version.number, flag_key=key,
                          disposition=disposition, reason=reason, user_id=access.actor.user.id)
    session.add(row)
    session.flush()
    _audit(session, access.actor.user, "flag.disposition", access.case,
           {"flag": key, "rule": flags[key].get("rule"), "disposition": disposition, "version": version.number})
    return row


def add_comment(session: Session, access: CaseAccess, kind: str, body: str) -> CaseComment:
    _deliberating(access)
    if kind not in COMMENT_KINDS:
        raise ValidationFailed({"kind": "unknown kind"})
    comment = CaseComment(case_id=access.case.id, author_id=access.actor.user.id, kind=kind,
                          body=_text(body, "body"))
    session.add(comment)
    session.flush()
    _audit(session, access.actor.user, f"case.{'message' if kind == 'message' else 'comment'}", access.case,
           {"comment_id": comment.id})
    return comment


def request_information(session: Session, access: CaseAccess, questions: str) -> InformationRequest:
    _deliberating(access)
    questions = _text(questions, "questions")
    _bump(session, access.case, access.case.version)
    version = latest_version(session, access.proposal)
    workflow.transition(session, access.proposal, workflow.INFORMATION_REQUESTED, access.actor.user,
                        {"case_id": access.case.id}, committee_role=access.workflow_role)
    req = InformationRequest(case_id=access.case.id, asked_by_id=access.actor.user.id, questions=questions,
                             version_asked=version.number if version else 0)
    session.add(req)
    session.flush()
    _audit(session, access.actor.user, "case.information_requested", access.case, {"request_id": req.id})
    _notify(session, "information_requested", access.proposal, access.case, questions=questions)
    return req


def reopen(session: Session, access: CaseAccess, reason: str) -> None:
    """A fast-tracked (any member) or decided (chair) case goes back into review."""
    _deliberating(access)
    reason = _text(reason, "reason")
    if not workflow.allowed(access.proposal.status, workflow.IN_REVIEW) or \
            access.proposal.status == workflow.INFORMATION_REQUESTED:
        raise Conflict(_l("Only a fast-tracked or decided case can be reopened."))
    _bump(session, access.case, access.case.version)
    workflow.transition(session, access.proposal, workflow.IN_REVIEW, access.actor.user,
                        {"case_id": access.case.id, "reason": reason}, committee_role=access.workflow_role)
    now = utcnow()
    access.case.opened_at = now
    access.case.due_at = now + timedelta(days=access.committee.due_days)
    access.case.overdue_notified_at = None
    session.add(access.case)
    session.flush()
    _audit(session, access.actor.user, "case.reopened", access.case, {"reason": reason})


def declare_conflict(session: Session, access: CaseAccess, reason: str) -> ConflictDeclaration:
    if access.recused:
        raise Conflict(_l("You have already declared a conflict of interest on this case."))
    row = ConflictDeclaration(case_id=access.case.id, user_id=access.actor.user.id, reason=_text(reason, "reason"))
    session.add(row)
    session.flush()
    _audit(session, access.actor.user, "case.conflict_declared", access.case, {"user_id": access.actor.user.id})
    if access.case.rapporteur_id == access.actor.user.id:
        access.case.rapporteur_id = None
        session.add(access.case)
        session.flush()
    return row


def cast_vote(session: Session, access: CaseAccess, recommendation: str, text: str) -> Vote:
    _deliberating(access)
    _under_review(access)
    if recommendation not in RECOMMENDATIONS:
        raise ValidationFailed({"recommendation": "unknown recommendation"})
    text = _text(text, "text")
    vote = session.exec(select(Vote).where(Vote.case_id == access.case.id,
                                           Vote.user_id == access.actor.user.id)).first()
    if vote is None:
        vote = Vote(case_id=access.case.id, user_id=access.actor.user.id, recommendation=recommendation, text=text)
    else:
        vote.recommendation, vote.text, vote.created_at = recommendation, text, utcnow()
    session.add(vote)
    session.flush()
    _audit(session, access.actor.user, "case.vote", access.case, {"recommendation": recommendation})
    return vote


# ---------------------------------------------------------------- decisions


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
    _chair(access)
    if outcome not in OUTCOMES:
        raise ValidationFailed({"outcome": "unknown outcome"})
    reasoning = _text(reasoning, "reasoning")
    templates = {t.id: t for t in condition_templates(session, access.case.institution_id)}
    conditions = []
    for tid in template_ids:
        if tid not in templates:
            raise ValidationFailed({"conditions": "unknown condition template"})
        t = templates[tid]
        conditions.append({"template_id": t.id, "key": t.key, "text_en": t.text_en, "text_de": t.text_de})
    for text in free_conditions:
        text = _text(text, "free_conditions", limit=2000)
        conditions.append({"template_id": None, "key": None, "text_en": text, "text_de": text})
    if outcome == "approved_with_conditions" and not conditions:
        raise ValidationFailed({"conditions": "choose or write at least one condition"})
    if outcome != "approved_with_conditions" and conditions:
        raise ValidationFailed({"conditions": "conditions belong to an approval with conditions"})
    _bump(session, access.case, seen_version)  # first: a concurrent decision fails here
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
    _audit(session, access.actor.user, "decision.corrected" if previous else "decision.issued", access.case,
           {"decision_id": decision.id, "outcome": outcome, "supersedes": previous.id if previous else None,
            "conditions": [c["key"] or "free" for c in conditions]})
    from screening.documents.service import request_decision_letter

    request_decision_letter(session, decision)
    _notify(session, "decision_issued", access.proposal, access.case, outcome=outcome)
    return decision


# ---------------------------------------------------------------- external advisors


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_advisor(session: Session, access: CaseAccess, email: str, name: str, expires_at: datetime
                   ) -> tuple[AdvisorInvitation, str | None]:
    """Invite an external advisor to this case until ``expires_at``.

    An unknown address gets a new external-advisor account in the chair's institution with an
    unusable password and a one-time set-password token (returned, sent in the invitation); a
    known address must already be an external advisor of this institution.
    """
    _chair(access)
    if expires_at <= utcnow():
        raise ValidationFailed({"expires_at": "must be in the future"})
    if expires_at > utcnow() + timedelta(days=366):
        raise ValidationFailed({"expires_at": "at most one year ahead"})
    email = accounts.normalise_email(email)
    inst = session.get(Institution, access.case.institution_id)
    user = session.exec(select(User).where(User.email == email)).first()
    token = None
    if user is None:
        user = accounts.create_user(session, access.actor.user, inst, email, _text(name, "name", limit=200),
                                    secrets.token_urlsafe(32), ["external_advisor"])
        token = secrets.token_urlsafe(32)
    else:
        roles = accounts.roles_in(session, user, inst.id)
        if roles != {"external_advisor"}:
            raise ValidationFailed({"email": "this address belongs to an account that is not an external "
                                             "advisor of this institution"})
    invitation = AdvisorInvitation(case_id=access.case.id, advisor_id=user.id, invited_by_id=access.actor.user.id,
                                   expires_at=expires_at, token_hash=_token_hash(token) if token else None)
    session.add(invitation)
    session.flush()
    _audit(session, access.actor.user, "advisor.invited", access.case,
           {"invitation_id": invitation.id, "advisor_id": user.id, "expires_at": expires_at.isoformat()})
    _notify(session, "advisor_invited", access.proposal, access.case, to=[user],
            path=f"/review/advisor/welcome/{token}" if token else f"/review/advisor/cases/{access.case.id}",
            inviter_name=access.actor.user.name, expires_at=expires_at.isoformat())
    return invitation, token


def revoke_advisor(session: Session, access: CaseAccess, invitation_id: int) -> None:
    _chair(access)
    invitation = session.get(AdvisorInvitation, invitation_id)
    if invitation is None or invitation.case_id != access.case.id:
        raise NotFound("invitation")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        session.add(invitation)
        session.flush()
        _audit(session, access.actor.user, "advisor.revoked", access.case, {"invitation_id": invitation.id})


def _active_invitations(session: Session, actor: Actor):
    return select(AdvisorInvitation).where(
        AdvisorInvitation.advisor_id == actor.user.id, AdvisorInvitation.revoked_at.is_(None),
        AdvisorInvitation.expires_at > utcnow())


def advisor_cases(session: Session, actor: Actor) -> list[tuple[AdvisorInvitation, Proposal]]:
    if not actor.has("external_advisor"):
        raise Forbidden("external advisors only")
    rows = []
    for inv in session.exec(_active_invitations(session, actor)).all():
        case = session.get(ReviewCase, inv.case_id)
        if case.institution_id == actor.institution_id:
            rows.append((inv, session.get(Proposal, case.proposal_id)))
    return rows


@dataclass
class AdvisorAccess:
    invitation: AdvisorInvitation
    case: ReviewCase
    proposal: Proposal
    version: ProposalVersion | None
    opinions: list[AdvisorOpinion]


def advisor_case(session: Session, actor: Actor, case_id: int) -> AdvisorAccess:
    """The case for an invited advisor while the invitation is valid; otherwise NotFound."""
    if not actor.has("external_advisor"):
        raise Forbidden("external advisors only")
    case = session.get(ReviewCase, case_id)
    if case is None or case.institution_id != actor.institution_id:
        raise _deny(actor, f"case {case_id}", "advisor: missing or other institution")
    invitation = session.exec(_active_invitations(session, actor).where(AdvisorInvitation.case_id == case.id)
                              .order_by(AdvisorInvitation.expires_at.desc())).first()
    if invitation is None:
        raise _deny(actor, f"case {case_id}", "advisor: no valid invitation")
    proposal = session.get(Proposal, case.proposal_id)
    opinions = list(session.exec(select(AdvisorOpinion).where(
        AdvisorOpinion.case_id == case.id, AdvisorOpinion.advisor_id == actor.user.id)
        .order_by(AdvisorOpinion.created_at)).all())
    return AdvisorAccess(invitation, case, proposal, latest_version(session, proposal), opinions)


def add_opinion(session: Session, actor: Actor, access: AdvisorAccess, body: str) -> AdvisorOpinion:
    opinion = AdvisorOpinion(case_id=access.case.id, invitation_id=access.invitation.id,
                             advisor_id=actor.user.id, body=_text(body, "body"))
    session.add(opinion)
    session.flush()
    _audit(session, actor.user, "advisor.opinion", access.case, {"opinion_id": opinion.id})
    return opinion


def invitation_for_token(session: Session, token: str) -> AdvisorInvitation | None:
    if not token or len(token) > 200:
        return None
    invitation = session.exec(select(AdvisorInvitation).where(
        AdvisorInvitation.token_hash == _token_hash(token))).first()
    if invitation is None or invitation.token_used_at is not None or invitation.revoked_at is not None \
            or invitation.expires_at <= utcnow():
        return None
    return invitation


def accept_invitation(session: Session, token: str, password: str) -> User:
    """Use the one-time token of a new advisor account to set its password."""
    invitation = invitation_for_token(session, token)
    if invitation is None:
        raise NotFound("invitation")
    user = session.get(User, invitation.advisor_id)
    accounts.set_password(session, user, user, password)
    invitation.token_used_at = utcnow()
    session.add(invitation)
    session.flush()
    return user


# ---------------------------------------------------------------- the researcher's view


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


# ---------------------------------------------------------------- overdue cases


def notify_overdue(session: Session, now: datetime | None = None) -> list[int]:
    """Notify the committee once about each case past its due date; returns the case ids.

    Two runs at once (beat and the command) do not both notify: on PostgreSQL each locks the
    cases it takes and skips those another run holds; SQLite serialises writers anyway.
    """
    now = now or utcnow()
    rows = session.exec(select(ReviewCase, Proposal).join(Proposal, Proposal.id == ReviewCase.proposal_id).where(
        ReviewCase.due_at < now, ReviewCase.overdue_notified_at.is_(None),
        Proposal.status.in_(workflow.UNDER_REVIEW)).with_for_update(of=ReviewCase, skip_locked=True)).all()
    ids = []
    for case, proposal in rows:
        case.overdue_notified_at = now
        session.add(case)
        session.flush()
        _audit(session, None, "case.overdue", case, {"due_at": case.due_at.isoformat()})
        _notify(session, "case_overdue", proposal, case, due_date=case.due_at.date().isoformat())
        ids.append(case.id)
    return ids


# ---------------------------------------------------------------- institution administration


def _admin(actor: Actor) -> None:
    if not actor.has("institution_admin"):
        raise Forbidden("institution administrators only")


def admin_overview(session: Session, actor: Actor) -> dict[str, Any]:
    _admin(actor)
    committees = list(session.exec(select(Committee).where(Committee.institution_id == actor.institution_id)
                                   .order_by(Committee.is_default.desc(), Committee.name)).all())
    return {
        "committees": [(c, committee_members(session, c.id)) for c in committees],
        "rules": list(session.exec(select(RoutingRule).where(RoutingRule.institution_id == actor.institution_id)
                                   .order_by(RoutingRule.kind, RoutingRule.value)).all()),
        "templates": condition_templates(session, actor.institution_id, active_only=False),
    }


def create_committee(session: Session, actor: Actor, name: str, due_days: int) -> Committee:
    _admin(actor)
    ensure_setup(session, actor.user, actor.institution_id)
    if not 1 <= due_days <= 365:
        raise ValidationFailed({"due_days": "1 to 365 days"})
    committee = Committee(institution_id=actor.institution_id, name=_text(name, "name", limit=200), due_days=due_days)
    session.add(committee)
    session.flush()
    audit.record(session, actor.user, "committee.created", "committee", committee.id, actor.institution_id,
                 {"name": committee.name})
    return committee


def _own_committee(session: Session, actor: Actor, committee_id: int) -> Committee:
    committee = session.get(Committee, committee_id)
    if committee is None or committee.institution_id != actor.institution_id:
        raise _deny(actor, f"committee {committee_id}", "other institution")
    return committee


def add_committee_member(session: Session, actor: Actor, committee_id: int, email: str, role: str
                         ) -> CommitteeMember:
    _admin(actor)
    committee = _own_committee(session, actor, committee_id)
    if role not in ("member", "chair"):
        raise ValidationFailed({"role": "member or chair"})
    user = session.exec(select(User).where(User.email == accounts.normalise_email(email))).first()
    needed = "committee_chair" if role == "chair" else "committee_member"
    roles = accounts.roles_in(session, user, actor.institution_id) if user else frozenset()
    if user is None or not roles & {"committee_member", "committee_chair"} or (role == "chair" and needed not in roles):
        raise ValidationFailed({"email": f"no user of this institution with the role {needed}"})
    row = session.exec(select(CommitteeMember).where(CommitteeMember.committee_id == committee.id,
                                                     CommitteeMember.user_id == user.id)).first()
    if row is None:
        row = CommitteeMember(committee_id=committee.id, user_id=user.id, role=role)
    row.role = role
    session.add(row)
    session.flush()
    audit.record(session, actor.user, "committee.member_added", "committee", committee.id, actor.institution_id,
                 {"user_id": user.id, "role": role})
    return row


def add_routing_rule(session: Session, actor: Actor, committee_id: int, kind: str, value: str) -> RoutingRule:
    _admin(actor)
    committee = _own_committee(session, actor, committee_id)
    if kind not in ROUTING_KINDS:
        raise ValidationFailed({"kind": "unknown kind"})
    value = _text(value, "value", limit=100)
    if session.exec(select(RoutingRule).where(RoutingRule.institution_id == actor.institution_id,
                                              RoutingRule.kind == kind, RoutingRule.value == value)).first():
        raise ValidationFailed({"value": "a rule for this value exists"})
    rule = RoutingRule(institution_id=actor.institution_id, committee_id=committee.id, kind=kind, value=value)
    session.add(rule)
    session.flush()
    audit.record(session, actor.user, "routing.rule_added", "routing_rule", rule.id, actor.institution_id,
                 {"committee_id": committee.id, "kind": kind, "value": value})
    return rule


def delete_routing_rule(session: Session, actor: Actor, rule_id: int) -> None:
    _admin(actor)
    rule = session.get(RoutingRule, rule_id)
    if rule is None or rule.institution_id != actor.institution_id:
        raise _deny(actor, f"routing rule {rule_id}", "other institution")
    session.delete(rule)
    session.flush()
    audit.record(session, actor.user, "routing.rule_deleted", "routing_rule", rule_id, actor.institution_id,
                 {"kind": rule.kind, "value": rule.value})


def save_condition_template(session: Session, actor: Actor, key: str, text_en: str, text_de: str,
                            active: bool = True) -> ConditionTemplate:
    """Create a template or change the one with this key (decisions keep their own copy of the text)."""
    _admin(actor)
    ensure_setup(session, actor.user, actor.institution_id)
    key = _text(key, "key", limit=64)
    row = session.exec(select(ConditionTemplate).where(ConditionTemplate.institution_id == actor.institution_id,
                                                       ConditionTemplate.key == key)).first()
    if row is None:
        row = ConditionTemplate(institution_id=actor.institution_id, key=key, text_en="", text_de="")
    row.text_en, row.text_de = _text(text_en, "text_en", limit=2000), _text(text_de, "text_de", limit=2000)
    row.active = active
    session.add(row)
    session.flush()
    audit.record(session, actor.user, "condition_template.saved", "condition_template", row.id,
                 actor.institution_id, {"key": key, "active": active})
    return row


def institution_members(session: Session, institution_id: int, role: str) -> list[User]:
    return list(session.exec(select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.institution_id == institution_id, Membership.role == role)).all())
