"""failed mail: notifications given up (SMTP 5xx or retries exhausted)

Revision ID: 3240d8cb3a0d
Revises: 708b8d5fb1ca
Create Date: 2026-12-06 09:12:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3240d8cb3a0d'
down_revision: str | None = '708b8d5fb1ca'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('failed_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_message_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('smtp_code', sa.Integer(), nullable=True),
    sa.Column('permanent', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_failed_mail_institution_id_institution')),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_message.id'], name=op.f('fk_failed_mail_outbox_message_id_outbox_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_failed_mail')),
    sa.UniqueConstraint('outbox_message_id', name=op.f('uq_failed_mail_outbox_message_id'))
    )
    with op.batch_alter_table('failed_mail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_failed_mail_institution_id'), ['institution_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('failed_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_failed_mail_institution_id'))
    op.drop_table('failed_mail')
