"""review at the end of a cycle: committed objectives, reflections, carried-over KRs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite's batch mode would rebuild these tables, and dropping the old
    # copy fires their ON DELETE actions (KRs deleted, parents unset).
    # Existing objectives become aspirational, the default: their grades keep their verdicts.
    op.add_column(
        "objective",
        sa.Column("committed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "key_result",
        sa.Column(
            "carried_from_id",
            sa.Integer(),
            sa.ForeignKey("key_result.id", ondelete="SET NULL"),
            nullable=True,
        ),
        inline_references=True,  # SQLite cannot add the constraint afterwards
    )
    op.create_index("ix_key_result_carried_from_id", "key_result", ["carried_from_id"])
    op.create_table(
        "reflection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("worked", sa.String(length=1000), nullable=False),
        sa.Column("did_not_work", sa.String(length=1000), nullable=False),
        sa.Column("carry_over", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.team_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["objective_id"], ["objective.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("objective_id"),
    )


def downgrade() -> None:
    op.drop_table("reflection")
    op.drop_index("ix_key_result_carried_from_id", table_name="key_result")
    with op.batch_alter_table("key_result") as batch_op:
        batch_op.drop_column("carried_from_id")
    with op.batch_alter_table("objective") as batch_op:
        batch_op.drop_column("committed")
