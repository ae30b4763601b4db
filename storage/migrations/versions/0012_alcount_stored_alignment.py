"""alignment counts from the stored roll-up: laddered and unparented flags, KR counts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (see 0007: a batch would copy the table and cascade its deletes).
    for name in ("rollup_laddered", "rollup_unparented"):
        op.add_column(
            "objective",
            sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()),
        )
    op.add_column(
        "objective",
        sa.Column("rollup_krs", sa.Integer(), nullable=False, server_default="0"),
    )
    # The backfill moved to 0013, which adds columns the roll-up code writes (it runs with the
    # code of the head, so only the last migration touching the roll-up's columns may call
    # it). Until then walk_key stays as it was, and 0013 rebuilds every workspace.


def downgrade() -> None:
    op.execute("ALTER TABLE objective DROP COLUMN rollup_krs")
    op.execute("ALTER TABLE objective DROP COLUMN rollup_unparented")
    op.execute("ALTER TABLE objective DROP COLUMN rollup_laddered")
