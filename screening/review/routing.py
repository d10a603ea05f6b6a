"""Set-up and routing: the default committee, which committee gets a case, opening it."""

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from screening.accounts.models import User
from screening.core import audit, bulk
from screening.core.database import utcnow
from screening.proposals import signals as proposal_signals
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.cases import audit_case, bump_version, case_entry, committee_members
from screening.review.models import Committee, ConditionTemplate, InformationRequest, ReviewCase, RoutingRule
from screening.review.notifications import notify_case

DEFAULT_COMMITTEE_NAME = "Research security committee"
DEFAULT_DUE_DAYS = 30
SEED_CONDITIONS = [
    ("no_personal_data_transfer", "No transfer of personal data to the partner.",
     "Keine Übermittlung personenbezogener Daten an den Partner."),
    ("export_licence_before_start", "An export-control licence must be granted before the project starts.",
     "Vor Projektbeginn muss eine Ausfuhrgenehmigung vorliegen."),
    ("annual_report", "An annual report on the collaboration is sent to the committee.",
     "Dem Ausschuss wird jährlich über die Zusammenarbeit berichtet."),
]


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
    committee_id, routed_by = _choose(rules, proposal.faculty, version.proposal_json.get("research_fields", []))
    return (default if committee_id is None else session.get(Committee, committee_id)), routed_by


def _choose(rules, faculty: str | None, research_fields) -> tuple[int | None, str]:
    """(committee id, how) by faculty, else by the longest FORD prefix; (None, "default") when no rule applies."""
    faculty = (faculty or "").strip().casefold()
    if faculty:
        for rule in rules:
            if rule.kind == "faculty" and rule.value.strip().casefold() == faculty:
                return rule.committee_id, f"faculty:{rule.value}"
    fields = [str(f) for f in research_fields]
    best: RoutingRule | None = None
    for rule in rules:
        if rule.kind != "field_prefix":
            continue
        prefix = rule.value.strip()
        matches = any(f == prefix or f.startswith(prefix.rstrip(".") + ".") for f in fields)
        if matches and (best is None or len(prefix) > len(best.value)):
            best = rule
    if best is not None:
        return best.committee_id, f"field:{best.value}"
    return None, "default"


def open_case(session: Session, user: User, proposal: Proposal, version: ProposalVersion) -> ReviewCase:
    """Called by the intake after screening: file the case with its committee (fast-tracked or in review)."""
    committee, routed_by = route(session, proposal, version)
    values = _case_values(proposal, committee, routed_by, version.model_dump())
    case = ReviewCase(**values)
    session.add(case)
    session.flush()
    audit.record_many(session, user, _opened_entries(case.id, values, committee))
    if case.fast_track_rationale is None:
        owner = session.get(User, proposal.owner_id)
        notify_case(session, "case_new", proposal, case, tier=proposal.tier or "low",
                    due_date=case.due_at.date().isoformat(), researcher_name=owner.name)
    return case


def open_cases(session: Session, user: User, institution_id: int,
               screened: Sequence[tuple[Proposal, Mapping[str, Any]]]) -> list[int]:
    """:func:`open_case` for many proposals of one institution at once (an import chunk); the case ids.

    ``screened``: each proposal (its new status set) with the column values of its new version.

    The same cases, audit events and notices, with one routing look-up, one INSERT per table and
    the committee's members read once per committee.
    """
    default = ensure_setup(session, None, institution_id)
    rules = session.exec(select(RoutingRule).where(RoutingRule.institution_id == institution_id)).all()
    committees = {default.id: default}
    rows = []
    for proposal, version in screened:
        committee_id, routed_by = _choose(rules, proposal.faculty, version["proposal_json"].get("research_fields", []))
        committee_id = default.id if committee_id is None else committee_id
        if committee_id not in committees:
            committees[committee_id] = session.get(Committee, committee_id)
        rows.append(_case_values(proposal, committees[committee_id], routed_by, version))
    bulk.insert_rows(session, ReviewCase, [{**values, "rapporteur_id": None, "overdue_notified_at": None,
                                            "version": 1} for values in rows])
    opened = dict(session.execute(select(ReviewCase.proposal_id, ReviewCase.id).where(
        ReviewCase.proposal_id.in_([values["proposal_id"] for values in rows]))).all())
    ids = [opened[values["proposal_id"]] for values in rows]
    entries = []
    for case_id, values in zip(ids, rows, strict=True):
        entries += _opened_entries(case_id, values, committees[values["committee_id"]])
    audit.record_many(session, user, entries)
    members = {cid: [u for u, _role in committee_members(session, cid)] for cid in committees}
    owners: dict[int, User] = {}
    for (proposal, _version), case_id, values in zip(screened, ids, rows, strict=True):
        if values["fast_track_rationale"] is None and members[values["committee_id"]]:
            if proposal.owner_id not in owners:
                owners[proposal.owner_id] = session.get(User, proposal.owner_id)
            notify_case(session, "case_new", proposal, ReviewCase(id=case_id, **values),
                        to=members[values["committee_id"]], tier=proposal.tier or "low",
                        due_date=values["due_at"].date().isoformat(), researcher_name=owners[proposal.owner_id].name)
    return ids


def _case_values(proposal: Proposal, committee: Committee, routed_by: str, version: Mapping[str, Any]) -> dict:
    now = utcnow()
    values = {"proposal_id": proposal.id, "institution_id": proposal.institution_id, "committee_id": committee.id,
              "routed_by": routed_by, "opened_at": now, "due_at": now + timedelta(days=committee.due_days),
              "fast_track_rationale": None}
    if proposal.status == workflow.FAST_TRACKED:
        values["due_at"] = None
        values["fast_track_rationale"] = {
            "reason": "automatic clearance: no rule raised a concern above the low tier",
            "tier": version["tier"], "version": version["number"],
            "ruleset_version": version["ruleset_version"], "ruleset_hash": version["ruleset_hash"],
            "lists": [{"name": x.get("name"), "version": x.get("version")} for x in version["lists_json"]],
        }
    return values


def _opened_entries(case_id: int, values: dict, committee: Committee) -> list[audit.Entry]:
    rationale = values["fast_track_rationale"]
    entries = [case_entry("case.opened", case_id, values["institution_id"],
                          {"committee": committee.name, "routed_by": values["routed_by"],
                           "fast_tracked": rationale is not None})]
    if rationale is not None:
        entries.append(case_entry("case.fast_tracked", case_id, values["institution_id"], rationale))
    return entries


def case_for_proposal(session: Session, proposal: Proposal) -> ReviewCase | None:
    return session.exec(select(ReviewCase).where(ReviewCase.proposal_id == proposal.id)).first()


def resubmitted(session: Session, user: User, proposal: Proposal, version: ProposalVersion) -> None:
    """Called by the intake when the researcher answered an information request with a new version."""
    case = case_for_proposal(session, proposal)
    if case is None:
        return
    bump_version(session, case, case.version)
    for request in session.exec(select(InformationRequest).where(
            InformationRequest.case_id == case.id, InformationRequest.answered_version.is_(None))).all():
        request.answered_version = version.number
        request.answered_at = utcnow()
        session.add(request)
    session.flush()
    audit_case(session, user, "case.resubmitted", case, {"version": version.number, "tier": version.tier})
    notify_case(session, "case_resubmitted", proposal, case, version_number=version.number, researcher_name=user.name)


@proposal_signals.routed.connect
def file_case(proposal: Proposal, *, session: Session, user: User, version: ProposalVersion,
              resubmission: bool) -> None:
    """The intake routed ``proposal``: open its case, or give the committee the answer to its questions."""
    if resubmission:
        resubmitted(session, user, proposal, version)
    else:
        open_case(session, user, proposal, version)
