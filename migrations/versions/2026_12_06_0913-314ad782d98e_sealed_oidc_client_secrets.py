"""OIDC client secrets encrypted at rest

Existing plaintext secrets are sealed with the key of the configuration that runs
``screening db upgrade`` (see screening/sso/sealing.py); downgrading opens them again.

Revision ID: 314ad782d98e
Revises: 3240d8cb3a0d
Create Date: 2026-12-06 09:13:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = '314ad782d98e'
down_revision: str | None = '3240d8cb3a0d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

providers = sa.table('identity_provider', sa.column('id', sa.Integer), sa.column('client_secret', sa.String),
                     sa.column('client_secret_sealed', sa.Text))


def _keys():
    from screening.sso.sealing import keys_of

    config = context.config.attributes.get("flask_config")
    if config is None:
        raise RuntimeError("run this migration with 'screening db upgrade': it needs SCREENING_SECRET_KEY "
                           "(or SCREENING_SSO_SECRET_KEY) to encrypt the stored OIDC client secrets")
    return keys_of(config)


def _rewrite(source: str, target: str, transform) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(providers.c.id, providers.c[source]).where(
        providers.c[source].is_not(None))).all()
    if not rows:
        return
    change = transform(_keys())
    for provider_id, value in rows:
        connection.execute(providers.update().where(providers.c.id == provider_id).values({target: change(value)}))


def upgrade() -> None:
    with op.batch_alter_table('identity_provider', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_secret_sealed', sa.Text(), nullable=True))
    _rewrite('client_secret', 'client_secret_sealed', lambda keys: lambda plain: keys.encrypt(plain.encode()).decode())
    with op.batch_alter_table('identity_provider', schema=None) as batch_op:
        batch_op.drop_column('client_secret')


def downgrade() -> None:
    with op.batch_alter_table('identity_provider', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_secret', sa.String(length=500), nullable=True))
    _rewrite('client_secret_sealed', 'client_secret', lambda keys: lambda token: keys.decrypt(token.encode()).decode())
    with op.batch_alter_table('identity_provider', schema=None) as batch_op:
        batch_op.drop_column('client_secret_sealed')
