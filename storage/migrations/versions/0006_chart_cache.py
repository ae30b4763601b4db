"""charts: the workspace's pictures switch and the cache of uploaded chart files

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspace") as batch_op:
        batch_op.add_column(
            sa.Column("charts_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
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
    with op.batch_alter_table("workspace") as batch_op:
        batch_op.drop_column("charts_enabled")
