"""installation admin: a flag on the user account for the installation-wide administrator

Revision ID: 3b8d1e6f2a47
Revises: 7f581aba9f4a
Create Date: 2026-12-06 13:00:00.000000+00:00

Existing accounts get ``false`` (the server default); only ``screening users
grant-installation-admin`` sets it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3b8d1e6f2a47'
down_revision: str | None = '7f581aba9f4a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('user_account', sa.Column('is_installation_admin', sa.Boolean(), server_default=sa.false(),
                                            nullable=False))


def downgrade() -> None:
    # Not a batch (a SQLite batch recreates the table, and dropping ``user_account`` with foreign
    # keys on would cascade to its memberships): SQLite >= 3.35 drops a plain column in place.
    op.drop_column('user_account', 'is_installation_admin')
