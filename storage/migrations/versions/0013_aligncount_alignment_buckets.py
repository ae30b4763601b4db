"""alignment counts per bucket; a personal objective shows in its parent's team

objective.rollup_team_id (the effective team: its own, or for a personal objective without
one its parent's), objective.rollup_alignment (its share of the counts) and the
alignment_count table, kept by storage/rollup.py. objective_status_count's team becomes the
effective team.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (see 0007: a batch would copy the table and cascade its deletes).
    op.add_column("objective", sa.Column("rollup_team_id", sa.Integer(), nullable=True))
    op.add_column("objective", sa.Column("rollup_alignment", sa.Text(), nullable=True))
    op.create_index(
        "ix_objective_workspace_rollup_team", "objective", ["workspace_id", "rollup_team_id"]
    )
    op.create_table(
        "alignment_count",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("laddered", sa.Boolean(), nullable=False),
        sa.Column("orphan", sa.Boolean(), nullable=False),
        sa.Column("no_why", sa.Boolean(), nullable=False),
        sa.Column("no_krs", sa.Boolean(), nullable=False),
        sa.Column("too_many_krs", sa.Boolean(), nullable=False),
        sa.Column("stale_on", sa.Date(), nullable=True),
        sa.Column("objectives", sa.Integer(), nullable=False),
        sa.Column("stale_krs", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.team_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "bucket"),
    )
    # Rebuilt with the code that keeps them (also 0007's, 0011's and 0012's backfill: the head
    # code writes this revision's columns, so the last migration that changes the roll-up's
    # columns is the one to backfill it).
    from storage.rollup import rebuild_workspace

    connection = op.get_bind()
    for (workspace_id,) in connection.execute(sa.text("SELECT team_id FROM workspace")).all():
        rebuild_workspace(connection=connection, workspace_id=workspace_id)


def downgrade() -> None:
    # 0012's status buckets are keyed by the objective's own team: a personal objective that
    # took its parent's team moves back to the no-team bucket ("cycle:team:" leads the key).
    op.execute(
        "UPDATE objective SET rollup_bucket = CAST(cycle_id AS TEXT) || ':-:' || "
        "substr(rollup_bucket, length(CAST(cycle_id AS TEXT) || ':' || "
        "CAST(rollup_team_id AS TEXT) || ':') + 1) "
        "WHERE rollup_bucket IS NOT NULL AND team_id IS NULL AND rollup_team_id IS NOT NULL"
    )
    op.execute("DELETE FROM objective_status_count")
    op.execute(
        "INSERT INTO objective_status_count (workspace_id, bucket, cycle_id, team_id, rated, "
        "at_risk_on, off_track_on, stale_on, objectives) "
        "SELECT workspace_id, rollup_bucket, cycle_id, team_id, rollup_rated, "
        "rollup_at_risk_on, rollup_off_track_on, rollup_stale_on, count(*) FROM objective "
        "WHERE rollup_bucket IS NOT NULL GROUP BY workspace_id, rollup_bucket, cycle_id, "
        "team_id, rollup_rated, rollup_at_risk_on, rollup_off_track_on, rollup_stale_on"
    )
    op.drop_table("alignment_count")
    op.drop_index("ix_objective_workspace_rollup_team", table_name="objective")
    op.execute("ALTER TABLE objective DROP COLUMN rollup_alignment")
    op.execute("ALTER TABLE objective DROP COLUMN rollup_team_id")
