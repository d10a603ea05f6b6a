"""notifications

Revision ID: 2e23ca0619a1
Revises: 9a05ac300aaa
Create Date: 2026-11-26 13:11:34.229145+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '2e23ca0619a1'
down_revision: str | None = '9a05ac300aaa'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sent_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_message_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('transport', sa.String(length=16), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_message.id'], name=op.f('fk_sent_mail_outbox_message_id_outbox_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_mail')),
    sa.UniqueConstraint('outbox_message_id', name=op.f('uq_sent_mail_outbox_message_id'))
    )


def downgrade() -> None:
    op.drop_table('sent_mail')
