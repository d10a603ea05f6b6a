"""documents

Revision ID: eeb4a6a38f37
Revises: 46a376fa762c
Create Date: 2026-11-26 13:23:28.117046+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'eeb4a6a38f37'
down_revision: str | None = '46a376fa762c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('document_blob',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_document_blob'))
    )
    op.create_table('generated_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('outbox_message_id', sa.Integer(), nullable=False),
    sa.Column('verification_code', sa.String(length=32), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('store', sa.String(length=16), nullable=True),
    sa.Column('storage_key', sa.String(length=200), nullable=True),
    sa.Column('signed', sa.Boolean(), nullable=False),
    sa.Column('superseded', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rendered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('decision_letter', 'fast_track_letter', 'report', 'certificate')",
                       name=op.f('ck_generated_document_kind_known')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                            name=op.f('fk_generated_document_institution_id_institution')),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_message.id'],
                            name=op.f('fk_generated_document_outbox_message_id_outbox_message')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_generated_document_proposal_id_proposal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generated_document')),
    sa.UniqueConstraint('outbox_message_id', name=op.f('uq_generated_document_outbox_message_id')),
    sa.UniqueConstraint('verification_code', name=op.f('uq_generated_document_verification_code'))
    )
    with op.batch_alter_table('generated_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_generated_document_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index('ix_generated_document_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_generated_document_proposal_id'), ['proposal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_generated_document_sha256'), ['sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('generated_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_generated_document_sha256'))
        batch_op.drop_index(batch_op.f('ix_generated_document_proposal_id'))
        batch_op.drop_index('ix_generated_document_object')
        batch_op.drop_index(batch_op.f('ix_generated_document_institution_id'))

    op.drop_table('generated_document')
    op.drop_table('document_blob')
