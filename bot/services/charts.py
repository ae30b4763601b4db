"""Chart data from storage: plain values in, bot.okr.trend dataclasses out (no Slack, no
mrkdwn). What a chart shows is computed here and in bot.okr.trend; bot.charts only draws it.

Pace follows the status screens (bot.okr.tree.evaluate_kr): from the cycle's start to the
KR's due date (the cycle's end without one); the status shown is the tree's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session

from bot.okr.kinds import KRKind, UnitKind
from bot.okr.pace import pace_start
from bot.okr.schedule import zone
from bot.okr.trend import (
    KRHistory,
    KRTrend,
    ObjectiveBar,
    ObjectiveTrend,
    Reading,
    TeamTrend,
    kr_trend,
    objective_trend,
    progress_on,
)
from bot.services import Service
from bot.services.checkins import running_cycle_ids
from bot.services.digests import channel_tree
from storage import charts as chart_store
from storage import objectives as objective_store
from storage.db import session_scope
from storage.errors import NotFound
from storage.models import CheckIn, Workspace
from storage.tree import KeyResultRow, LoadedTree, ObjectiveRow, load_tree
from storage.workspaces import get_workspace, workspace_exists

Trend = KRTrend | ObjectiveTrend


@dataclass(frozen=True)
class Found:
    """What `/okr chart <words>` names: an objective's chart, or a KR's."""

    trend: Trend
    objective_id: int


class ChartService(Service):
    # -- settings and the file cache --------------------------------------------------

    def cached_file(self, *, workspace_id: str, content_key: str) -> str | None:
        return self.read(
            chart_store.cached_file, workspace_id=workspace_id, content_key=content_key
        )

    def remember_file(self, *, workspace_id: str, content_key: str, file_id: str) -> None:
        self.run(
            chart_store.remember_file,
            workspace_id=workspace_id,
            content_key=content_key,
            file_id=file_id,
            now=self.clock(),
        )

    def forget_file(self, *, workspace_id: str, file_id: str) -> None:
        self.run(chart_store.forget_file, workspace_id=workspace_id, file_id=file_id)

    def enabled(self, *, workspace_id: str) -> bool:
        """Pictures are on unless the workspace turned them off (`/okr settings`)."""
        with session_scope(self.engine, read_only=True) as session:
            if not workspace_exists(session=session, workspace_id=workspace_id):
                return True
            return get_workspace(session=session, workspace_id=workspace_id).charts_enabled

    # -- trends ------------------------------------------------------------------------

    def kr_trends(self, *, workspace_id: str, key_result_ids: Sequence[int]) -> list[KRTrend]:
        """The charts of these KRs (those that still exist), in the order asked."""
        with session_scope(self.engine, read_only=True) as session:
            krs = []
            for kr_id in dict.fromkeys(key_result_ids):
                try:
                    krs.append(
                        objective_store.get_key_result(
                            session=session, workspace_id=workspace_id, key_result_id=kr_id
                        )
                    )
                except NotFound:  # deleted since: no chart
                    continue
            cycle_ids = {
                objective_store.get_objective(
                    session=session, workspace_id=workspace_id, objective_id=kr.objective_id
                ).cycle_id
                for kr in krs
            }
            tree = self._tree(session, workspace_id, sorted(cycle_ids))
            history = self._history(session, workspace_id, [kr.id for kr in krs])
            by_id = {kr.id: kr for kr in tree.key_results}
            return [
                self._kr_trend(tree, by_id[kr.id], history.get(kr.id, []))
                for kr in krs
                if kr.id in by_id
            ]

    def objective_trend(self, *, workspace_id: str, objective_id: int) -> ObjectiveTrend:
        with session_scope(self.engine, read_only=True) as session:
            objective = objective_store.get_objective(
                session=session, workspace_id=workspace_id, objective_id=objective_id
            )
            tree = self._tree(session, workspace_id, [objective.cycle_id])
            return self._objective_trend(session, tree, tree.objective(objective_id))

    def find(self, *, workspace_id: str, words: str) -> Found | None:
        """The objective or KR of the running cycles whose title matches `words`: an exact
        title first (objectives before KRs), then one that contains them."""
        wanted = " ".join(words.split()).casefold()
        if not wanted:
            return None
        with session_scope(self.engine, read_only=True) as session:
            if not workspace_exists(session=session, workspace_id=workspace_id):
                return None
            today = self._today(get_workspace(session=session, workspace_id=workspace_id))
            tree = self._tree(
                session, workspace_id, running_cycle_ids(session, workspace_id, today)
            )
            for exact in (True, False):

                def matches(title: str, exact: bool = exact) -> bool:
                    title = " ".join(title.split()).casefold()
                    return title == wanted if exact else wanted in title

                for objective in tree.objectives:
                    if matches(objective.title):
                        return Found(self._objective_trend(session, tree, objective), objective.id)
                for kr in tree.key_results:
                    if matches(kr.title):
                        history = self._history(session, workspace_id, [kr.id])
                        trend = self._kr_trend(tree, kr, history.get(kr.id, []))
                        return Found(trend, kr.objective_id)
        return None

    def home_trend(self, *, workspace_id: str, user_id: str) -> ObjectiveTrend | None:
        """The chart of the first objective the person owns in the running cycles."""
        with session_scope(self.engine, read_only=True) as session:
            if not workspace_exists(session=session, workspace_id=workspace_id):
                return None
            today = self._today(get_workspace(session=session, workspace_id=workspace_id))
            cycles = running_cycle_ids(session, workspace_id, today)
            tree = load_tree(
                session=session,
                workspace_id=workspace_id,
                today=today,
                cycle_ids=cycles,
                owner_id=user_id,
            )
            owned = [o for o in tree.objectives if o.owner_id == user_id and tree.krs_of(o.id)]
            if not owned:
                return None
            return self._objective_trend(session, tree, owned[0])

    def team_trend(self, *, workspace_id: str, channel_id: str, period: date) -> TeamTrend | None:
        """The digest's picture: each objective of the channel's team (the company for the
        digest channel) now, a period ago, and where pace says it should be."""
        with session_scope(self.engine, read_only=True) as session:
            ws = get_workspace(session=session, workspace_id=workspace_id)
            found = channel_tree(session, ws, channel_id, today=self._today(ws))
            if found is None:
                return None
            tree, team = found
            history = self._history(session, workspace_id, [kr.id for kr in tree.key_results])
            bars = []
            tz = zone(ws.default_timezone)
            for objective, _depth in tree.walk():
                trend = self._objective_trend(session, tree, objective, history=history)
                health = tree.health.objectives[objective.id]
                created = objective.created_at.astimezone(tz).date()
                before = (
                    progress_on(trend, period - timedelta(days=1)) if created < period else None
                )
                bars.append(
                    ObjectiveBar(
                        objective.title, health.progress, before, health.expected, health.status
                    )
                )
            scope = team.name if team else ws.name or "The company"
            return TeamTrend(scope, period, tuple(bars))

    # -- helpers -----------------------------------------------------------------------

    def _today(self, ws: Workspace) -> date:
        return self.clock().astimezone(zone(ws.default_timezone)).date()

    def _tree(self, session: Session, workspace_id: str, cycle_ids: Sequence[int]) -> LoadedTree:
        return load_tree(
            session=session,
            workspace_id=workspace_id,
            today=self._today(get_workspace(session=session, workspace_id=workspace_id)),
            cycle_ids=list(cycle_ids),
        )

    @staticmethod
    def _history(
        session: Session, workspace_id: str, kr_ids: Sequence[int]
    ) -> dict[int, list[CheckIn]]:
        return chart_store.check_in_history(
            session=session, workspace_id=workspace_id, key_result_ids=kr_ids
        )

    @staticmethod
    def _readings(tree: LoadedTree, check_ins: Sequence[CheckIn]) -> list[Reading]:
        """Each check-in on the workspace's calendar day it was made."""
        tz = zone(tree.workspace.default_timezone)
        return [Reading(c.created_at.astimezone(tz).date(), c.value) for c in check_ins]

    def _kr_trend(
        self, tree: LoadedTree, kr: KeyResultRow, check_ins: Sequence[CheckIn]
    ) -> KRTrend:
        objective = tree.objective(kr.objective_id)
        cycle = tree.cycles[objective.cycle_id]
        health = tree.health.krs[kr.id]
        # The same pace as the status colour (bot/okr/tree.evaluate_kr): from the cycle's start,
        # or from the day the KR was written when that is later.
        start = pace_start(cycle_start=cycle.start_date, created=kr.created_at)
        due = kr.due_date if kr.due_date and kr.due_date > cycle.start_date else cycle.end_date
        today = self._today(tree.workspace)
        return kr_trend(
            title=kr.title,
            kind=KRKind(kr.kind),
            unit=UnitKind(kr.unit),
            unit_label=kr.unit_label,
            start_value=kr.start_value,
            target_value=kr.target_value,
            pace_start=start,
            due=due,
            today=today,
            readings=self._readings(tree, check_ins),
            status=health.status,
        )

    def _objective_trend(
        self,
        session: Session,
        tree: LoadedTree,
        objective: ObjectiveRow,
        *,
        history: dict[int, list[CheckIn]] | None = None,
    ) -> ObjectiveTrend:
        krs = tree.krs_of(objective.id)
        if history is None:
            history = self._history(session, tree.workspace.team_id, [kr.id for kr in krs])
        cycle = tree.cycles[objective.cycle_id]
        return objective_trend(
            title=objective.title,
            start=pace_start(cycle_start=cycle.start_date, created=objective.created_at),
            end=cycle.end_date,
            today=self._today(tree.workspace),
            krs=[
                KRHistory(
                    kr.title,
                    KRKind(kr.kind),
                    kr.start_value,
                    kr.target_value,
                    kr.weight,
                    self._readings(tree, history.get(kr.id, [])),
                )
                for kr in krs
            ],
            status=tree.health.objectives[objective.id].status,
        )
