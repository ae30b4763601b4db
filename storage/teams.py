"""Teams, their parent teams and their linked Slack channels."""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.db import by_name, get_row
from storage.errors import NotFound, Refused
from storage.models import Team, TeamChannel


def create_team(
    *, session: Session, workspace_id: str, name: str, parent_id: int | None = None
) -> Team:
    name = name.strip()
    if find_team(session=session, workspace_id=workspace_id, name=name) is not None:
        raise Refused(f"A team named “{name}” already exists.")
    if parent_id is not None:
        get_team(session=session, workspace_id=workspace_id, team_id=parent_id)
    team = Team(workspace_id=workspace_id, name=name, parent_id=parent_id)
    session.add(team)
    session.flush()
    return team


def get_team(*, session: Session, workspace_id: str, team_id: int) -> Team:
    return get_row(session, Team, team_id, workspace_id=workspace_id)


def find_team(*, session: Session, workspace_id: str, name: str) -> Team | None:
    return by_name(list_teams(session=session, workspace_id=workspace_id), name)


def list_teams(*, session: Session, workspace_id: str) -> list[Team]:
    return list(
        session.exec(select(Team).where(Team.workspace_id == workspace_id).order_by(Team.name))
    )


def set_team_parent(
    *, session: Session, workspace_id: str, team_id: int, parent_id: int | None
) -> Team:
    team = get_team(session=session, workspace_id=workspace_id, team_id=team_id)
    if parent_id is not None:
        parents = {
            t.id: t.parent_id for t in list_teams(session=session, workspace_id=workspace_id)
        }
        if parent_id not in parents:
            raise NotFound(f"team {parent_id} not found")
        ancestor: int | None = parent_id
        while ancestor is not None:
            if ancestor == team_id:
                raise Refused("A team cannot be placed under itself or one of its sub-teams.")
            ancestor = parents.get(ancestor)
    team.parent_id = parent_id
    session.add(team)
    session.flush()
    return team


def team_subtree_ids(teams: list[Team], root_id: int) -> list[int]:
    """The team and all its sub-teams, from an already loaded team list."""
    children: dict[int | None, list[int]] = {}
    for t in teams:
        children.setdefault(t.parent_id, []).append(t.id)
    found, stack = [], [root_id]
    seen: set[int] = set()
    while stack:
        tid = stack.pop()
        if tid in seen:
            continue
        seen.add(tid)
        found.append(tid)
        stack.extend(children.get(tid, []))
    return found


def link_channel(*, session: Session, workspace_id: str, team_id: int, channel_id: str) -> Team:
    """Link a channel to a team; a channel belongs to at most one team, the latest link wins."""
    team = get_team(session=session, workspace_id=workspace_id, team_id=team_id)
    link = session.exec(
        select(TeamChannel).where(
            TeamChannel.workspace_id == workspace_id, TeamChannel.channel_id == channel_id
        )
    ).first()
    if link is None:
        link = TeamChannel(workspace_id=workspace_id, team_id=team_id, channel_id=channel_id)
    link.team_id = team_id
    session.add(link)
    session.flush()
    return team


def team_for_channel(*, session: Session, workspace_id: str, channel_id: str) -> Team | None:
    return session.exec(
        select(Team)
        .join(TeamChannel, col(TeamChannel.team_id) == Team.id)
        .where(TeamChannel.workspace_id == workspace_id, TeamChannel.channel_id == channel_id)
    ).first()


def channels_by_team(*, session: Session, workspace_id: str) -> dict[int, list[str]]:
    """Linked channels of every team of the workspace, in one statement."""
    found: dict[int, list[str]] = {}
    for team_id, channel_id in session.exec(
        select(TeamChannel.team_id, TeamChannel.channel_id)
        .where(TeamChannel.workspace_id == workspace_id)
        .order_by(col(TeamChannel.id))
    ):
        found.setdefault(team_id, []).append(channel_id)
    return found
