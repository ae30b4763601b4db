"""Workspaces: the why (vision, mission) and the settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from storage.db import insert_ignoring_conflicts
from storage.errors import NotFound
from storage.models import Workspace, utcnow

_SETTINGS = set(Workspace.model_fields) - {"team_id", "deactivated_at", "created_at", "updated_at"}


def ensure_workspace(*, session: Session, workspace_id: str, name: str = "") -> Workspace:
    """The workspace row, created on first contact."""
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        # Two first requests may race: insert-if-absent, then read whichever row won.
        row = Workspace(team_id=workspace_id, name=name).model_dump()
        insert_ignoring_conflicts(session, Workspace, [row])
        workspace = session.get_one(Workspace, workspace_id)
    return workspace


def workspace_exists(*, session: Session, workspace_id: str) -> bool:
    return session.get(Workspace, workspace_id) is not None


def get_workspace(*, session: Session, workspace_id: str) -> Workspace:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(f"workspace {workspace_id} is not set up")
    return workspace


def update_workspace(*, session: Session, workspace_id: str, **changes: Any) -> Workspace:
    unknown = set(changes) - _SETTINGS
    if unknown:
        raise TypeError(f"not workspace settings: {sorted(unknown)}")
    workspace = get_workspace(session=session, workspace_id=workspace_id)
    return _change(session, workspace, changes, now=utcnow())


def set_workspace_active(
    *, session: Session, workspace_id: str, active: bool, now: datetime, name: str | None = None
) -> Workspace:
    """Installed (active, created if new) or uninstalled (inactive since `now`)."""
    workspace = ensure_workspace(session=session, workspace_id=workspace_id, name=name or "")
    changes = {"active": active} | ({"name": name} if name else {})
    return _change(session, workspace, changes, now=now)


def _change(
    session: Session, workspace: Workspace, changes: dict[str, Any], *, now: datetime
) -> Workspace:
    # Retention counts from the first deactivation: a second revocation notice must not
    # postpone the purge, and coming back clears it.
    if changes.get("active"):
        workspace.deactivated_at = None
    elif "active" in changes and (workspace.active or workspace.deactivated_at is None):
        workspace.deactivated_at = now
    for key, value in changes.items():
        setattr(workspace, key, value)
    workspace.updated_at = now
    session.add(workspace)
    session.flush()
    return workspace


def list_active_workspaces(*, session: Session) -> list[Workspace]:
    return list(session.exec(select(Workspace).where(Workspace.active)).all())
