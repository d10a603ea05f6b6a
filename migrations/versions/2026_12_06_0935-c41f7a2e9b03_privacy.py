"""privacy: retention policies, pseudonymised proposals, audit chain over payload hashes

Revision ID: c41f7a2e9b03
Revises: c9e650f90baa
Create Date: 2026-12-06 09:35:00.000000+00:00

The audit chain moves from hashing each row's whole content to hashing its header plus the
SHA-256 of its pseudonymisable payload (actor, details); see screening/core/audit.py. The upgrade
first checks the existing chain under the old rule and refuses, naming the sequence number, if it
is broken: re-hashing a tampered chain would hide the tampering. The downgrade refuses once a
payload has been pseudonymised (the old rule cannot cover it).
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision: str = 'c41f7a2e9b03'
down_revision: str | None = 'c9e650f90baa'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
audit_event = sa.table(
    "audit_event",
    sa.column("seq", sa.Integer), sa.column("at", sa.DateTime(timezone=True)), sa.column("actor_id", sa.Integer),
    sa.column("actor", sa.String), sa.column("action", sa.String), sa.column("object_type", sa.String),
    sa.column("object_id", sa.String), sa.column("institution_id", sa.Integer), sa.column("details", sa.JSON),
    sa.column("payload_hash", sa.String), sa.column("redacted_by", sa.Integer), sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)


def _sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest()


def _header(row, prev_hash: str) -> dict:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return {"seq": row.seq, "at": at.astimezone(UTC).isoformat(timespec="microseconds"), "actor_id": row.actor_id,
            "action": row.action, "object_type": row.object_type, "object_id": row.object_id,
            "institution_id": row.institution_id, "prev_hash": prev_hash}


def _whole_row_hash(row, prev_hash: str) -> str:
    return _sha256_json({**_header(row, prev_hash), "actor": row.actor, "details": row.details})


def _payload_hash(row) -> str:
    return _sha256_json({"actor": row.actor, "details": row.details})


def _payload_chain_hash(row, prev_hash: str) -> str:
    return _sha256_json({**_header(row, prev_hash), "payload_hash": _payload_hash(row)})


def _read(conn) -> list:
    columns = [c for c in audit_event.c if c.name not in ("payload_hash", "redacted_by")]
    return conn.execute(sa.select(*columns).order_by(audit_event.c.seq)).all()


def _check(rows, rule) -> None:
    """Refuse (before any change) unless every row fits ``rule`` in sequence order."""
    prev = GENESIS
    for expected, row in enumerate(rows, start=1):
        if row.seq != expected or row.prev_hash != prev or rule(row, prev) != row.hash:
            raise RuntimeError(f"audit trail broken at seq {expected}: fix or restore it before this upgrade "
                               "(`screening audit verify` on the previous release names the same row)")
        prev = row.hash


def _rewrite(conn, rows, rule, with_payload_hash: bool) -> None:
    prev = GENESIS
    for row in rows:
        new = rule(row, prev)
        values = {"prev_hash": prev, "hash": new}
        if with_payload_hash:
            values["payload_hash"] = _payload_hash(row)
        conn.execute(sa.update(audit_event).where(audit_event.c.seq == row.seq).values(**values))
        prev = new


def upgrade() -> None:
    rows = _read(op.get_bind())
    _check(rows, _whole_row_hash)  # first: SQLite runs the DDL below outside a transaction
    op.create_table('retention_policy',
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('drafts_months', sa.Integer(), server_default='6', nullable=False),
    sa.Column('withdrawn_months', sa.Integer(), server_default='24', nullable=False),
    sa.Column('decided_months', sa.Integer(), server_default='120', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('decided_months BETWEEN 1 AND 1200', name=op.f('ck_retention_policy_decided_months_range')),
    sa.CheckConstraint('drafts_months BETWEEN 1 AND 1200', name=op.f('ck_retention_policy_drafts_months_range')),
    sa.CheckConstraint('withdrawn_months BETWEEN 1 AND 1200',
                       name=op.f('ck_retention_policy_withdrawn_months_range')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                            name=op.f('fk_retention_policy_institution_id_institution')),
    sa.PrimaryKeyConstraint('institution_id', name=op.f('pk_retention_policy'))
    )
    op.create_table('pseudonymised_proposal',
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                            name=op.f('fk_pseudonymised_proposal_institution_id_institution')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'],
                            name=op.f('fk_pseudonymised_proposal_proposal_id_proposal')),
    sa.PrimaryKeyConstraint('proposal_id', name=op.f('pk_pseudonymised_proposal'))
    )
    with op.batch_alter_table('pseudonymised_proposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pseudonymised_proposal_institution_id'), ['institution_id'],
                              unique=False)

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('redacted_by', sa.Integer(), nullable=True))
    _rewrite(op.get_bind(), rows, _payload_chain_hash, with_payload_hash=True)
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('payload_hash', existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    conn = op.get_bind()
    pseudonymised = conn.execute(sa.select(sa.func.count()).select_from(audit_event)
                                 .where(audit_event.c.redacted_by.is_not(None))).scalar()
    if pseudonymised:
        raise RuntimeError(f"{pseudonymised} audit rows are pseudonymised: the previous release cannot verify "
                           "them; restore the backup taken before the upgrade instead")
    rows = _read(conn)
    _check(rows, _payload_chain_hash)
    _rewrite(conn, rows, _whole_row_hash, with_payload_hash=False)
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('redacted_by')
        batch_op.drop_column('payload_hash')

    with op.batch_alter_table('pseudonymised_proposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pseudonymised_proposal_institution_id'))
    op.drop_table('pseudonymised_proposal')
    op.drop_table('retention_policy')
