"""case records: outreach contacts and stage changes, monitoring records, participation follow-ups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 18:00:00
"""
from alembic import op
import sqlalchemy as sa
import engine.models.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, engine.models.base.UTCDateTime(timezone=True), nullable=nullable)


def _common(table: str) -> list:
    return [
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('form_record_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=f'fk_{table}_case_id_cases'),
        sa.ForeignKeyConstraint(['form_record_id'], ['form_records.id'],
                                name=f'fk_{table}_form_record_id_form_records'),
        sa.PrimaryKeyConstraint('id', name=f'pk_{table}'),
    ]


def _by(table: str, column: str) -> list:
    return [sa.Column(column, sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint([column], ['users.id'], name=f'fk_{table}_{column}_users')]


def upgrade() -> None:
    op.create_table('outreach_contacts', *_common('outreach_contacts'),
                    _ts('contact_at'),
                    sa.Column('method', sa.String(length=30), nullable=False),
                    sa.Column('result', sa.String(length=30), nullable=False),
                    sa.Column('contact_made', sa.Boolean(), nullable=False),
                    sa.Column('safety_checked', sa.Boolean(), nullable=False),
                    sa.Column('stage', sa.String(length=30), nullable=False),
                    sa.Column('next_date', sa.Date(), nullable=True),
                    *_by('outreach_contacts', 'recorded_by_id'), _ts('recorded_at'))
    op.create_index('ix_outreach_contacts_case_at', 'outreach_contacts', ['case_id', 'contact_at'])

    op.create_table('outreach_stage_changes', *_common('outreach_stage_changes'),
                    sa.Column('from_stage', sa.String(length=30), nullable=False),
                    sa.Column('to_stage', sa.String(length=30), nullable=False),
                    sa.Column('changed_on', sa.Date(), nullable=False),
                    *_by('outreach_stage_changes', 'changed_by_id'), _ts('changed_at'))
    op.create_index('ix_outreach_stage_changes_case_id', 'outreach_stage_changes', ['case_id', 'id'])

    op.create_table('monitoring_records', *_common('monitoring_records'),
                    sa.Column('done_on', sa.Date(), nullable=False),
                    sa.Column('method', sa.String(length=30), nullable=False),
                    sa.Column('judgement', sa.String(length=30), nullable=False),
                    sa.Column('new_issue', sa.Boolean(), nullable=False),
                    sa.Column('next_date', sa.Date(), nullable=True),
                    *_by('monitoring_records', 'recorded_by_id'), _ts('recorded_at'))
    op.create_index('ix_monitoring_records_case_done', 'monitoring_records', ['case_id', 'done_on'])

    op.create_table('participation_followups', *_common('participation_followups'),
                    sa.Column('element_id', sa.String(length=200), nullable=False),
                    sa.Column('followed_on', sa.Date(), nullable=False),
                    sa.Column('targets', sa.JSON(), nullable=False),
                    sa.Column('status', sa.String(length=30), nullable=False),
                    sa.Column('judgement', sa.String(length=30), nullable=False),
                    *_by('participation_followups', 'recorded_by_id'), _ts('recorded_at'))
    op.create_index('ix_participation_followups_case_on', 'participation_followups', ['case_id', 'followed_on'])


def downgrade() -> None:
    for index, table in (('ix_participation_followups_case_on', 'participation_followups'),
                         ('ix_monitoring_records_case_done', 'monitoring_records'),
                         ('ix_outreach_stage_changes_case_id', 'outreach_stage_changes'),
                         ('ix_outreach_contacts_case_at', 'outreach_contacts')):
        op.drop_index(index, table_name=table)
        op.drop_table(table)
