"""objective levels: company, team or personal, explicit

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (see 0007: a SQLite batch copy would fire the ON DELETE actions).
    # Every row starts as a company objective, as one with no team was shown until now;
    # those with a team become team objectives. Nothing was personal before this revision.
    op.add_column(
        "objective",
        sa.Column(
            "level",
            sa.String(length=16),
            sa.CheckConstraint(
                "level IN ('company', 'team', 'personal')", name="ck_objective_level"
            ),
            nullable=False,
            server_default="company",
        ),
    )
    op.execute("UPDATE objective SET level = 'team' WHERE team_id IS NOT NULL")
    op.create_index(
        "ix_objective_workspace_level", "objective", ["workspace_id", "level", "cycle_id"]
    )


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+, PostgreSQL), its CHECK with it. Personal objectives
    # have no team, so they read as company objectives again, as before this revision.
    op.drop_index("ix_objective_workspace_level", table_name="objective")
    op.execute("ALTER TABLE objective DROP COLUMN level")
