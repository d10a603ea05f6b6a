"""The portfolio's search facets, written whenever a proposal is screened.

Submission (``proposals.signals.screened``), import and re-screen call :func:`index_screening`,
which rewrites the proposal's rows in ``proposal_partner``, ``proposal_field``, ``proposal_flag``,
``proposal_text`` (the words free-text search finds) and ``proposal_screening``. Filters and
aggregates read only those tables and indexed columns of ``proposal``, never JSON. Database
triggers keep ``portfolio_count`` and the full-text index in step with these writes
(:mod:`screening.portfolio.counts`), so they may be written row by row, in batches or by COPY.
"""

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.core import bulk
from screening.core.database import utcnow
from screening.portfolio.models import ProposalField, ProposalFlag, ProposalPartner, ProposalScreening, ProposalText
from screening.proposals import signals as proposal_signals
from screening.proposals.models import Proposal, ProposalVersion
from screening.review import cases

SEVERITIES = ("info", "low", "medium", "high", "critical")
TIERS = ("low", "medium", "high", "critical")
CHUNK = 500


def _severity_rank(level: str) -> int:
    return SEVERITIES.index(level) if level in SEVERITIES else 0


def flag_key(flag: dict[str, Any]) -> str:
    """Stable identity of a flag (the rule and what it is about; match scores and list versions left out)."""
    return cases.flag_key(flag)


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """What a re-screen compares and the certificate states, from an engine result."""
    flags = result.get("flags") or []
    keys = sorted({f"{flag_key(f)}:{f.get('severity')}" for f in flags})
    short = [{"rule": f.get("rule"), "category": f.get("category"), "severity": f.get("severity"),
              "title": str(f.get("title") or "")[:300]} for f in flags]
    listed: dict[int, str] = {}
    for f in flags:
        ev = f.get("evidence") or {}
        if isinstance(ev, dict) and ev.get("entry") and isinstance(ev.get("partner_index"), int):
            listed.setdefault(ev["partner_index"], str(ev["entry"])[:300])
    categories: dict[str, tuple[str, int]] = {}
    for f in flags:
        cat, sev = str(f.get("category")), str(f.get("severity"))
        old = categories.get(cat)
        if old is None or _severity_rank(sev) > _severity_rank(old[0]):
            categories[cat] = (sev, (old[1] if old else 0) + 1)
        else:
            categories[cat] = (old[0], old[1] + 1)
    return {"tier": result.get("tier") or "low", "flag_keys": keys, "flags": short, "listed": listed,
            "categories": categories,
            "lists": [{"name": x.get("name"), "version": x.get("version"), "entries": x.get("entries")}
                      for x in result.get("lists") or []]}


def index_screening(session: Session, proposal: Proposal, data: dict[str, Any], result: dict[str, Any],
                    version_number: int, cause: str, *, facets: bool = True,
                    batch: dict[Any, list] | None = None) -> dict[str, Any]:
    """Rewrite the proposal's facet rows and current screening from ``data`` and its ``result``.

    ``batch``: the proposal has no rows yet (an import); the rows are collected there and written
    with one multi-row INSERT per table by :func:`flush_batch`.
    """
    summary = summarise(result)
    pid, inst = proposal.id, proposal.institution_id
    if batch is not None:
        _facet_rows(batch, pid, inst, data, summary, proposal.title)
        batch.setdefault(ProposalScreening, []).append(
            {"proposal_id": pid, **_screening_values(inst, version_number, result, summary, cause)})
        return summary
    if facets:
        for model in (ProposalPartner, ProposalField, ProposalFlag, ProposalText):
            session.execute(sa.delete(model).where(model.proposal_id == pid))
        partners = [{"proposal_id": pid, "institution_id": inst, "position": i,
                     "name": str(p.get("name") or "")[:300], "country": str(p.get("country") or "")[:2],
                     "listed_entry": summary["listed"].get(i)}
                    for i, p in enumerate(data.get("partners") or [])]
        fields = [{"proposal_id": pid, "institution_id": inst, "code": str(c)[:8]}
                  for c in dict.fromkeys(data.get("research_fields") or [])]
        flags = [{"proposal_id": pid, "institution_id": inst, "category": cat[:32], "max_severity": sev,
                  "count": n} for cat, (sev, n) in summary["categories"].items()]
        text = [text_row(pid, inst, proposal.title, data)]
        for model, rows in ((ProposalPartner, partners), (ProposalField, fields), (ProposalFlag, flags),
                            (ProposalText, text)):
            if rows:
                session.execute(sa.insert(model), rows)
    row = session.get(ProposalScreening, pid)
    values = _screening_values(inst, version_number, result, summary, cause)
    if row is None:
        session.add(ProposalScreening(proposal_id=pid, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
    session.flush()
    return summary


def _screening_values(inst: int, version_number: int, result: dict, summary: dict, cause: str) -> dict:
    return {"institution_id": inst, "version_number": version_number, "screened_at": utcnow(),
            "tier": summary["tier"], "flag_keys": summary["flag_keys"], "flags": summary["flags"],
            "lists": summary["lists"], "ruleset_version": str(result.get("ruleset_version") or "")[:64],
            "ruleset_hash": result.get("ruleset_hash"), "cause": cause[:300]}


def text_row(pid: int, inst: int, title: str, data: dict[str, Any]) -> dict[str, Any]:
    """The ``proposal_text`` row: title, partner names (also in their own script), keywords, abstract."""
    words = [title]
    for partner in data.get("partners") or []:
        words += [str(partner.get("name") or ""), str(partner.get("name_local") or "")]
    words += [str(k) for k in data.get("keywords") or []]
    words.append(str(data.get("abstract") or ""))
    return {"proposal_id": pid, "institution_id": inst, "body": " ".join(w for w in words if w)}


def _facet_rows(batch: dict, pid: int, inst: int, data: dict, summary: dict, title: str) -> None:
    batch.setdefault(ProposalPartner, []).extend(
        {"proposal_id": pid, "institution_id": inst, "position": i, "name": str(p.get("name") or "")[:300],
         "country": str(p.get("country") or "")[:2], "listed_entry": summary["listed"].get(i)}
        for i, p in enumerate(data.get("partners") or []))
    batch.setdefault(ProposalField, []).extend(
        {"proposal_id": pid, "institution_id": inst, "code": str(c)[:8]}
        for c in dict.fromkeys(data.get("research_fields") or []))
    batch.setdefault(ProposalFlag, []).extend(
        {"proposal_id": pid, "institution_id": inst, "category": cat[:32], "max_severity": sev, "count": n}
        for cat, (sev, n) in summary["categories"].items())
    batch.setdefault(ProposalText, []).append(text_row(pid, inst, title, data))


def flush_batch(session: Session, batch: dict[Any, list]) -> None:
    for model in (ProposalPartner, ProposalField, ProposalFlag, ProposalText, ProposalScreening):
        bulk.insert_rows(session, model, batch.pop(model, []))


def index_version(session: Session, proposal: Proposal, version: ProposalVersion, cause: str = "submission") -> None:
    """Called by the intake after a version is frozen and screened."""
    index_screening(session, proposal, version.proposal_json, version.result_json, version.number, cause)


@proposal_signals.screened.connect
def index_submission(proposal: Proposal, *, session: Session, version: ProposalVersion) -> None:
    """A submitted version was screened: its search facets."""
    index_version(session, proposal, version)


def reindex_all(session: Session, institution_id: int | None = None, limit: int | None = None) -> int:
    """Build the facets of proposals that have a version but no current screening yet (upgrades).

    ``limit``: at most that many proposals (lowest ids first); call again until it returns 0.
    """
    latest = (select(ProposalVersion.proposal_id, sa.func.max(ProposalVersion.number).label("n"))
              .group_by(ProposalVersion.proposal_id).subquery())
    stmt = (select(Proposal, ProposalVersion)
            .join(latest, latest.c.proposal_id == Proposal.id)
            .join(ProposalVersion, sa.and_(ProposalVersion.proposal_id == Proposal.id,
                                           ProposalVersion.number == latest.c.n))
            .outerjoin(ProposalScreening, ProposalScreening.proposal_id == Proposal.id)
            .where(ProposalScreening.proposal_id.is_(None)))
    if institution_id is not None:
        stmt = stmt.where(Proposal.institution_id == institution_id)
    if limit is not None:
        stmt = stmt.order_by(Proposal.id).limit(limit)
    count = 0
    for proposal, version in session.exec(stmt).all():
        index_version(session, proposal, version, cause="index")
        count += 1
    return count


def current_screening(session: Session, proposal: Proposal) -> ProposalScreening | None:
    row = session.get(ProposalScreening, proposal.id)
    if row is not None:
        return row
    version = session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)
                           .order_by(ProposalVersion.number.desc()).limit(1)).first()
    if version is None:
        return None
    s = summarise(version.result_json)
    return ProposalScreening(proposal_id=proposal.id, institution_id=proposal.institution_id,
                             version_number=version.number, screened_at=version.submitted_at, tier=s["tier"],
                             flag_keys=s["flag_keys"], flags=s["flags"], lists=s["lists"],
                             ruleset_version=version.ruleset_version, ruleset_hash=version.ruleset_hash,
                             cause="submission")
