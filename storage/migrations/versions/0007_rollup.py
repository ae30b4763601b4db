"""stored roll-up: each objective's walk_key, progress and status switch days

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: on SQLite a batch copies the table and drops the old
    # one, and with foreign keys on that drop nulls parent_id and deletes every KR.
    op.add_column("objective", sa.Column("walk_key", sa.Text(), nullable=True))
    op.add_column("objective", sa.Column("rollup_progress", sa.Float(), nullable=True))
    op.add_column(
        "objective",
        sa.Column("rollup_rated", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("objective", sa.Column("rollup_at_risk_on", sa.Date(), nullable=True))
    op.add_column("objective", sa.Column("rollup_off_track_on", sa.Date(), nullable=True))
    op.add_column("objective", sa.Column("rollup_bucket", sa.String(length=120), nullable=True))
    op.create_table(
        "objective_status_count",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("rated", sa.Boolean(), nullable=False),
        sa.Column("at_risk_on", sa.Date(), nullable=True),
        sa.Column("off_track_on", sa.Date(), nullable=True),
        sa.Column("objectives", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.team_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "bucket"),
    )
    op.create_index("ix_objective_workspace_walk", "objective", ["workspace_id", "walk_key", "id"])
    # The backfill moved to 0010, which adds a column the roll-up code writes: it runs with
    # the code of the head, so only the last migration touching the roll-up's columns may
    # call it. Until then walk_key is NULL, and readers take the whole-tree path.


def downgrade() -> None:
    op.drop_table("objective_status_count")
    op.drop_index("ix_objective_workspace_walk", table_name="objective")
    # DROP COLUMN in place (SQLite 3.35+, PostgreSQL): no table copy, see upgrade.
    for name in (
        "rollup_bucket",
        "rollup_off_track_on",
        "rollup_at_risk_on",
        "rollup_rated",
        "rollup_progress",
        "walk_key",
    ):
        op.execute(f"ALTER TABLE objective DROP COLUMN {name}")
