"""Revision 2: lanes, hash formats and checkpoints.

Every chained table gains ``lane``, ``seq`` and ``hash_format``. Rows written before keep
their hash (format 1) and become lane 1 in their old order (``seq`` = ``id``); the old single
chain head becomes lane 1's head. PostgreSQL gets the row id sequence. The hash formats are
written into ``ledger_hash_format`` for independent verifiers; ``ledger_checkpoint`` is new.
"""

import sqlalchemy as sa
from alembic import op

from barecount.ledger.hashformat import FORMATS

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "sha256:" + "0" * 64
TABLES = sorted(FORMATS[1])


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        op.add_column(table, sa.Column("lane", sa.Integer(), nullable=False, server_default="1"))
        op.add_column(table, sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
        op.add_column(
            table, sa.Column("hash_format", sa.Integer(), nullable=False, server_default="1")
        )
        op.execute(f"UPDATE {table} SET seq = id")
        op.create_index(f"ix_{table}_lane_seq", table, ["lane", "seq"], unique=True)
    op.execute("ALTER TABLE ledger_head RENAME COLUMN last_id TO last_seq")
    if bind.execute(sa.text("SELECT count(*) FROM ledger_head WHERE id = 1")).scalar_one() == 0:
        op.execute(f"INSERT INTO ledger_head (id, last_seq, last_hash) VALUES (1, 0, '{GENESIS}')")
    if bind.dialect.name == "postgresql":
        last = bind.execute(sa.text("SELECT last_seq FROM ledger_head WHERE id = 1")).scalar_one()
        op.execute(f"CREATE SEQUENCE ledger_row_id START WITH {last + 1}")
    _hash_formats()
    op.create_table(
        "ledger_checkpoint",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("prev_hash", sa.String(length=80), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("key_id", sa.String(length=80), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def _hash_formats() -> None:
    table = op.create_table(
        "ledger_hash_format",
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),  # [[name, kind], ...] kind: int|str|...
        sa.PrimaryKeyConstraint("format", "table_name"),
    )
    rows = [
        {"format": number, "table_name": name, "fields": [list(f) for f in fields]}
        for number in (1, 2)
        for name, fields in sorted(FORMATS[number].items())
    ]
    op.bulk_insert(table, rows)
