"""Alignment health of a workspace or a team, for `/okr health`: every gap, and who can fix it."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.okr.alignment import (
    CHECK_IN_PERIOD,
    Gap,
    KRPulse,
    Level,
    ObjectiveFacts,
    alignment_health,
    has_why,
)
from bot.services import Service
from storage import teams as team_store
from storage.alignment import AlignmentCounts, alignment_counts
from storage.db import session_scope
from storage.models import Team, Workspace
from storage.tree import KeyResultRow, LoadedTree, ObjectiveRow, load_tree
from storage.workspaces import workspace_exists

GAP_ORDER = tuple(Gap)  # the order gaps are listed in


@dataclass(frozen=True)
class GapItem:
    gap: Gap
    objective_id: int
    objective_title: str
    owner_id: str  # the objective's owner, or the KR's for a KR gap
    kr_id: int | None = None
    kr_title: str | None = None
    amount: float | None = None  # days without news, points behind pace, number of KRs


@dataclass(frozen=True)
class AlignmentReport:
    scope: str  # "Platform", "the company"
    objectives: int
    laddered: int
    counts: dict[Gap, int]
    items: list[GapItem]  # in GAP_ORDER
    orphans_by_level: dict[Level, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UnknownTeam:
    name: str
    teams: list[str]


class AlignmentService(Service):
    def report(
        self, *, workspace_id: str, channel_id: str, argument: str
    ) -> AlignmentReport | UnknownTeam:
        """The report on the open cycles' objectives: of the team named in `argument`, else of the
        channel's team, else ("all", or a channel linked to no team) of the whole company."""
        now = self.clock()
        argument = " ".join(argument.split())
        company = argument.casefold() in ("all", "company", "everything")
        with session_scope(self.engine, read_only=True) as session:
            if not workspace_exists(session=session, workspace_id=workspace_id):
                return AlignmentReport("the company", 0, 0, {}, [])
            team: Team | None = None
            if argument and not company:
                team = team_store.find_team(
                    session=session, workspace_id=workspace_id, name=argument
                )
                if team is None:
                    names = [
                        t.name
                        for t in team_store.list_teams(session=session, workspace_id=workspace_id)
                    ]
                    return UnknownTeam(argument, names)
            elif not company:
                team = team_store.team_for_channel(
                    session=session, workspace_id=workspace_id, channel_id=channel_id
                )
            # Every open objective: a team's chain is followed through other teams' objectives.
            tree = load_tree(session=session, workspace_id=workspace_id, today=now.date())
            period = check_in_period(tree.workspace.checkin_cadence_weeks)
            if team is None:
                return report_of(tree, scope="the company", within=None, now=now, period=period)
            within = [o.id for o in tree.objectives if o.rollup_team_id == team.id]
            return report_of(tree, scope=team.name, within=within, now=now, period=period)

    def line(self, *, workspace_id: str, channel_id: str) -> AlignmentCounts | None:
        """The counts behind the digest's one line, for the channel's team (and its sub-teams,
        as its status) or, in a channel linked to no team, the whole company. One short read in
        SQL (storage/alignment.py) instead of the whole tree; None when the workspace is gone."""
        with session_scope(self.engine, read_only=True) as session:
            workspace = session.get(Workspace, workspace_id)
            if workspace is None:
                return None
            team = team_store.team_for_channel(
                session=session, workspace_id=workspace_id, channel_id=channel_id
            )
            team_ids = None
            if team is not None:
                teams = team_store.list_teams(session=session, workspace_id=workspace_id)
                team_ids = team_store.team_subtree_ids(teams, team.id)
            return alignment_counts(
                session=session,
                workspace_id=workspace_id,
                now=self.clock(),
                team_ids=team_ids,
            )


def check_in_period(cadence_weeks: int) -> timedelta:
    """A workspace's check-in period (its cadence: weekly or every two weeks)."""
    return timedelta(weeks=cadence_weeks)


def report_of(
    tree: LoadedTree,
    *,
    scope: str,
    within: list[int] | None,
    now: datetime,
    period: timedelta = CHECK_IN_PERIOD,
) -> AlignmentReport:
    facts = [
        ObjectiveFacts(
            id=o.id,
            level=Level.of(o.level, team_id=o.team_id),
            parent_id=o.parent_id,
            has_why=has_why(o.description),
            krs=tuple(
                KRPulse(
                    id=kr.id,
                    created_at=kr.created_at,
                    last_check_in=kr.last_checkin_at,
                    confidence=kr.confidence,
                    progress=tree.health.krs[kr.id].progress,
                    expected=tree.health.krs[kr.id].expected,
                    cycle_start=tree.cycles[o.cycle_id].start_date,
                )
                for kr in tree.krs_of(o.id)
            ),
        )
        for o in tree.objectives
    ]
    health = alignment_health(facts, now=now, within=within, period=period)
    objectives: dict[Hashable, ObjectiveRow] = {o.id: o for o in tree.objectives}
    key_results: dict[Hashable, KeyResultRow] = {kr.id: kr for kr in tree.key_results}
    items: list[GapItem] = []
    for f in health.findings:
        objective = objectives[f.objective_id]
        kr = None if f.kr_id is None else key_results[f.kr_id]
        items.append(
            GapItem(
                gap=f.gap,
                objective_id=objective.id,
                objective_title=objective.title,
                owner_id=objective.owner_id if kr is None else kr.owner_id,
                kr_id=None if kr is None else kr.id,
                kr_title=None if kr is None else kr.title,
                amount=f.amount,
            )
        )
    items.sort(key=lambda i: GAP_ORDER.index(i.gap))
    return AlignmentReport(
        scope=scope,
        objectives=health.objectives,
        laddered=health.laddered,
        counts=dict(health.counts),
        items=items,
        orphans_by_level=dict(health.orphans_by_level),
    )
