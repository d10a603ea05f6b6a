"""What a letter says: its plain context, built from the database in the researcher's language."""

from typing import Any

from flask import current_app
from sqlmodel import Session, select

from screening.accounts.models import Institution, User
from screening.core.countries import country_name
from screening.core.errors import NotFound
from screening.documents.assets import default_registry
from screening.documents.letters import format_code, reference_for, verification_url
from screening.documents.models import GeneratedDocument
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.models import Committee, ReviewCase

MAX_SOURCES_PER_FLAG = 8
MAX_SOURCE_CHARS = 300
LANGUAGES = ("de", "en")


def _language(owner: User | None, version: ProposalVersion | None) -> str:
    for candidate in (owner.language if owner else None, version.language if version else None):
        if candidate in LANGUAGES:
            return candidate
    return "en"


def _institution(inst: Institution) -> dict[str, Any]:
    letterhead = (current_app.config.get("LETTERHEADS") or {}).get(inst.slug, {})
    logo = letterhead.get("logo") or f"logo-{inst.slug}.svg"
    if logo not in default_registry():  # not a registered asset: a letter without logo
        logo = None
    return {"name": inst.name, "office": letterhead.get("office"),
            "address_lines": list(letterhead.get("address_lines") or []), "logo": logo}


def frozen_version(session: Session, proposal_id: int, number: int | None = None) -> ProposalVersion:
    stmt = select(ProposalVersion).where(ProposalVersion.proposal_id == proposal_id)
    if number is not None:
        stmt = stmt.where(ProposalVersion.number == number)
    version = session.exec(stmt.order_by(ProposalVersion.number.desc())).first()
    if version is None:
        raise NotFound(f"no submitted version of proposal {proposal_id}")
    return version


def _common(session: Session, proposal: Proposal, version: ProposalVersion, doc: GeneratedDocument,
            language: str) -> dict[str, Any]:
    owner = session.get(User, proposal.owner_id)
    data = version.proposal_json or {}
    return {
        "institution": _institution(session.get(Institution, proposal.institution_id)),
        "reference": reference_for(proposal),
        "researcher": {"name": owner.name, "department": proposal.faculty or None},
        "project": {"title": str(data.get("title") or proposal.title)},
        "partners": [{"name": str(p.get("name", "")), "country": country_name(str(p.get("country", "")), language)}
                     for p in data.get("partners") or []],
        "rule_set": {"version": version.ruleset_version or "", "hash": version.ruleset_hash or ""},
        "lists": [{"name": str(x.get("name", "")), "version": str(x.get("version", ""))}
                  for x in version.lists_json or []],
        "verification_code": format_code(doc.verification_code),
        "verification_url": verification_url(doc.verification_code),
    }


def decision_context(session: Session, decision, doc: GeneratedDocument) -> tuple[dict[str, Any], str]:
    """(context, language) of a decision letter, from the frozen version the decision was made on."""
    proposal = session.get(Proposal, decision.proposal_id)
    version = frozen_version(session, proposal.id, decision.version_number)
    language = _language(session.get(User, proposal.owner_id), version)
    case = session.get(ReviewCase, decision.case_id)
    committee = session.get(Committee, case.committee_id)
    chair = session.get(User, decision.decided_by_id)
    flags = [{"title": str(f.get("title", "")), "severity": str(f.get("severity", "info")),
              "sources": [str(s)[:MAX_SOURCE_CHARS] for s in (f.get("sources") or [])[:MAX_SOURCES_PER_FLAG]]}
             for f in (version.result_json or {}).get("flags") or []]
    context = _common(session, proposal, version, doc, language)
    context.update({
        "issued_on": decision.decided_at.date(),
        "decision": decision.outcome,
        "conditions": [str(c.get("text_de" if language == "de" else "text_en") or c.get("text_en") or "")
                       for c in decision.conditions or []],
        "reasoning": decision.reasoning,
        "flags": flags,
        "committee": {"name": committee.name, "chair": chair.name},
    })
    return context, language


def fast_track_context(session: Session, proposal: Proposal, doc: GeneratedDocument) -> tuple[dict[str, Any], str]:
    version = frozen_version(session, proposal.id)
    language = _language(session.get(User, proposal.owner_id), version)
    context = _common(session, proposal, version, doc, language)
    context.update({"issued_on": version.submitted_at.date(), "tier": version.tier or "low"})
    return context, language
