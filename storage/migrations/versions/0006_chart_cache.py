"""charts: the workspace's pictures switch and the cache of uploaded chart files

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite takes one with a constant default): a batch copy of the
    # workspace table would cascade-delete every row that references it on SQLite.
    op.add_column(
        "workspace",
        sa.Column("charts_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "chart_file",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("content_key", sa.String(length=64), nullable=False),
        sa.Column("file_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.team_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "content_key"),
    )


def downgrade() -> None:
    op.drop_table("chart_file")
    op.drop_column("workspace", "charts_enabled")  # SQLite >= 3.35 drops it in place
