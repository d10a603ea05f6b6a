"""committee review

Revision ID: 4b115e92b242
Revises: 2e23ca0619a1
Create Date: 2026-11-26 13:11:41.597364+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '4b115e92b242'
down_revision: str | None = '2e23ca0619a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('committee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('due_days', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_committee_institution_id_institution')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committee'))
    )
    with op.batch_alter_table('committee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_committee_institution_id'), ['institution_id'], unique=False)

    op.create_table('condition_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('text_de', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_condition_template_institution_id_institution')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_condition_template')),
    sa.UniqueConstraint('institution_id', 'key', name=op.f('uq_condition_template_institution_id_key'))
    )
    with op.batch_alter_table('condition_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_condition_template_institution_id'), ['institution_id'], unique=False)

    op.create_table('committee_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('committee_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.CheckConstraint("role IN ('member', 'chair')", name=op.f('ck_committee_member_role_known')),
    sa.ForeignKeyConstraint(['committee_id'], ['committee.id'], name=op.f('fk_committee_member_committee_id_committee'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_committee_member_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committee_member')),
    sa.UniqueConstraint('committee_id', 'user_id', name=op.f('uq_committee_member_committee_id_user_id'))
    )
    with op.batch_alter_table('committee_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_committee_member_committee_id'), ['committee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_committee_member_user_id'), ['user_id'], unique=False)

    op.create_table('review_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('committee_id', sa.Integer(), nullable=False),
    sa.Column('rapporteur_id', sa.Integer(), nullable=True),
    sa.Column('routed_by', sa.String(length=120), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fast_track_rationale', sa.JSON(), nullable=True),
    sa.Column('overdue_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['committee_id'], ['committee.id'], name=op.f('fk_review_case_committee_id_committee')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_review_case_institution_id_institution')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_review_case_proposal_id_proposal')),
    sa.ForeignKeyConstraint(['rapporteur_id'], ['user_account.id'], name=op.f('fk_review_case_rapporteur_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_case')),
    sa.UniqueConstraint('proposal_id', name=op.f('uq_review_case_proposal_id'))
    )
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_case_committee_id'), ['committee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_case_institution_id'), ['institution_id'], unique=False)

    op.create_table('routing_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('committee_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.CheckConstraint("kind IN ('faculty', 'field_prefix')", name=op.f('ck_routing_rule_kind_known')),
    sa.ForeignKeyConstraint(['committee_id'], ['committee.id'], name=op.f('fk_routing_rule_committee_id_committee'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_routing_rule_institution_id_institution')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rule')),
    sa.UniqueConstraint('institution_id', 'kind', 'value', name=op.f('uq_routing_rule_institution_id_kind_value'))
    )
    with op.batch_alter_table('routing_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rule_committee_id'), ['committee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_rule_institution_id'), ['institution_id'], unique=False)

    op.create_table('advisor_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('advisor_id', sa.Integer(), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('token_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['advisor_id'], ['user_account.id'], name=op.f('fk_advisor_invitation_advisor_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], name=op.f('fk_advisor_invitation_case_id_review_case')),
    sa.ForeignKeyConstraint(['invited_by_id'], ['user_account.id'], name=op.f('fk_advisor_invitation_invited_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advisor_invitation')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_advisor_invitation_token_hash'))
    )
    with op.batch_alter_table('advisor_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advisor_invitation_advisor_id'), ['advisor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advisor_invitation_case_id'), ['case_id'], unique=False)

    op.create_table('case_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('internal', 'message')", name=op.f('ck_case_comment_kind_known')),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_case_comment_author_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], name=op.f('fk_case_comment_case_id_review_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_comment'))
    )
    with op.batch_alter_table('case_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_comment_case_id'), ['case_id'], unique=False)

    op.create_table('conflict_declaration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('declared_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], name=op.f('fk_conflict_declaration_case_id_review_case')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_conflict_declaration_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conflict_declaration')),
    sa.UniqueConstraint('case_id', 'user_id', name=op.f('uq_conflict_declaration_case_id_user_id'))
    )
    with op.batch_alter_table('conflict_declaration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflict_declaration_case_id'), ['case_id'], unique=False)

    op.create_table('decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('case_version', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('reasoning', sa.Text(), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("outcome IN ('approved', 'approved_with_conditions', 'declined')", name=op.f('ck_decision_outcome_known')),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], name=op.f('fk_decision_case_id_review_case')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_decision_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_decision_institution_id_institution')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_decision_proposal_id_proposal')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['decision.id'], name=op.f('fk_decision_supersedes_id_decision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision')),
    sa.UniqueConstraint('case_id', 'case_version', name=op.f('uq_decision_case_id_case_version'))
    )
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('flag_disposition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('flag_key', sa.String(length=64), nullable=False),
    sa.Column('disposition', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("disposition IN ('confirmed', 'dismissed', 'mitigated')", name=op.f('ck_flag_disposition_disposition_known')),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], name=op.f('fk_flag_disposition_case_id_review_case')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_flag_disposition_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flag_disposition'))
    )
    with op.batch_alter_table('flag_disposition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_disposition_case_id'), ['case_id'], unique=False)

    op.create_table('information_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('asked_by_id', sa.Integer(), nullable=False),
    sa.Column('questions', sa.Text(), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version_asked', sa.Integer(), nullable=False),
    sa.Column('answered_version', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['asked_by_id'], ['user_account.id'], name=op.f('fk_information_request_asked_by_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], name=op.f('fk_information_request_case_id_review_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_information_request'))
    )
    with op.batch_alter_table('information_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_information_request_case_id'), ['case_id'], unique=False)

    op.create_table('vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('recommendation', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("recommendation IN ('approve', 'approve_with_conditions', 'decline')", name=op.f('ck_vote_recommendation_known')),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], name=op.f('fk_vote_case_id_review_case')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_vote_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vote')),
    sa.UniqueConstraint('case_id', 'user_id', name=op.f('uq_vote_case_id_user_id'))
    )
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vote_case_id'), ['case_id'], unique=False)

    op.create_table('advisor_opinion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('advisor_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['advisor_id'], ['user_account.id'], name=op.f('fk_advisor_opinion_advisor_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], name=op.f('fk_advisor_opinion_case_id_review_case')),
    sa.ForeignKeyConstraint(['invitation_id'], ['advisor_invitation.id'], name=op.f('fk_advisor_opinion_invitation_id_advisor_invitation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advisor_opinion'))
    )
    with op.batch_alter_table('advisor_opinion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advisor_opinion_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('faculty', sa.String(length=100), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_column('faculty')

    with op.batch_alter_table('advisor_opinion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advisor_opinion_case_id'))

    op.drop_table('advisor_opinion')
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vote_case_id'))

    op.drop_table('vote')
    with op.batch_alter_table('information_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_information_request_case_id'))

    op.drop_table('information_request')
    with op.batch_alter_table('flag_disposition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_disposition_case_id'))

    op.drop_table('flag_disposition')
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_proposal_id'))
        batch_op.drop_index(batch_op.f('ix_decision_institution_id'))
        batch_op.drop_index(batch_op.f('ix_decision_case_id'))

    op.drop_table('decision')
    with op.batch_alter_table('conflict_declaration', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conflict_declaration_case_id'))

    op.drop_table('conflict_declaration')
    with op.batch_alter_table('case_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_comment_case_id'))

    op.drop_table('case_comment')
    with op.batch_alter_table('advisor_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advisor_invitation_case_id'))
        batch_op.drop_index(batch_op.f('ix_advisor_invitation_advisor_id'))

    op.drop_table('advisor_invitation')
    with op.batch_alter_table('routing_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_rule_institution_id'))
        batch_op.drop_index(batch_op.f('ix_routing_rule_committee_id'))

    op.drop_table('routing_rule')
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_case_institution_id'))
        batch_op.drop_index(batch_op.f('ix_review_case_committee_id'))

    op.drop_table('review_case')
    with op.batch_alter_table('committee_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_committee_member_user_id'))
        batch_op.drop_index(batch_op.f('ix_committee_member_committee_id'))

    op.drop_table('committee_member')
    with op.batch_alter_table('condition_template', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_condition_template_institution_id'))

    op.drop_table('condition_template')
    with op.batch_alter_table('committee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_committee_institution_id'))

    op.drop_table('committee')
