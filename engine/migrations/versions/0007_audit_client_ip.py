"""audit events record the client's IP address: ``audit_events.client_ip``

The address of the request's client (behind a trusted reverse proxy, the address it forwarded:
``TSUNAGU_TRUSTED_PROXIES``). NULL for events of the scheduler and the command line, and for every
event written before this revision; the hash chain covers the address only where there is one, so
the events already in the chain keep their hashes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_ip', sa.String(length=45), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('client_ip')
