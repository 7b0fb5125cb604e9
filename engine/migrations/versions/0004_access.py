"""access: consents, consent recipients, plan roles, meetings, agenda items, meeting members;
on PostgreSQL the application role ``tsunagu_app`` may only SELECT and INSERT audit events.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26 17:00:00
"""
from alembic import op
import sqlalchemy as sa
import engine.models.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

APP_ROLE = "tsunagu_app"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, engine.models.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('form_record_id', sa.Integer(), nullable=True),
    sa.Column('subject_ref', sa.String(length=40), nullable=False),
    sa.Column('consenter', sa.String(length=40), nullable=False),
    sa.Column('method', sa.String(length=40), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    _ts('valid_from'), _ts('valid_until', True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    _ts('recorded_at'), _ts('withdrawn_at', True),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawal_record_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_consents_case_id_cases')),
    sa.ForeignKeyConstraint(['form_record_id'], ['form_records.id'], name=op.f('fk_consents_form_record_id_form_records')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_consents_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'], name=op.f('fk_consents_withdrawn_by_id_users')),
    sa.ForeignKeyConstraint(['withdrawal_record_id'], ['form_records.id'], name=op.f('fk_consents_withdrawal_record_id_form_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    op.create_index(op.f('ix_consents_case_id'), 'consents', ['case_id'], unique=False)

    op.create_table('consent_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consent_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    _ts('withdrawn_at', True),
    sa.ForeignKeyConstraint(['consent_id'], ['consents.id'], name=op.f('fk_consent_recipients_consent_id_consents')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_consent_recipients_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_recipients'))
    )
    op.create_index(op.f('ix_consent_recipients_consent_id'), 'consent_recipients', ['consent_id'], unique=False)
    op.create_index('ix_consent_recipients_agency_consent', 'consent_recipients', ['agency_id', 'consent_id'],
                    unique=False)

    op.create_table('case_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('basis', sa.String(length=30), nullable=False),
    sa.Column('lead', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source_record_id', sa.Integer(), nullable=True),
    _ts('granted_at'), _ts('revoked_at', True),
    sa.Column('revoked_reason', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_roles_case_id_cases')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_case_roles_agency_id_agencies')),
    sa.ForeignKeyConstraint(['source_record_id'], ['form_records.id'], name=op.f('fk_case_roles_source_record_id_form_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_roles'))
    )
    op.create_index(op.f('ix_case_roles_agency_id'), 'case_roles', ['agency_id'], unique=False)
    op.create_index('ix_case_roles_case_agency', 'case_roles', ['case_id', 'agency_id'], unique=False)

    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('legal_basis', sa.String(length=60), nullable=False),
    _ts('scheduled_at', True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    _ts('created_at'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_meetings_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    op.create_index(op.f('ix_meetings_kind'), 'meetings', ['kind'], unique=False)

    op.create_table('meeting_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    _ts('added_at'), _ts('pulled_at', True),
    sa.Column('pulled_reason', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_cases_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_meeting_cases_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_cases')),
    sa.UniqueConstraint('meeting_id', 'case_id', name='uq_meeting_cases_meeting_case')
    )
    op.create_index(op.f('ix_meeting_cases_case_id'), 'meeting_cases', ['case_id'], unique=False)

    op.create_table('meeting_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    _ts('added_at'), _ts('acknowledged_at', True), _ts('removed_at', True),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_members_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_members_user_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_meeting_members_case_id_cases')),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_meeting_members_added_by_id_users')),
    sa.ForeignKeyConstraint(['removed_by_id'], ['users.id'], name=op.f('fk_meeting_members_removed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_members'))
    )
    op.create_index(op.f('ix_meeting_members_meeting_id'), 'meeting_members', ['meeting_id'], unique=False)
    op.create_index('ix_meeting_members_user_meeting', 'meeting_members', ['user_id', 'meeting_id'], unique=False)
    _app_role()


def _app_role() -> None:
    """PostgreSQL: the application's role may read and append audit events, never change or remove them.

    The role ``tsunagu_app`` (NOLOGIN) gets full DML on every table, present and future, except
    UPDATE/DELETE/TRUNCATE on ``audit_events``. Production runs the web app and the scheduler as a login
    role that is a member of it (docs/access.md); migrations run as the owner. Skipped, with the
    triggers of 0001 still in force, when the migrating role may not create roles.
    """
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
      BEGIN
        CREATE ROLE {APP_ROLE} NOLOGIN;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END;
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {APP_ROLE}',
                   current_schema());
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO {APP_ROLE}', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}',
                   current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APP_ROLE}',
                   current_schema());
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {APP_ROLE};
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;
  END IF;
END $$;
""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM {APP_ROLE}', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM {APP_ROLE}', current_schema());
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {APP_ROLE}', current_schema());
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {APP_ROLE}', current_schema());
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {APP_ROLE}', current_schema());
  END IF;
END $$;
""")
    op.drop_index('ix_meeting_members_user_meeting', table_name='meeting_members')
    op.drop_index(op.f('ix_meeting_members_meeting_id'), table_name='meeting_members')
    op.drop_table('meeting_members')
    op.drop_index(op.f('ix_meeting_cases_case_id'), table_name='meeting_cases')
    op.drop_table('meeting_cases')
    op.drop_index(op.f('ix_meetings_kind'), table_name='meetings')
    op.drop_table('meetings')
    op.drop_index('ix_case_roles_case_agency', table_name='case_roles')
    op.drop_index(op.f('ix_case_roles_agency_id'), table_name='case_roles')
    op.drop_table('case_roles')
    op.drop_index('ix_consent_recipients_agency_consent', table_name='consent_recipients')
    op.drop_index(op.f('ix_consent_recipients_consent_id'), table_name='consent_recipients')
    op.drop_table('consent_recipients')
    op.drop_index(op.f('ix_consents_case_id'), table_name='consents')
    op.drop_table('consents')
