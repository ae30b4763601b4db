"""Data retention: an uninstalled workspace's data is deleted LADDER_RETENTION_DAYS later.

Run daily by the scheduler (`retention.purge`) and on demand by `python -m bot purge`.
Each workspace is purged in its own transaction, so one failure leaves the others done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from storage.db import session_scope
from storage.retention import (
    count_workspace_rows,
    list_expired_workspaces,
    lock_inactive_workspace,
    purge_workspace,
)
from storage.workspaces import get_workspace

log = logging.getLogger(__name__)


class StillActive(RuntimeError):
    """Only an uninstalled (inactive) workspace can be purged."""


@dataclass
class PurgeReport:
    dry_run: bool
    # workspace id -> table -> rows deleted (or that would be, in a dry run)
    workspaces: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(sum(tables.values()) for tables in self.workspaces.values())

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        out = []
        for workspace_id, tables in self.workspaces.items():
            detail = ", ".join(f"{table} {n}" for table, n in sorted(tables.items()))
            out.append(f"{workspace_id}: {verb} {sum(tables.values())} rows ({detail})")
        return out or ["nothing to purge"]


def purge_expired(
    engine: Engine, *, now: datetime, retention: timedelta, dry_run: bool = False
) -> PurgeReport:
    """Purge every workspace inactive since before `now - retention`."""
    with session_scope(engine) as session:
        expired = [
            ws.team_id for ws in list_expired_workspaces(session=session, before=now - retention)
        ]
    return _purge_all(engine, expired, dry_run=dry_run)


def purge_inactive(engine: Engine, *, workspace_id: str, dry_run: bool = False) -> PurgeReport:
    """Purge one uninstalled workspace now, however recently (a deletion request).

    Raises StillActive for a workspace where Ladder is installed, and storage's NotFound for
    one it never knew."""
    with session_scope(engine) as session:
        if get_workspace(session=session, workspace_id=workspace_id).active:
            raise StillActive(
                f"workspace {workspace_id} is active: uninstall Ladder there first "
                "(or wait for its app_uninstalled event)"
            )
    return _purge_all(engine, [workspace_id], dry_run=dry_run)


def _purge_all(engine: Engine, workspace_ids: list[str], *, dry_run: bool) -> PurgeReport:
    """Each workspace purged in its own transaction; those that came back are left out."""
    purged = {
        ws: n for ws in workspace_ids if (n := _purge(engine, ws, dry_run=dry_run)) is not None
    }
    return PurgeReport(dry_run, purged)


def _purge(engine: Engine, workspace_id: str, *, dry_run: bool) -> dict[str, int] | None:
    """Rows deleted per table; None if the workspace came back meanwhile."""
    with session_scope(engine) as session:
        workspace = lock_inactive_workspace(session=session, workspace_id=workspace_id)
        if workspace is None:
            log.info("workspace=%s reinstalled before its purge; kept", workspace_id)
            return None
        # Installation rows saved after it went inactive belong to a reinstall in progress.
        since = workspace.deactivated_at
        if dry_run:
            return count_workspace_rows(
                session=session, workspace_id=workspace_id, installed_before=since
            )
        counts = purge_workspace(session=session, workspace_id=workspace_id, installed_before=since)
    log.warning(
        "workspace=%s purged after retention: %d rows (%s)",
        workspace_id,
        sum(counts.values()),
        ", ".join(f"{table}={n}" for table, n in sorted(counts.items())),
    )
    return counts
