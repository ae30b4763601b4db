"""`/okr team …` and `/okr cycle …`: parse the words, change storage, return what happened.

The outcomes are plain data; bot/blocks/admin.py turns them into messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from bot.okr.limits import NAME_MAX
from bot.okr.validate import clean_text
from bot.services import Service
from bot.services.cycles import dates_for_name
from bot.services.permissions import PermissionDenied, ensure_admin
from bot.services.reviews import CycleGrades, ReviewService, plan_reflection_requests
from storage import cycles as cycle_store
from storage import teams as team_store
from storage.db import session_scope
from storage.errors import Refused
from storage.models import Cycle, Team
from storage.tree import LoadedTree, load_tree
from storage.workspaces import ensure_workspace, get_workspace

_NEW_TEAM = re.compile(r"^(?:new|create|add)\s+(?P<name>.+?)(?:\s+parent\s+(?P<parent>.+))?$", re.I)
_LINK = re.compile(r"^link\s+(?P<name>.+)$", re.I)
_MOVE = re.compile(r"^move\s+(?P<name>.+?)\s+under\s+(?P<parent>.+)$", re.I)
_NEW_CYCLE = re.compile(
    r"^(?:new|create|add)\s+(?P<name>.+?)"
    r"(?:\s+(?P<start>\d{4}-\d{2}-\d{2})\s+(?P<end>\d{4}-\d{2}-\d{2}))?$",
    re.I,
)
_CLOSE = re.compile(r"^close\s+(?P<name>.+)$", re.I)
_GRADES = re.compile(r"^grades\s+(?P<name>.+)$", re.I)


@dataclass(frozen=True)
class TeamList:
    teams: list[Team]
    channels: dict[int, list[str]]


@dataclass(frozen=True)
class TeamChanged:
    action: str  # created | linked | moved
    team: Team
    parent: Team | None = None


@dataclass(frozen=True)
class CycleList:
    cycles: list[Cycle]


@dataclass(frozen=True)
class CycleCreated:
    cycle: Cycle


@dataclass(frozen=True)
class CycleClosed:
    cycle: Cycle
    graded: LoadedTree
    asked: int = 0  # owners asked (by DM, through the outbox) for their reflections


@dataclass(frozen=True)
class Unrecognized:
    what: str  # team | cycle


TeamOutcome = TeamList | TeamChanged | Unrecognized
CycleOutcome = CycleList | CycleCreated | CycleClosed | CycleGrades | Unrecognized


def _name(raw: str) -> str:
    name = clean_text(raw, single_line=True)
    if not name:
        raise Refused("Give it a name.")
    if len(name) > NAME_MAX:
        raise Refused(f"Keep names under {NAME_MAX} characters.")
    return name


class AdminService(Service):
    def team_command(
        self, *, workspace_id: str, channel_id: str, text: str, is_admin: Callable[[], bool]
    ) -> TeamOutcome:
        """Teams: anyone may create one or link an unlinked channel (additive, easy to undo);
        re-linking a channel another team uses and re-parenting teams reshape what others see,
        so those are for workspace admins (`is_admin` is asked only when it matters)."""
        with session_scope(self.engine) as session:
            ensure_workspace(session=session, workspace_id=workspace_id)

            def find(raw: str) -> Team:
                team = team_store.find_team(session=session, workspace_id=workspace_id, name=raw)
                if team is None:
                    raise Refused(f"No team called “{clean_text(raw, single_line=True)}”.")
                return team

            if not text or text.casefold() == "list":
                teams = team_store.list_teams(session=session, workspace_id=workspace_id)
                channels = team_store.channels_by_team(session=session, workspace_id=workspace_id)
                return TeamList(teams, channels)
            if m := _NEW_TEAM.match(text):
                parent = find(m["parent"]) if m["parent"] else None
                team = team_store.create_team(
                    session=session,
                    workspace_id=workspace_id,
                    name=_name(m["name"]),
                    parent_id=parent.id if parent else None,
                )
                return TeamChanged("created", team, parent)
            if m := _LINK.match(text):
                team = find(m["name"])
                current = team_store.team_for_channel(
                    session=session, workspace_id=workspace_id, channel_id=channel_id
                )
                if current is not None and current.id != team.id and not is_admin():
                    raise PermissionDenied(
                        f"This channel shows “{clean_text(current.name, single_line=True)}”; only "
                        "workspace admins can link it to another team."
                    )
                team_store.link_channel(
                    session=session,
                    workspace_id=workspace_id,
                    team_id=team.id,
                    channel_id=channel_id,
                )
                return TeamChanged("linked", team)
            if m := _MOVE.match(text):
                ensure_admin(is_admin, "move teams")
                team = find(m["name"])
                to_top = m["parent"].strip().casefold() in ("none", "nothing", "top")
                parent = None if to_top else find(m["parent"])
                team_store.set_team_parent(
                    session=session,
                    workspace_id=workspace_id,
                    team_id=team.id,
                    parent_id=parent.id if parent else None,
                )
                return TeamChanged("moved", team, parent)
            return Unrecognized("team")

    def cycle_command(
        self, *, workspace_id: str, text: str, is_admin: Callable[[], bool]
    ) -> CycleOutcome:
        """Cycles: anyone may list them or read a closed one's grades; creating and closing
        (which grades every objective of the cycle) are for workspace admins."""
        action = text.split(" ", 1)[0].casefold()
        if action in ("new", "create", "add", "close"):  # every word that changes a cycle
            ensure_admin(is_admin, "close cycles" if action == "close" else "create cycles")
        now = self.clock()
        if m := _GRADES.match(text):  # read-only: a closed cycle's grades and reflections
            reviews = ReviewService(self.engine, clock=lambda: now)
            return reviews.grades(workspace_id=workspace_id, cycle_name=m["name"], today=now.date())
        with session_scope(self.engine) as session:
            ensure_workspace(session=session, workspace_id=workspace_id)
            if not text or text.casefold() == "list":
                return CycleList(
                    cycle_store.list_cycles(session=session, workspace_id=workspace_id)
                )
            if m := _NEW_CYCLE.match(text):
                name = _name(m["name"])
                if m["start"]:
                    try:
                        start, end = date.fromisoformat(m["start"]), date.fromisoformat(m["end"])
                    except ValueError:
                        raise Refused("Dates must be real dates written YYYY-MM-DD.") from None
                else:
                    dates = dates_for_name(name)
                    if dates is None:
                        raise Refused(
                            f"I can't tell the dates of “{name}”. Add them: "
                            f"/okr cycle new {name} 2027-01-05 2027-03-28"
                        )
                    start, end = dates
                created = cycle_store.create_cycle(
                    session=session,
                    workspace_id=workspace_id,
                    name=name,
                    start_date=start,
                    end_date=end,
                )
                return CycleCreated(created)
            if m := _CLOSE.match(text):
                cycle = cycle_store.find_cycle(
                    session=session, workspace_id=workspace_id, name=m["name"]
                )
                if cycle is None:
                    raise Refused(f"No cycle called “{clean_text(m['name'], single_line=True)}”.")
                workspace = get_workspace(session=session, workspace_id=workspace_id)
                cycle_store.close_cycle(
                    session=session,
                    workspace_id=workspace_id,
                    cycle_id=cycle.id,
                    now=now,
                    include_children=workspace.rollup_include_children,
                )
                graded = load_tree(
                    session=session,
                    workspace_id=workspace_id,
                    today=now.date(),
                    cycle_ids=[cycle.id],
                )
                asked = plan_reflection_requests(
                    session=session, workspace_id=workspace_id, cycle=cycle, now=now
                )
                return CycleClosed(cycle, graded, asked)
            return Unrecognized("cycle")
