"""administration UI: account invitations and the last sign-in

Revision ID: c9e650f90baa
Revises: c7d2e4f1a9b3
Create Date: 2026-12-06 09:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c9e650f90baa'
down_revision: str | None = 'c7d2e4f1a9b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                            name=op.f('fk_account_invitation_institution_id_institution')),
    sa.ForeignKeyConstraint(['invited_by_id'], ['user_account.id'],
                            name=op.f('fk_account_invitation_invited_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                            name=op.f('fk_account_invitation_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_invitation')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_invitation_token_hash'))
    )
    with op.batch_alter_table('account_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_invitation_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_invitation_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
    with op.batch_alter_table('account_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_invitation_user_id'))
        batch_op.drop_index(batch_op.f('ix_account_invitation_institution_id'))
    op.drop_table('account_invitation')
