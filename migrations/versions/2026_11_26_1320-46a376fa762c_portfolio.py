"""portfolio

Revision ID: 46a376fa762c
Revises: 4b115e92b242
Create Date: 2026-11-26 13:20:31.533910+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '46a376fa762c'
down_revision: str | None = '4b115e92b242'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('import_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('skipped_rows', sa.Integer(), nullable=False),
    sa.Column('last_item_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name=op.f('ck_import_job_status_known')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_import_job_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_import_job_institution_id_institution')),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], name=op.f('fk_import_job_owner_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_job'))
    )
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_job_institution_id'), ['institution_id'], unique=False)

    op.create_table('report_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('suppress', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'ready', 'failed')", name=op.f('ck_report_job_status_known')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_report_job_institution_id_institution')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_report_job_requested_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_job'))
    )
    with op.batch_alter_table('report_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_job_institution_id'), ['institution_id'], unique=False)

    op.create_table('rescreen_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cause', sa.String(length=300), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('lists', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name=op.f('ck_rescreen_job_status_known')),
    sa.ForeignKeyConstraint(['started_by_id'], ['user_account.id'], name=op.f('fk_rescreen_job_started_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rescreen_job'))
    )
    with op.batch_alter_table('rescreen_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rescreen_job_fingerprint'), ['fingerprint'], unique=False)

    op.create_table('import_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['import_job.id'], name=op.f('fk_import_item_job_id_import_job'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_import_item_proposal_id_proposal'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_item')),
    sa.UniqueConstraint('job_id', 'proposal_id', name=op.f('uq_import_item_job_id_proposal_id'))
    )
    with op.batch_alter_table('import_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_item_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('proposal_field',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_proposal_field_institution_id_institution')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_proposal_field_proposal_id_proposal'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_field')),
    sa.UniqueConstraint('proposal_id', 'code', name=op.f('uq_proposal_field_proposal_id_code'))
    )
    with op.batch_alter_table('proposal_field', schema=None) as batch_op:
        batch_op.create_index('ix_proposal_field_inst_code', ['institution_id', 'code', 'proposal_id'], unique=False)

    op.create_table('proposal_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('max_severity', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_proposal_flag_institution_id_institution')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_proposal_flag_proposal_id_proposal'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_flag')),
    sa.UniqueConstraint('proposal_id', 'category', name=op.f('uq_proposal_flag_proposal_id_category'))
    )
    with op.batch_alter_table('proposal_flag', schema=None) as batch_op:
        batch_op.create_index('ix_proposal_flag_inst_category', ['institution_id', 'category', 'proposal_id'], unique=False)

    op.create_table('proposal_partner',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('listed_entry', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_proposal_partner_institution_id_institution')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_proposal_partner_proposal_id_proposal'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_partner'))
    )
    with op.batch_alter_table('proposal_partner', schema=None) as batch_op:
        batch_op.create_index('ix_proposal_partner_inst_country', ['institution_id', 'country', 'proposal_id'], unique=False)
        batch_op.create_index('ix_proposal_partner_inst_listed', ['institution_id', 'listed_entry'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposal_partner_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('proposal_screening',
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('screened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('flag_keys', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('lists', sa.JSON(), nullable=False),
    sa.Column('ruleset_version', sa.String(length=64), nullable=False),
    sa.Column('ruleset_hash', sa.String(length=128), nullable=True),
    sa.Column('cause', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_proposal_screening_institution_id_institution')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_proposal_screening_proposal_id_proposal'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('proposal_id', name=op.f('pk_proposal_screening'))
    )
    with op.batch_alter_table('proposal_screening', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_screening_institution_id'), ['institution_id'], unique=False)

    op.create_table('screening_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('before_tier', sa.String(length=16), nullable=False),
    sa.Column('after_tier', sa.String(length=16), nullable=False),
    sa.Column('before_flags', sa.JSON(), nullable=False),
    sa.Column('after_flags', sa.JSON(), nullable=False),
    sa.Column('cause', sa.String(length=300), nullable=False),
    sa.Column('tier_rose', sa.Boolean(), nullable=False),
    sa.Column('reopened', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_screening_event_institution_id_institution')),
    sa.ForeignKeyConstraint(['job_id'], ['rescreen_job.id'], name=op.f('fk_screening_event_job_id_rescreen_job')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_screening_event_proposal_id_proposal'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_event')),
    sa.UniqueConstraint('job_id', 'proposal_id', name=op.f('uq_screening_event_job_id_proposal_id'))
    )
    with op.batch_alter_table('screening_event', schema=None) as batch_op:
        batch_op.create_index('ix_screening_event_inst_at', ['institution_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_screening_event_proposal_id'), ['proposal_id'], unique=False)

    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.create_index('ix_proposal_institution_created', ['institution_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_proposal_institution_status', ['institution_id', 'status'], unique=False)
        batch_op.create_index('ix_proposal_institution_tier', ['institution_id', 'tier'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_index('ix_proposal_institution_tier')
        batch_op.drop_index('ix_proposal_institution_status')
        batch_op.drop_index('ix_proposal_institution_created')

    with op.batch_alter_table('screening_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_event_proposal_id'))
        batch_op.drop_index('ix_screening_event_inst_at')

    op.drop_table('screening_event')
    with op.batch_alter_table('proposal_screening', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_screening_institution_id'))

    op.drop_table('proposal_screening')
    with op.batch_alter_table('proposal_partner', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_partner_proposal_id'))
        batch_op.drop_index('ix_proposal_partner_inst_listed')
        batch_op.drop_index('ix_proposal_partner_inst_country')

    op.drop_table('proposal_partner')
    with op.batch_alter_table('proposal_flag', schema=None) as batch_op:
        batch_op.drop_index('ix_proposal_flag_inst_category')

    op.drop_table('proposal_flag')
    with op.batch_alter_table('proposal_field', schema=None) as batch_op:
        batch_op.drop_index('ix_proposal_field_inst_code')

    op.drop_table('proposal_field')
    with op.batch_alter_table('import_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_item_proposal_id'))

    op.drop_table('import_item')
    with op.batch_alter_table('rescreen_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rescreen_job_fingerprint'))

    op.drop_table('rescreen_job')
    with op.batch_alter_table('report_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_job_institution_id'))

    op.drop_table('report_job')
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_job_institution_id'))

    op.drop_table('import_job')
