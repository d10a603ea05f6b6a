"""The dashboard's pre-computed counts (``portfolio_count``): reading them, and recounting them.

Database triggers made by the migration keep the rows up to date in the transaction that changes
``proposal`` (status, tier), ``proposal_partner`` or ``proposal_field``, whichever code path
writes them (ORM, multi-row INSERT, COPY, cascading deletes). A dashboard therefore reads a few
hundred rows instead of grouping the whole portfolio. :func:`recount` rebuilds them from the
base tables (``screening portfolio recount``), and :func:`recounted` is what a recount would
write, so a test can compare the two after any sequence of changes. The same triggers keep
``partner_name`` (each institution's distinct partner names, for the partner-name filter): a
recount rebuilds it too, and :func:`partner_names` reads it or recollects it.

Dimensions (``dimension``, ``key``, ``tier``):

- ``status``: proposals per status and tier (drafts included; tier ``""`` until screened);
- ``country``: proposals per partner country and tier, each proposal once per country;
- ``listed``: proposals per matched list entry (tier ``""``);
- ``field``: proposals per OECD FORD code (tier ``""``);
- ``opened``: open proposals (:data:`OPEN_STATES`) per day filed, ``YYYY-MM-DD`` in UTC (tier ``""``),
  for the ageing of open cases.

Concurrent writers (PostgreSQL). A transaction holds the count rows it upserted until it commits,
and takes them statement by statement: a submission (draft, submitted, screened, in review, then
its partners and fields), an import chunk (one UPDATE per row, then COPY of partners and fields),
a decision. Two of them could take shared rows (proposals in review at tier critical, open
proposals filed today) in different orders, or take some and then queue for the audit chain's
lock (held by every audited transaction until it commits) while the other holds that lock and
wants the same rows. PostgreSQL would abort one after ``deadlock_timeout``: a 500 for a web
user, a retried import chunk. So a statement that changes a count first takes the audit chain's
advisory lock (trigger ``search_count_0lock_*``, migration 7f581aba9f4a), and only then upserts:
whoever writes counts holds that one lock, and no transaction ever waits for a count row.

Why that lock and not another: a lock per institution would still form a cycle with the audit
chain's (counts then audit in one transaction, audit then counts in another). One consistent
order over all count rows would need each transaction's changes as one statement, which a
submission's successive transitions are not. Retrying on ``DeadlockDetected`` would keep the
second's wait and add a redo. Counting writers were serialised already from their first audit
event until commit; they now are from their first counted change, a moment earlier (for an import
chunk: from its status UPDATE instead of after its versions' COPY). Statements that change no count
(a draft's text, ``updated_at``) and readers do not wait. :func:`recount` locks the base tables
instead. SQLite lets one writer in at a time.
"""

import sqlalchemy as sa
from sqlmodel import Session, select

from screening.portfolio.models import PartnerName, PortfolioCount, ProposalField, ProposalPartner
from screening.proposals import workflow
from screening.proposals.models import Proposal

Key = tuple[int, str, str, str]  # (institution, dimension, key, tier)
# The states in which a case waits for someone (the migration's triggers name the same states).
OPEN_STATES = (workflow.SUBMITTED, workflow.SCREENED, workflow.IN_REVIEW, workflow.INFORMATION_REQUESTED,
               workflow.IMPORTED)


def stored(session: Session, institution_id: int | None = None, only: str | None = None) -> dict[Key, int]:
    """The non-zero counts as the triggers left them (``only``: of that dimension)."""
    stmt = select(PortfolioCount.institution_id, PortfolioCount.dimension, PortfolioCount.key,
                  PortfolioCount.tier, PortfolioCount.n).where(PortfolioCount.n != 0)
    if institution_id is not None:
        stmt = stmt.where(PortfolioCount.institution_id == institution_id)
    if only is not None:
        stmt = stmt.where(PortfolioCount.dimension == only)
    return {(i, d, k, t): n for i, d, k, t, n in session.execute(stmt)}


def recounted(session: Session, institution_id: int | None = None) -> dict[Key, int]:
    """The counts grouped afresh from ``proposal`` and its facet tables (a full scan)."""
    def only(column):
        return [] if institution_id is None else [column == institution_id]

    tier = sa.func.coalesce(Proposal.tier, sa.literal_column("''"))
    if session.get_bind().dialect.name == "postgresql":
        day = sa.func.to_char(sa.func.timezone("UTC", Proposal.created_at), sa.literal_column("'YYYY-MM-DD'"))
    else:
        day = sa.func.substr(Proposal.created_at, sa.literal_column("1"), sa.literal_column("10"))
    pairs = (select(ProposalPartner.proposal_id, ProposalPartner.country).distinct()
             .where(*only(ProposalPartner.institution_id)).subquery())
    pp = ProposalPartner
    queries = [
        select(Proposal.institution_id, sa.literal("status"), Proposal.status, tier, sa.func.count())
        .where(*only(Proposal.institution_id)).group_by(Proposal.institution_id, Proposal.status, tier),
        select(Proposal.institution_id, sa.literal("opened"), day, sa.literal(""), sa.func.count())
        .where(Proposal.status.in_(OPEN_STATES), *only(Proposal.institution_id)).group_by(Proposal.institution_id, day),
        select(Proposal.institution_id, sa.literal("country"), pairs.c.country, tier, sa.func.count())
        .join(Proposal, Proposal.id == pairs.c.proposal_id).group_by(Proposal.institution_id, pairs.c.country, tier),
        select(pp.institution_id, sa.literal("listed"), pp.listed_entry, sa.literal(""),
               sa.func.count(sa.distinct(pp.proposal_id)))
        .where(pp.listed_entry.is_not(None), *only(pp.institution_id)).group_by(pp.institution_id, pp.listed_entry),
        select(ProposalField.institution_id, sa.literal("field"), ProposalField.code, sa.literal(""), sa.func.count())
        .where(*only(ProposalField.institution_id)).group_by(ProposalField.institution_id, ProposalField.code),
    ]
    return {(i, d, k, t): n for query in queries for i, d, k, t, n in session.execute(query)}


def partner_names(session: Session, institution_id: int, recollected: bool = False) -> set[str]:
    """The institution's partner names as the triggers left them in ``partner_name``, or
    ``recollected`` from its partner rows (what a recount would write)."""
    if recollected:
        stmt = select(ProposalPartner.name).distinct().where(ProposalPartner.institution_id == institution_id)
    else:
        stmt = select(PartnerName.name).where(PartnerName.institution_id == institution_id)
    return set(session.execute(stmt).scalars())


def recount(session: Session, institution_id: int | None = None) -> int:
    """Rebuild the counts and partner names (of one institution, or all); returns the number of
    count rows written.

    On PostgreSQL the base tables are locked against writers (readers go on) until the caller
    commits, so no change slips between the count and the rewrite.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("LOCK TABLE proposal, proposal_partner, proposal_field IN SHARE MODE"))
    delete_counts, delete_names = sa.delete(PortfolioCount), sa.delete(PartnerName)
    names = select(ProposalPartner.institution_id, ProposalPartner.name).distinct()
    if institution_id is not None:
        delete_counts = delete_counts.where(PortfolioCount.institution_id == institution_id)
        delete_names = delete_names.where(PartnerName.institution_id == institution_id)
        names = names.where(ProposalPartner.institution_id == institution_id)
    session.execute(delete_counts)  # first: on SQLite this takes the write lock before the counts are read
    session.execute(delete_names)
    session.execute(sa.insert(PartnerName).from_select(["institution_id", "name"], names))
    rows = [{"institution_id": i, "dimension": d, "key": k, "tier": t, "n": n}
            for (i, d, k, t), n in recounted(session, institution_id).items()]
    if rows:
        session.execute(sa.insert(PortfolioCount), rows)
    return len(rows)


def dimension(counts: dict[Key, int], name: str) -> dict[tuple[str, str], int]:
    """One dimension of :func:`stored` as ``{(key, tier): n}``."""
    return {(k, t): n for (_i, d, k, t), n in counts.items() if d == name}
