"""single sign-on

Revision ID: 708b8d5fb1ca
Revises: eeb4a6a38f37
Create Date: 2026-12-06 06:46:10.381868+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '708b8d5fb1ca'
down_revision: str | None = 'eeb4a6a38f37'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('identity_provider',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('protocol', sa.String(length=8), nullable=False),
    sa.Column('entity_id', sa.String(length=500), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('metadata_xml', sa.Text(), nullable=True),
    sa.Column('metadata_url', sa.String(length=1000), nullable=True),
    sa.Column('client_id', sa.String(length=300), nullable=True),
    sa.Column('client_secret', sa.String(length=500), nullable=True),
    sa.Column('attribute_mapping', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("protocol IN ('saml', 'oidc')", name=op.f('ck_identity_provider_protocol_known')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_identity_provider_institution_id_institution')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_provider')),
    sa.UniqueConstraint('institution_id', 'protocol', name=op.f('uq_identity_provider_institution_id_protocol')),
    sa.UniqueConstraint('protocol', 'entity_id', name=op.f('uq_identity_provider_protocol_entity_id')),
    sa.UniqueConstraint('slug', name=op.f('uq_identity_provider_slug'))
    )
    with op.batch_alter_table('identity_provider', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_provider_institution_id'), ['institution_id'], unique=False)

    op.create_table('institution_login_policy',
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('password_login', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_institution_login_policy_institution_id_institution')),
    sa.PrimaryKeyConstraint('institution_id', name=op.f('pk_institution_login_policy'))
    )
    op.create_table('external_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('entitlement_roles', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['identity_provider.id'], name=op.f('fk_external_identity_provider_id_identity_provider'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_external_identity_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_identity')),
    sa.UniqueConstraint('provider_id', 'subject', name=op.f('uq_external_identity_provider_id_subject'))
    )
    with op.batch_alter_table('external_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_identity_user_id'), ['user_id'], unique=False)

    op.create_table('sso_login_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=True),
    sa.Column('nonce', sa.String(length=100), nullable=True),
    sa.Column('code_verifier', sa.String(length=128), nullable=True),
    sa.Column('next_path', sa.String(length=2000), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['identity_provider.id'], name=op.f('fk_sso_login_request_provider_id_identity_provider'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_login_request')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_sso_login_request_state_hash'))
    )
    with op.batch_alter_table('sso_login_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_login_request_expires_at'), ['expires_at'], unique=False)

    op.create_table('sso_seen_assertion',
    sa.Column('assertion_id', sa.String(length=256), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['identity_provider.id'], name=op.f('fk_sso_seen_assertion_provider_id_identity_provider'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('assertion_id', name=op.f('pk_sso_seen_assertion'))
    )
    with op.batch_alter_table('sso_seen_assertion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_seen_assertion_expires_at'), ['expires_at'], unique=False)

    op.create_table('sso_session',
    sa.Column('user_session_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('name_id', sa.Text(), nullable=True),
    sa.Column('session_index', sa.String(length=256), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['identity_provider.id'], name=op.f('fk_sso_session_provider_id_identity_provider'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_session_id'], ['user_session.id'], name=op.f('fk_sso_session_user_session_id_user_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_session_id', name=op.f('pk_sso_session'))
    )


def downgrade() -> None:
    op.drop_table('sso_session')
    with op.batch_alter_table('sso_seen_assertion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sso_seen_assertion_expires_at'))

    op.drop_table('sso_seen_assertion')
    with op.batch_alter_table('sso_login_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sso_login_request_expires_at'))

    op.drop_table('sso_login_request')
    with op.batch_alter_table('external_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_identity_user_id'))

    op.drop_table('external_identity')
    op.drop_table('institution_login_policy')
    with op.batch_alter_table('identity_provider', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_provider_institution_id'))

    op.drop_table('identity_provider')
