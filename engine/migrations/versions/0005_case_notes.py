"""case notes: ``form_records.compartment`` — a record written inside the 支援会議 compartment

F8 支援経過記録 (engine/case_notes.py) are ``form_records`` rows without a task. A note written while the
case is confidential, or based on a 支援会議, is marked here and stays visible only to the compartment
(engine/policy.record_filter) even after the case leaves it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('form_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('compartment', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Records already written on a case that is in the compartment now stay in it when the case leaves.
    op.execute(sa.text("UPDATE form_records SET compartment = :yes WHERE case_id IN "
                       "(SELECT id FROM cases WHERE confidential = :yes)").bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table('form_records', schema=None) as batch_op:
        batch_op.drop_column('compartment')
