"""Reading the tree: `/okr status`, `/okr mine`, the Home tab and one objective's tree."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.services import Service
from storage import objectives as objective_store
from storage import teams as team_store
from storage.alignment import AlignmentCounts, alignment_counts
from storage.db import session_scope
from storage.models import Team
from storage.tree import LoadedTree, ObjectiveRow, load_shown_tree, load_tree
from storage.workspaces import ensure_workspace, workspace_exists

# Objectives a view loads in tree order (the rest is counted, not read): a status message
# has room for 50 blocks, the Home tab for 100.
STATUS_OBJECTIVES_MAX = 50
HOME_OBJECTIVES_MAX = 100


@dataclass(frozen=True)
class StatusScope:
    """What `/okr status` asks for: everything, one person's, a team's by name, or (none of
    them) the channel's team."""

    everything: bool = False
    owner_id: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class StatusShown:
    tree: LoadedTree
    team: str | None = None  # the team's name; None with owner_id, or for everything
    owner_id: str | None = None


@dataclass(frozen=True)
class NoSuchTeam:
    name: str | None  # the team asked for; None: the channel is linked to no team
    teams: list[str]  # the workspace's teams, to say what works


StatusFound = StatusShown | NoSuchTeam


class TreeService(Service):
    def objective_tree(
        self, *, workspace_id: str, objective_id: int
    ) -> tuple[LoadedTree, ObjectiveRow]:
        with session_scope(self.engine) as session:
            objective = objective_store.get_objective(
                session=session, workspace_id=workspace_id, objective_id=objective_id
            )
            tree = load_tree(
                session=session,
                workspace_id=workspace_id,
                today=self.today(),
                cycle_ids=[objective.cycle_id],
            )
            return tree, tree.objective(objective_id)

    def status(self, *, workspace_id: str, channel_id: str, scope: StatusScope) -> StatusFound:
        """The tree `/okr status [team | @user | all]` asks for, or why there is none."""
        known_workspace(self.engine, workspace_id)
        with session_scope(self.engine, read_only=True) as session:
            # The start of the tree in order plus the view's totals, not the whole tree; the
            # last closed cycle's grades while the open cycles have nothing in this view.
            def load(**kw: Any) -> LoadedTree:
                tree = open_or_last_closed(
                    session=session,
                    workspace_id=workspace_id,
                    today=self.today(),
                    limit=STATUS_OBJECTIVES_MAX,
                    **kw,
                )
                tree.alignment = self._alignment(session, tree, **kw)
                return tree

            if scope.everything:
                return StatusShown(load())
            if scope.owner_id is not None:
                return StatusShown(load(owner_id=scope.owner_id), owner_id=scope.owner_id)
            if scope.team:
                team = team_store.find_team(
                    session=session, workspace_id=workspace_id, name=scope.team
                )
            else:
                team = team_store.team_for_channel(
                    session=session, workspace_id=workspace_id, channel_id=channel_id
                )
            if team is not None:
                return StatusShown(load(team_id=team.id), team=team.name)
            # No such team, or none here: the caller says what works rather than post the
            # whole company in this channel.
            names = [
                t.name for t in team_store.list_teams(session=session, workspace_id=workspace_id)
            ]
            return NoSuchTeam(scope.team, names)

    def _alignment(
        self,
        session: Session,
        tree: LoadedTree,
        *,
        team_id: int | None = None,
        owner_id: str | None = None,
    ) -> AlignmentCounts | None:
        """The view's one line of alignment health (one statement); None for a closed
        cycle's grades, which the open cycles' health does not describe."""
        if tree.summary is None:  # the graded tree of the last closed cycle
            return None
        teams = list(tree.teams.values())
        return alignment_counts(
            session=session,
            workspace_id=tree.workspace.team_id,
            now=self.clock(),
            team_ids=None if team_id is None else team_store.team_subtree_ids(teams, team_id),
            owner_id=owner_id,
        )

    def mine(self, *, workspace_id: str, user_id: str) -> LoadedTree:
        known_workspace(self.engine, workspace_id)
        with session_scope(self.engine, read_only=True) as session:
            return load_tree(
                session=session, workspace_id=workspace_id, today=self.today(), owner_id=user_id
            )

    def home(
        self, *, workspace_id: str, user_id: str
    ) -> tuple[LoadedTree, str | None, LoadedTree | None, LoadedTree]:
        """(mine, my team's name, my team's tree, company-level tree) in one session."""
        known_workspace(self.engine, workspace_id)
        with session_scope(self.engine, read_only=True) as session:
            today = self.today()
            mine = load_tree(
                session=session, workspace_id=workspace_id, today=today, owner_id=user_id
            )
            team = _my_team(mine)
            team_tree = (
                load_shown_tree(
                    session=session,
                    workspace_id=workspace_id,
                    today=today,
                    limit=HOME_OBJECTIVES_MAX,
                    team_id=team.id,
                )
                if team
                else None
            )
            company = load_shown_tree(
                session=session,
                workspace_id=workspace_id,
                today=today,
                limit=HOME_OBJECTIVES_MAX,
                company_only=True,
            )
            company.alignment = self._alignment(session, company)  # the whole company's
            return mine, team.name if team else None, team_tree, company


def known_workspace(engine: Engine, workspace_id: str) -> None:
    """The workspace row, created on first contact; read-only unless it is missing, so a
    long read that follows does not hold SQLite's write lock."""
    with session_scope(engine, read_only=True) as session:
        if workspace_exists(session=session, workspace_id=workspace_id):
            return
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id=workspace_id)


def _my_team(mine: LoadedTree) -> Team | None:
    """The team of most of my objectives: Ladder has no membership list of its own."""
    counts = Counter(o.team_id for o in mine.objectives if o.team_id is not None)
    return mine.teams.get(counts.most_common(1)[0][0]) if counts else None


def open_or_last_closed(
    *, session: Session, workspace_id: str, today: date, limit: int, **scope: Any
) -> LoadedTree:
    """The start of the open cycles' tree for a scope (`load_shown_tree`); while that view has
    no objectives (a cycle was just closed, the new one is empty), the last closed cycle's
    graded tree in that scope."""
    tree = load_shown_tree(
        session=session, workspace_id=workspace_id, today=today, limit=limit, **scope
    )
    closed = [c for c in tree.cycles.values() if not c.is_open]
    if tree.total_objectives or not closed:
        return tree
    last = max(closed, key=lambda c: (c.closed_at, c.id))
    graded = load_tree(
        session=session, workspace_id=workspace_id, today=today, cycle_ids=[last.id], **scope
    )
    return graded if graded.objectives else tree
