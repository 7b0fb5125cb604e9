"""case state stored compressed: cases.state becomes binary (zlib-compressed JSON)

Existing states (plain JSON text) are compressed in place, in batches; ``downgrade`` writes them back
as text. The reader also accepts plain JSON (engine.bpmn.serializer.state_text), so a row missed by
an interrupted run still loads. On PostgreSQL the column becomes ``bytea``. SQLite keeps the declared
type: a column of TEXT affinity stores BLOB values unchanged, and rebuilding ``cases`` (what a type
change means there) is refused while other tables' foreign keys point at it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 00:00:00
"""
import zlib

import zstandard
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BATCH = 500
LEVEL = 1


def _rewrite(convert, stored_type) -> None:
    bind = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("state", stored_type))
    ids = [row[0] for row in bind.execute(sa.select(cases.c.id).order_by(cases.c.id))]
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        rows = bind.execute(sa.select(cases.c.id, cases.c.state).where(cases.c.id.in_(chunk))).all()
        for case_id, stored in rows:
            new = convert(stored)
            if new is not None:
                bind.execute(cases.update().where(cases.c.id == case_id).values(state=new))


def _compress(stored):
    raw = stored.encode("utf-8") if isinstance(stored, str) else bytes(stored or b"")
    if raw[:1] != b"{":
        return None  # empty, or already compressed
    return zlib.compress(raw, LEVEL)


def _inflate(raw: bytes) -> bytes:
    """A state written by 0006 (zlib) or later (Zstandard, told by its frame magic)."""
    if raw[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().decompress(raw)
    return zlib.decompress(raw)


def _decompress(stored):
    if isinstance(stored, str):
        return None  # plain JSON text already
    raw = bytes(stored or b"")
    if not raw:
        return "" if stored is not None else None  # an empty state goes back as empty text
    return raw.decode("utf-8") if raw[:1] == b"{" else _inflate(raw).decode("utf-8")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("cases", "state", type_=sa.LargeBinary(), existing_type=sa.Text(),
                        existing_nullable=False, postgresql_using="convert_to(state, 'UTF8')")
    _rewrite(_compress, sa.LargeBinary)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rewrite(lambda stored: None if bytes(stored or b"")[:1] in (b"{", b"") else
                 _inflate(bytes(stored)), sa.LargeBinary)
        op.alter_column("cases", "state", type_=sa.Text(), existing_type=sa.LargeBinary(),
                        existing_nullable=False, postgresql_using="convert_from(state, 'UTF8')")
    else:
        _rewrite(_decompress, sa.Text)
