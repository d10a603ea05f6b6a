"""List monitoring: a new list version or rule set starts a re-screen of every active proposal.

A changed result writes a ``screening_event``; a case whose tier rose goes back to its committee
(a system move) and the international office is told (``list_match_changed``). The chunks run as
the outbox task ``portfolio.rescreen`` (:mod:`screening.portfolio.tasks`).
"""

import copy
import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.accounts.models import User
from screening.accounts.service import Actor
from screening.core import audit, outbox
from screening.core.database import utcnow
from screening.core.engine import get_screener
from screening.core.errors import NotFound
from screening.portfolio.index import CHUNK, TIERS, index_screening, summarise
from screening.portfolio.models import ProposalScreening, RescreenJob, ScreeningEvent
from screening.portfolio.notifications import notify_offices
from screening.portfolio.office import require_office
from screening.proposals import workflow
from screening.proposals.models import Proposal, ProposalVersion
from screening.review.models import Committee, ReviewCase

log = logging.getLogger(__name__)

# Proposals a re-screen looks at: with the committee, fast-tracked or decided.
ACTIVE_STATES = (workflow.SCREENED, workflow.FAST_TRACKED, workflow.IN_REVIEW, workflow.INFORMATION_REQUESTED,
                 workflow.DECIDED)
REOPEN_FROM = (workflow.FAST_TRACKED, workflow.DECIDED)
# Further conditions on the proposals a re-screen looks at, registered by features above this one
# (privacy: a pseudonymised proposal keeps its last screening, its text is gone).
RESCREEN_FILTERS: list[Callable[[], sa.ColumnElement[bool]]] = []


def _rescreened() -> sa.ColumnElement[bool]:
    return sa.and_(Proposal.status.in_(ACTIVE_STATES), *(condition() for condition in RESCREEN_FILTERS))


def fingerprint(screener) -> str:
    lists = screener.list_summaries
    raw = repr((screener.ruleset.hash, sorted((x["name"], x["version"], x["entries"]) for x in lists)))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _lists_of(screener) -> list[dict[str, Any]]:
    return [dict(summary) for summary in screener.list_summaries] + \
        [{"name": "ruleset", "version": str(screener.ruleset.version), "hash": str(screener.ruleset.hash)}]


def list_changes() -> list[tuple[Any, Any]]:
    """Each list in use with what its current version changed (added, removed, changed entries)."""
    from rules.lists import ListError, stored_diff

    changes = []
    for partner_list in get_screener().lists:
        try:
            changes.append((partner_list, stored_diff(partner_list)))
        except ListError:
            changes.append((partner_list, None))
    return changes


def describe_change(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """``list canada-named-research-organizations 2026-12-01`` (and/or the rule set) from two list summaries."""
    old = {x["name"]: x for x in before}
    parts = []
    for item in after:
        prev = old.get(item["name"])
        if item["name"] == "ruleset":
            if prev is None or prev.get("hash") != item.get("hash"):
                parts.append(f"rule set {item['version']}")
        elif prev is None or prev.get("version") != item.get("version") or prev.get("entries") != item.get("entries"):
            parts.append(f"list {item['name']} {item['version']}")
    return ", ".join(parts) or "periodic re-screen"


def check_for_changes(session: Session, screener_factory, current_screener, actor: User | None = None,
                      force: bool = False) -> RescreenJob | None:
    """Start a re-screen when the rule set or a list version differs from the last one screened against.

    ``screener_factory()`` builds a fresh screener from disk; ``current_screener`` is what this
    process has been screening with (the baseline when no re-screen ever ran). Returns the new
    job (its first chunk is enqueued) or None when nothing changed.
    """
    fresh = screener_factory()
    fp = fingerprint(fresh)
    last = session.exec(select(RescreenJob).order_by(RescreenJob.id.desc()).limit(1)).first()
    if last is None:
        before_lists, before_fp = _lists_of(current_screener), fingerprint(current_screener)
    else:
        before_lists, before_fp = last.lists, last.fingerprint
    if fp == before_fp and not force:
        if last is None:  # record the baseline, so that a later list version is noticed by every process
            session.add(RescreenJob(cause="baseline", fingerprint=fp, lists=_lists_of(fresh), status="done",
                                    finished_at=utcnow()))
            session.flush()
        return None
    if last is not None and last.status in ("pending", "running") and last.fingerprint == fp:
        return last
    cause = describe_change(before_lists, _lists_of(fresh)) if fp != before_fp else "periodic re-screen"
    total = session.execute(select(sa.func.count()).select_from(Proposal)
                            .where(_rescreened())).scalar_one()
    job = RescreenJob(cause=cause[:300], fingerprint=fp, lists=_lists_of(fresh), total=total,
                      started_by_id=actor.id if actor else None)
    session.add(job)
    session.flush()
    audit.record(session, actor, "portfolio.rescreen_started", "rescreen_job", job.id, None,
                 {"cause": job.cause, "proposals": total})

    outbox.enqueue(session, "portfolio.rescreen", {"job_id": job.id})
    return job


def _before_summary(session: Session, proposal: Proposal, version: ProposalVersion,
                    current: ProposalScreening | None) -> tuple[str, list[str], list[dict]]:
    if current is not None:
        return current.tier, list(current.flag_keys), list(current.flags)
    s = summarise(version.result_json)
    return s["tier"], s["flag_keys"], s["flags"]


def run_rescreen_chunk(session: Session, job_id: int, screener, chunk: int = CHUNK) -> bool:
    """Re-screen the next chunk of active and decided proposals (ids above the cursor)."""
    job = session.get(RescreenJob, job_id)
    if job is None or job.status in ("done", "failed"):
        return False
    if fingerprint(screener) != job.fingerprint:
        job.status, job.finished_at = "failed", utcnow()
        session.add(job)
        session.flush()
        log.warning("re-screen %s abandoned: the lists changed again; the next check starts a new one", job_id)
        return False
    job.status = "running"
    proposals = session.exec(select(Proposal).where(_rescreened(), Proposal.id > job.last_id)
                             .order_by(Proposal.id).limit(chunk)).all()
    ids = [p.id for p in proposals]
    versions: dict[int, ProposalVersion] = {}
    current: dict[int, ProposalScreening] = {}
    if ids:
        latest = (select(ProposalVersion.proposal_id, sa.func.max(ProposalVersion.number).label("n"))
                  .where(ProposalVersion.proposal_id.in_(ids)).group_by(ProposalVersion.proposal_id).subquery())
        for v in session.exec(select(ProposalVersion).join(latest, sa.and_(
                latest.c.proposal_id == ProposalVersion.proposal_id, latest.c.n == ProposalVersion.number))).all():
            versions[v.proposal_id] = v
        current = {s.proposal_id: s for s in session.exec(
            select(ProposalScreening).where(ProposalScreening.proposal_id.in_(ids))).all()}
    unchanged: list[int] = []
    for proposal in proposals:
        version = versions.get(proposal.id)
        if version is None:
            continue
        before_tier, before_keys, before_flags = _before_summary(session, proposal, version,
                                                                 current.get(proposal.id))
        data = copy.deepcopy(dict(version.proposal_json))
        try:
            result = screener.screen(data, language=version.language if version.language in ("en", "de") else "en")
        except Exception:  # a proposal the current rules cannot read: leave it, say so
            log.exception("re-screen %s: proposal %s could not be screened", job.id, proposal.id)
            continue
        after = summarise(result)
        if after["tier"] == before_tier and after["flag_keys"] == before_keys:
            unchanged.append(proposal.id)
            if proposal.id not in current:
                index_screening(session, proposal, data, result, version.number, job.cause)
            continue
        _record_change(session, job, proposal, version, data, result, after, before_tier, before_flags)
    if unchanged:
        session.execute(sa.update(ProposalScreening).where(ProposalScreening.proposal_id.in_(unchanged))
                        .values(screened_at=utcnow(), lists=[{k: v for k, v in x.items()} for x in
                                                             job.lists if x["name"] != "ruleset"],
                                cause=job.cause).execution_options(synchronize_session=False))
    job.done += len(proposals)
    if proposals:
        job.last_id = proposals[-1].id
    more = len(proposals) == chunk
    if not more:
        job.status, job.finished_at = "done", utcnow()
        notify_offices(session, job)
    session.add(job)
    session.flush()
    return more


def _record_change(session, job, proposal, version, data, result, after, before_tier, before_flags) -> None:
    rose = TIERS.index(after["tier"]) > TIERS.index(before_tier) if before_tier in TIERS else False
    event = ScreeningEvent(proposal_id=proposal.id, institution_id=proposal.institution_id, job_id=job.id,
                           before_tier=before_tier, after_tier=after["tier"], before_flags=before_flags,
                           after_flags=after["flags"], cause=job.cause, tier_rose=rose)
    index_screening(session, proposal, data, result, version.number, job.cause)
    proposal.tier = after["tier"]
    proposal.route = result.get("route") or proposal.route
    session.add(proposal)
    audit.record(session, None, "proposal.rescreened", "proposal", proposal.id, proposal.institution_id,
                 {"job": job.id, "cause": job.cause, "before": before_tier, "after": after["tier"]})
    if rose and proposal.status in REOPEN_FROM:
        reopen_for_committee(session, proposal, job.cause)
        event.reopened = True
    session.add(event)
    job.changed += 1


def reopen_for_committee(session: Session, proposal: Proposal, cause: str) -> None:
    """A re-screen raised the tier of a fast-tracked or decided case: back to its committee."""
    workflow.transition(session, proposal, workflow.IN_REVIEW, None,
                        {"reason": f"re-screen: {cause}"[:300]}, as_system=True)
    case = session.exec(select(ReviewCase).where(ReviewCase.proposal_id == proposal.id)).first()
    if case is None:
        return
    committee = session.get(Committee, case.committee_id)
    now = utcnow()
    session.execute(sa.update(ReviewCase).where(ReviewCase.id == case.id)
                    .values(version=ReviewCase.version + 1, opened_at=now,
                            due_at=now + timedelta(days=committee.due_days if committee else 30),
                            overdue_notified_at=None).execution_options(synchronize_session=False))
    session.expire(case)
    audit.record(session, None, "case.reopened", "review_case", case.id, case.institution_id,
                 {"reason": f"re-screen: {cause}"[:300], "automatic": True})


def latest_change_job(session: Session) -> RescreenJob | None:
    """The most recent re-screen that was not just a baseline."""
    return session.exec(select(RescreenJob).where(RescreenJob.cause != "baseline")
                        .order_by(RescreenJob.id.desc()).limit(1)).first()


def changes(session: Session, actor: Actor, job: RescreenJob | None,
            limit: int = 500) -> list[tuple[ScreeningEvent, Proposal]]:
    require_office(actor)
    if job is None:
        return []
    return list(session.execute(
        select(ScreeningEvent, Proposal).join(Proposal, Proposal.id == ScreeningEvent.proposal_id)
        .where(ScreeningEvent.job_id == job.id, ScreeningEvent.institution_id == actor.institution_id)
        .order_by(ScreeningEvent.tier_rose.desc(), ScreeningEvent.id).limit(limit)).all())


def get_rescreen(session: Session, actor: Actor, job_id: int) -> RescreenJob:
    require_office(actor)
    job = session.get(RescreenJob, job_id)
    if job is None:
        raise NotFound(f"re-screen {job_id}")
    return job
