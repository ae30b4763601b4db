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
    # Rebuilt with the code that keeps them (also 0007's and 0011's backfill: the head code
    # writes this revision's columns, so the last migration that changes the roll-up's
    # columns is the one to backfill it).
    from storage.rollup import rebuild_workspace

    connection = op.get_bind()
    for (workspace_id,) in connection.execute(sa.text("SELECT team_id FROM workspace")).all():
        rebuild_workspace(connection=connection, workspace_id=workspace_id)


def downgrade() -> None:
    op.execute("ALTER TABLE objective DROP COLUMN rollup_krs")
    op.execute("ALTER TABLE objective DROP COLUMN rollup_unparented")
    op.execute("ALTER TABLE objective DROP COLUMN rollup_laddered")
