"""Data retention: which inactive workspaces are past retention, and deleting one entirely.

Every SQLModel table with a `workspace_id` column is found from the metadata, so a table
added later is purged without anyone remembering to list it here. slack_sdk's installation
tables (OAuth mode) are keyed by `team_id` and purged too; its OAuth state rows carry no
workspace and expire on their own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from storage.migrate import SLACK_BOTS_TABLE, SLACK_INSTALLATIONS_TABLE
from storage.models import Workspace, table_of

# Lightweight handles: enough to delete and count by team, without importing slack_sdk here.
_SLACK_TABLES = tuple(
    sa.table(name, sa.column("team_id"), sa.column("installed_at", sa.DateTime()))
    for name in (SLACK_INSTALLATIONS_TABLE, SLACK_BOTS_TABLE)
)


def workspace_tables() -> list[sa.Table]:
    """The tables holding a workspace's rows, children before parents."""
    return [
        table for table in reversed(SQLModel.metadata.sorted_tables) if "workspace_id" in table.c
    ]


def list_expired_workspaces(*, session: Session, before: datetime) -> list[Workspace]:
    """Inactive workspaces deactivated before `before` (oldest first)."""
    query = (
        select(Workspace)
        .where(col(Workspace.active).is_(False))
        .where(col(Workspace.deactivated_at).is_not(None))
        .where(col(Workspace.deactivated_at) < before)
        .order_by(col(Workspace.deactivated_at))
    )
    return list(session.exec(query).all())


def lock_inactive_workspace(*, session: Session, workspace_id: str) -> Workspace | None:
    """The workspace row, locked until the transaction ends, if it is still inactive (a
    reinstall racing the purge wins: then None)."""
    query = select(Workspace).where(Workspace.team_id == workspace_id).with_for_update()
    workspace = session.exec(query).first()
    return workspace if workspace is not None and not workspace.active else None


def count_workspace_rows(
    *, session: Session, workspace_id: str, installed_before: datetime | None = None
) -> dict[str, int]:
    """Rows per table that purging the workspace would delete (tables with none left out)."""
    counts: dict[str, int] = {}
    for table, where in _targets(workspace_id, installed_before):
        n = session.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar()
        if n:
            counts[table.name] = int(n)
    return counts


def purge_workspace(
    *, session: Session, workspace_id: str, installed_before: datetime | None = None
) -> dict[str, int]:
    """Delete every row of the workspace in every table; returns rows deleted per table.

    `installed_before` keeps installation rows saved since then: an install finishing while
    the purge runs saves its tokens before it marks the workspace active again."""
    counts: dict[str, int] = {}
    for table, where in _targets(workspace_id, installed_before):
        result = session.exec(sa.delete(table).where(where))
        if result.rowcount:
            counts[table.name] = int(result.rowcount)
    session.flush()
    return counts


def _targets(
    workspace_id: str, installed_before: datetime | None
) -> list[tuple[sa.TableClause, sa.ColumnElement[bool]]]:
    targets: list[tuple[sa.TableClause, sa.ColumnElement[bool]]] = [
        (table, table.c.workspace_id == workspace_id) for table in workspace_tables()
    ]
    workspace = table_of(Workspace)
    targets.append((workspace, workspace.c.team_id == workspace_id))
    for table in _SLACK_TABLES:
        where = table.c.team_id == workspace_id
        if installed_before is not None:  # slack_sdk stores naive UTC
            naive = installed_before.astimezone(UTC).replace(tzinfo=None)
            where = sa.and_(where, table.c.installed_at < naive)
        targets.append((table, where))
    return targets
