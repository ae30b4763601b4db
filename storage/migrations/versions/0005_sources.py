"""data sources: data_source, data_source_host, push_token

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("key_result_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("expression", sa.String(length=1000), nullable=False),
        sa.Column("column", sa.String(length=200), nullable=False),
        sa.Column("row_key", sa.String(length=200), nullable=False),
        sa.Column("multiplier", sa.Float(), nullable=False),
        sa.Column("credential", sa.String(length=40), nullable=True),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("failing_since", sa.DateTime(), nullable=True),
        sa.Column("failure_reason", sa.String(length=300), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("interval_minutes >= 5", name="ck_data_source_interval"),
        sa.ForeignKeyConstraint(["key_result_id"], ["key_result.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.team_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_result_id", name="uq_data_source_key_result"),
    )
    with op.batch_alter_table("data_source") as batch_op:
        batch_op.create_index("ix_data_source_next_run", ["next_run_at"])
        batch_op.create_index("ix_data_source_workspace", ["workspace_id"])
    op.create_table(
        "data_source_host",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.team_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "host"),
    )
    op.create_table(
        "push_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("key_result_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["key_result_id"], ["key_result.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.team_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uq_push_token_hash"),
    )
    with op.batch_alter_table("push_token") as batch_op:
        batch_op.create_index("ix_push_token_key_result", ["key_result_id"])


def downgrade() -> None:
    with op.batch_alter_table("push_token") as batch_op:
        batch_op.drop_index("ix_push_token_key_result")
    op.drop_table("push_token")
    op.drop_table("data_source_host")
    with op.batch_alter_table("data_source") as batch_op:
        batch_op.drop_index("ix_data_source_workspace")
        batch_op.drop_index("ix_data_source_next_run")
    op.drop_table("data_source")
