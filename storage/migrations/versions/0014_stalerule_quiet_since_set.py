"""one stale rule: a KR never checked in is quiet two periods after it was set

The stored roll-up (storage/rollup.py) gains a stale day for objectives whose KRs never had a
check-in (bot/okr/pace.py, rule 5: counted from the later of the KR's creation and its
cycle's start), and a parent no longer counts an aligned child in a closed cycle. No column
changes: the roll-up is rebuilt with the head code, as 0012 did (this is now the last
migration that changes stored roll-up values, so it holds the backfill).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_STARTED_DAY = date.max  # bot/okr/rollup.py: both pace days on it, no check-in yet


def upgrade() -> None:
    from storage.rollup import rebuild_workspace

    connection = op.get_bind()
    for (workspace_id,) in connection.execute(sa.text("SELECT team_id FROM workspace")).all():
        rebuild_workspace(connection=connection, workspace_id=workspace_id)


def downgrade() -> None:
    # The old rule: an objective nothing under which has started is never stale. Its stale day
    # goes, from the row and from the end of its bucket key (":YYYY-MM-DD" becomes ":-"), and
    # the buckets are counted again. (A parent counting a child in a closed cycle, as the old
    # code did, comes back with its next recompute, and so do alignment shares counted from a
    # cycle's start.) Status buckets are per effective team since 0013.
    op.get_bind().execute(
        sa.text(
            "UPDATE objective SET rollup_stale_on = NULL, rollup_bucket = CASE "
            "WHEN rollup_bucket IS NULL THEN NULL "
            "ELSE substr(rollup_bucket, 1, length(rollup_bucket) - 10) || '-' END "
            "WHERE rollup_at_risk_on = :not_started AND rollup_stale_on IS NOT NULL"
        ),
        {"not_started": NOT_STARTED_DAY},
    )
    op.execute("DELETE FROM objective_status_count")
    op.execute(
        "INSERT INTO objective_status_count (workspace_id, bucket, cycle_id, team_id, rated, "
        "at_risk_on, off_track_on, stale_on, objectives) "
        "SELECT workspace_id, rollup_bucket, cycle_id, rollup_team_id, rollup_rated, "
        "rollup_at_risk_on, rollup_off_track_on, rollup_stale_on, count(*) FROM objective "
        "WHERE rollup_bucket IS NOT NULL GROUP BY workspace_id, rollup_bucket, cycle_id, "
        "rollup_team_id, rollup_rated, rollup_at_risk_on, rollup_off_track_on, rollup_stale_on"
    )
