"""no recent data: the stored roll-up's stale switch day; an index for alignment counts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (see 0007: a batch would copy the table and cascade its deletes).
    op.add_column("objective", sa.Column("rollup_stale_on", sa.Date(), nullable=True))
    op.add_column("objective_status_count", sa.Column("stale_on", sa.Date(), nullable=True))
    op.create_index(
        "ix_key_result_objective_signs",
        "key_result",
        ["objective_id", "archived_at", "last_checkin_at", "created_at"],
    )
    # Every bucket key gains the stale day: 0012 rebuilds the roll-up (the last migration that
    # changes the roll-up's columns holds the backfill; the head code writes all of them).


def downgrade() -> None:
    # The pace days are 0009's already (they are searched with staleness off): drop the
    # stale day from each bucket key (":-" or ":YYYY-MM-DD" at its end) and count again.
    op.execute(
        "UPDATE objective SET rollup_bucket = CASE WHEN rollup_bucket LIKE '%:-' "
        "THEN substr(rollup_bucket, 1, length(rollup_bucket) - 2) "
        "ELSE substr(rollup_bucket, 1, length(rollup_bucket) - 11) END "
        "WHERE rollup_bucket IS NOT NULL"
    )
    op.execute("DELETE FROM objective_status_count")
    op.execute(
        "INSERT INTO objective_status_count (workspace_id, bucket, cycle_id, team_id, rated, "
        "at_risk_on, off_track_on, objectives) "
        "SELECT workspace_id, rollup_bucket, cycle_id, team_id, rollup_rated, "
        "rollup_at_risk_on, rollup_off_track_on, count(*) FROM objective "
        "WHERE rollup_bucket IS NOT NULL GROUP BY workspace_id, rollup_bucket, cycle_id, "
        "team_id, rollup_rated, rollup_at_risk_on, rollup_off_track_on"
    )
    op.drop_index("ix_key_result_objective_signs", table_name="key_result")
    op.execute("ALTER TABLE objective_status_count DROP COLUMN stale_on")
    op.execute("ALTER TABLE objective DROP COLUMN rollup_stale_on")
