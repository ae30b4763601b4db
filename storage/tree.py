"""Loading an objective tree with its progress in a constant number of SQL statements."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Generic, Literal, Protocol, cast, overload

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select
from typing_extensions import TypeVar

from bot.okr.kinds import Level, Status, UnitKind
from bot.okr.pace import StatusRules, expected_progress, pace_start
from bot.okr.rollup import NOT_STARTED_DAY, pace_on, status_on
from bot.okr.tree import (
    KRHealth,
    KRNode,
    ObjectiveHealth,
    ObjectiveNode,
    TreeHealth,
    Window,
    evaluate_kr,
    evaluate_tree,
)
from storage.errors import NotFound
from storage.models import (
    Cycle,
    KeyResult,
    Objective,
    ObjectiveStatusCount,
    Team,
    Workspace,
    table_of,
)
from storage.rollup import stored_days
from storage.teams import team_subtree_ids

if TYPE_CHECKING:
    from storage.alignment import AlignmentCounts

log = logging.getLogger(__name__)

# The core's order (bot/okr/tree.py): the same float sums.
_KR_ORDER = (col(KeyResult.objective_id), col(KeyResult.position), col(KeyResult.id))


@dataclass(frozen=True)
class TreeSummary:
    """Aggregates over every objective in scope, loaded or not."""

    objectives: int
    counts: dict[Status, int]  # objectives by status today (those with a status)


class ObjectiveRow(ObjectiveNode[int], Protocol):
    """An objective as a loaded tree holds it: read-only, a model or (usually) a SQLAlchemy
    Row of the objective table's columns, which has the attributes and none of the methods.
    Those the core reads (id, parent_id, weight) are ObjectiveNode's."""

    @property
    def workspace_id(self) -> str: ...
    @property
    def cycle_id(self) -> int: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def owner_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def committed(self) -> bool: ...
    @property
    def status(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def grade(self) -> float | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def archived_at(self) -> datetime | None: ...
    @property
    def walk_key(self) -> str | None: ...
    @property
    def rollup_progress(self) -> float | None: ...
    @property
    def rollup_rated(self) -> bool: ...
    @property
    def rollup_at_risk_on(self) -> date | None: ...
    @property
    def rollup_off_track_on(self) -> date | None: ...
    @property
    def rollup_stale_on(self) -> date | None: ...
    @property
    def rollup_laddered(self) -> bool: ...
    @property
    def rollup_unparented(self) -> bool: ...
    @property
    def rollup_krs(self) -> int: ...
    @property
    def rollup_bucket(self) -> str | None: ...
    @property
    def rollup_team_id(self) -> int | None: ...
    @property
    def rollup_alignment(self) -> str | None: ...


class KeyResultRow(KRNode[int], Protocol):
    """A key result as a loaded tree holds it (see ObjectiveRow). In a Row, `kind` and `unit`
    are the stored strings, not the enums. Those the core reads are KRNode's."""

    @property
    def workspace_id(self) -> str: ...
    @property
    def owner_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def unit(self) -> UnitKind | str: ...
    @property
    def unit_label(self) -> str | None: ...
    @property
    def target_value(self) -> float: ...
    @property
    def position(self) -> int: ...
    @property
    def grade(self) -> float | None: ...
    @property
    def carried_from_id(self) -> int | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def archived_at(self) -> datetime | None: ...


# What a tree holds: read-only rows, or models (load_tree with `editable`).
ObjectiveT = TypeVar("ObjectiveT", bound=ObjectiveRow, default=ObjectiveRow)
KeyResultT = TypeVar("KeyResultT", bound=KeyResultRow, default=KeyResultRow)


@dataclass
class LoadedTree(Generic[ObjectiveT, KeyResultT]):
    workspace: Workspace
    cycles: dict[int, Cycle]
    teams: dict[int, Team]
    objectives: list[ObjectiveT]  # all in scope, or (with `summary`) the first in tree order
    key_results: list[KeyResultT]
    health: TreeHealth[int]
    summary: TreeSummary | None = None  # set when only part of the scope was loaded
    # One line of alignment health a surface shows beside the tree (status: the view's,
    # Home: the company's), counted in SQL (storage/alignment.py); None: not asked for.
    alignment: AlignmentCounts | None = None
    _by_id: dict[int, ObjectiveT] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {o.id: o for o in self.objectives}

    @property
    def total_objectives(self) -> int:
        """Objectives in scope, including those not loaded."""
        return self.summary.objectives if self.summary else len(self.objectives)

    def status_counts(self) -> dict[Status, int]:
        """Objectives in scope by status (those with one)."""
        if self.summary is not None:
            return dict(self.summary.counts)
        counts = {s: 0 for s in Status}
        for objective in self.objectives:
            status = self.health.objectives[objective.id].status
            if status is not None:
                counts[status] += 1
        return counts

    @cached_property
    def _krs_by_objective(self) -> dict[int, list[KeyResultT]]:
        grouped: dict[int, list[KeyResultT]] = defaultdict(list)
        for kr in self.key_results:
            grouped[kr.objective_id].append(kr)
        return grouped

    def objective(self, objective_id: int) -> ObjectiveT:
        return self._by_id[objective_id]

    def krs_of(self, objective_id: int) -> list[KeyResultT]:
        return self._krs_by_objective.get(objective_id, [])

    def children_of(self, objective_id: int) -> list[ObjectiveT]:
        return [self._by_id[i] for i in self.health.children.get(objective_id, [])]

    @property
    def roots(self) -> list[ObjectiveT]:
        return [self._by_id[i] for i in self.health.roots]

    def walk(self) -> list[tuple[ObjectiveT, int]]:
        """Objectives depth-first with their depth below the shown roots."""
        out: list[tuple[ObjectiveT, int]] = []
        stack = [(o, 0) for o in reversed(self.roots)]
        while stack:
            objective, depth = stack.pop()
            out.append((objective, depth))
            stack.extend((c, depth + 1) for c in reversed(self.children_of(objective.id)))
        return out


@overload
def load_tree(
    *,
    session: Session,
    workspace_id: str,
    today: date,
    cycle_ids: Sequence[int] | None = None,
    team_id: int | None = None,
    owner_id: str | None = None,
    kr_owner_ids: Sequence[str] | None = None,
    company_only: bool = False,
    include_archived: bool = False,
    include_children: bool | None = None,
    editable: Literal[False] = False,
) -> LoadedTree: ...


@overload
def load_tree(
    *,
    session: Session,
    workspace_id: str,
    today: date,
    cycle_ids: Sequence[int] | None = None,
    team_id: int | None = None,
    owner_id: str | None = None,
    kr_owner_ids: Sequence[str] | None = None,
    company_only: bool = False,
    include_archived: bool = False,
    include_children: bool | None = None,
    editable: Literal[True],
) -> LoadedTree[Objective, KeyResult]: ...


def load_tree(
    *,
    session: Session,
    workspace_id: str,
    today: date,
    cycle_ids: Sequence[int] | None = None,
    team_id: int | None = None,
    owner_id: str | None = None,
    kr_owner_ids: Sequence[str] | None = None,
    company_only: bool = False,
    include_archived: bool = False,
    include_children: bool | None = None,
    editable: bool = False,
) -> LoadedTree[ObjectiveRow, KeyResultRow] | LoadedTree[Objective, KeyResult]:
    """Objectives (with KRs and health) of a workspace, optionally narrowed.

    - cycle_ids: those cycles; None = every open cycle.
    - team_id: that team and its sub-teams. owner_id: objectives the user owns or holds a KR
      in. company_only: company-level objectives (not teams', not people's own).
    - kr_owner_ids: objectives in which any of these people hold an active KR (owning the
      objective is not enough), with all their KRs: what check-in prompts show. An empty
      sequence loads no objectives.
    - include_children: count aligned child objectives in the roll-up; None = the workspace's
      setting.
    - editable: objectives and KRs as session-bound models the caller may change (closing a
      cycle grades them). Otherwise they are read-only rows (SQLAlchemy Rows: the same
      attributes as the models, no methods: ObjectiveRow, KeyResultRow), which load ~9× faster
      and take half the memory of models: a status of 10,000 objectives reads 60,000 of them.
    Five statements whatever the size: workspace, cycles, teams, objectives, key results.
    """
    workspace, cycles, teams = _workspace(session, workspace_id)
    if cycle_ids is None:
        wanted_cycles = [c.id for c in cycles.values() if c.is_open]
    else:
        wanted_cycles = [i for i in cycle_ids if i in cycles]
    where = _scope(
        workspace_id=workspace_id,
        cycle_ids=wanted_cycles,
        team_ids=team_subtree_ids(list(teams.values()), team_id) if team_id is not None else None,
        owner_id=owner_id,
        kr_owner_ids=kr_owner_ids,
        company_only=company_only,
        include_archived=include_archived,
    )
    objective_query = _select(Objective, editable).where(*where).order_by(col(Objective.id))
    kr_where = [col(KeyResult.workspace_id) == workspace_id]
    if not include_archived:
        kr_where.append(col(KeyResult.archived_at).is_(None))
    kr_query = (
        _select(KeyResult, editable)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(*where, *kr_where)
        .order_by(*_KR_ORDER)
    )
    objectives: list[ObjectiveRow]
    key_results: list[KeyResultRow]
    if editable:  # models (see the overloads)
        objectives = list(session.execute(objective_query).scalars())
        key_results = list(session.execute(kr_query).scalars())
    else:  # Rows of the tables' columns: what the Row protocols describe
        objectives = cast(list[ObjectiveRow], list(session.execute(objective_query).all()))
        key_results = cast(list[KeyResultRow], list(session.execute(kr_query).all()))
    health = evaluate_tree(
        objectives,
        key_results,
        windows={c.id: Window(c.start_date, c.end_date) for c in cycles.values()},
        today=today,
        include_children=(
            workspace.rollup_include_children if include_children is None else include_children
        ),
        rules=status_rules(workspace),
    )
    return LoadedTree(
        workspace=workspace,
        cycles=cycles,
        teams=teams,
        objectives=objectives,
        key_results=key_results,
        health=health,
    )


def _scope(
    *,
    workspace_id: str,
    cycle_ids: Sequence[int],
    team_ids: Sequence[int] | None = None,
    owner_id: str | None = None,
    kr_owner_ids: Sequence[str] | None = None,
    company_only: bool = False,
    include_archived: bool = False,
) -> list[sa.ColumnElement[bool]]:
    """The WHERE clause picking a view's objectives (see load_tree)."""
    where = [col(Objective.workspace_id) == workspace_id, col(Objective.cycle_id).in_(cycle_ids)]
    if not include_archived:
        where.append(col(Objective.archived_at).is_(None))
    if team_ids is not None:
        # The effective team: a personal objective aligned under a team's shows there too.
        where.append(col(Objective.rollup_team_id).in_(team_ids))
    if company_only:
        where.append(col(Objective.level) == Level.COMPANY.value)
    if owner_id is not None:
        holds_kr = select(KeyResult.objective_id).where(
            KeyResult.workspace_id == workspace_id,
            KeyResult.owner_id == owner_id,
            col(KeyResult.archived_at).is_(None),
        )
        where.append(sa.or_(col(Objective.owner_id) == owner_id, col(Objective.id).in_(holds_kr)))
    if kr_owner_ids is not None:
        held = select(KeyResult.objective_id).where(
            KeyResult.workspace_id == workspace_id,
            col(KeyResult.owner_id).in_(sorted(set(kr_owner_ids))),
            col(KeyResult.archived_at).is_(None),
        )
        where.append(col(Objective.id).in_(held))
    return where


def load_shown_tree(
    *,
    session: Session,
    workspace_id: str,
    today: date,
    limit: int,
    team_id: int | None = None,
    owner_id: str | None = None,
    company_only: bool = False,
) -> LoadedTree:
    """The first `limit` objectives of a view in tree order (depth first, children by id),
    their KRs and health, and the view's totals: what a status message or Home shows.

    Objectives come with their stored roll-up (storage/rollup.py), so nothing outside the
    shown part is read; KR health is the core's, from the loaded KRs. Six statements whatever
    the size: workspace, cycles, teams, shown objectives, their KRs, the view's totals.

    An objective whose parent is outside the view (a team objective aligned to a company
    one) is a root of the view, placed where its parent's chain sorts. A workspace whose
    roll-up was never built (rows written around the ORM) is read the slow way, once logged.
    """
    workspace, cycles, teams = _workspace(session, workspace_id)
    open_cycles = [c.id for c in cycles.values() if c.is_open]
    team_ids = team_subtree_ids(list(teams.values()), team_id) if team_id is not None else None
    where = _scope(
        workspace_id=workspace_id,
        cycle_ids=open_cycles,
        team_ids=team_ids,
        owner_id=owner_id,
        company_only=company_only,
    )
    o = table_of(Objective)
    unbuilt = (
        sa.select(o.c.id)
        .where(o.c.workspace_id == workspace_id, o.c.walk_key.is_(None))
        .limit(1)
        .exists()
    )
    weight: sa.ColumnElement[int]
    if owner_id is None and not company_only:
        # Totals from objective_status_count: one row per (cycle, team, status days), so
        # the view's size does not matter.
        h = table_of(ObjectiveStatusCount)
        count_where = [h.c.workspace_id == workspace_id, h.c.cycle_id.in_(open_cycles)]
        if team_ids is not None:
            count_where.append(h.c.team_id.in_(team_ids))
        source, weight = h, h.c.objectives
        rated_col, at_risk_col, off_track_col = h.c.rated, h.c.at_risk_on, h.c.off_track_on
        stale_col = h.c.stale_on
    else:
        # A person's objectives, or the company's: few, and not bucketed by owner or level
        # (company and personal objectives share the no-team buckets).
        count_where, source, weight = where, o, sa.literal(1)
        rated_col, at_risk_col = o.c.rollup_rated, o.c.rollup_at_risk_on
        off_track_col, stale_col = o.c.rollup_off_track_on, o.c.rollup_stale_on
    is_rated = rated_col.is_(True)
    # Spelled out for NULL ("never"): NOT (NULL <= today) is NULL, not true.
    stale = sa.and_(is_rated, stale_col.is_not(None), stale_col <= today)
    fresh = sa.or_(stale_col.is_(None), stale_col > today)
    off_track = sa.and_(is_rated, fresh, off_track_col.is_not(None), off_track_col <= today)
    at_risk = sa.and_(
        is_rated,
        fresh,
        at_risk_col.is_not(None),
        at_risk_col <= today,
        sa.or_(off_track_col.is_(None), off_track_col > today),
    )

    # Both switch days on NOT_STARTED_DAY: no check-in yet (bot/okr/rollup.py); never <= today.
    # Stale from its stale_on like any other (no check-in two periods after it was set).
    not_started = sa.and_(is_rated, fresh, at_risk_col == NOT_STARTED_DAY)
    totals = session.execute(
        sa.select(
            summed(weight),
            summed(weight, is_rated),
            summed(weight, off_track),
            summed(weight, at_risk),
            summed(weight, not_started),
            summed(weight, stale),
            unbuilt,
        )
        .select_from(source)
        .where(*count_where)
    ).one()
    total, rated, n_off, n_risk, n_pending, n_stale, unbuilt_found = (int(v) for v in totals)
    if unbuilt_found:
        log.warning(
            "stored roll-up missing, reading the whole tree",
            extra={"workspace": workspace_id},
        )
        return load_tree(
            session=session,
            workspace_id=workspace_id,
            today=today,
            team_id=team_id,
            owner_id=owner_id,
            company_only=company_only,
        )
    objective_query = (
        _select(Objective, False).where(*where).order_by(o.c.walk_key, o.c.id).limit(limit)
    )
    objectives = cast(list[ObjectiveRow], list(session.execute(objective_query).all()))
    shown_ids = [row.id for row in objectives]
    kr_query = (
        _select(KeyResult, False)
        .where(
            # By objective only: the ids are the workspace's already, and a workspace
            # condition here makes SQLite scan all the workspace's KRs by that index.
            col(KeyResult.objective_id).in_(shown_ids),
            col(KeyResult.archived_at).is_(None),
        )
        .order_by(*_KR_ORDER)
    )
    key_results = cast(list[KeyResultRow], list(session.execute(kr_query).all()))
    windows = {c.id: Window(c.start_date, c.end_date) for c in cycles.values()}
    rules = status_rules(workspace)
    cycle_of = {row.id: row.cycle_id for row in objectives}
    kr_health: dict[int, KRHealth] = {
        kr.id: evaluate_kr(kr, window=windows[cycle_of[kr.objective_id]], today=today, rules=rules)
        for kr in key_results
    }
    objective_health: dict[int, ObjectiveHealth] = {}
    children: dict[int | None, list[int]] = defaultdict(list)
    roots: list[int] = []
    for row in objectives:
        window = windows[row.cycle_id]
        days = stored_days(row)
        status = status_on(days, today)
        objective_health[row.id] = ObjectiveHealth(
            progress=row.rollup_progress,
            expected=expected_progress(
                start=pace_start(cycle_start=window.start, created=row.created_at),
                end=window.end,
                today=today,
            ),
            status=status,
            pace=pace_on(days, today) if status is Status.NO_RECENT_DATA else None,
        )
        # Rows come in tree order: a parent in view is always loaded before its children.
        if row.parent_id is not None and row.parent_id in objective_health:
            children[row.parent_id].append(row.id)
        else:
            roots.append(row.id)
    return LoadedTree(
        workspace=workspace,
        cycles=cycles,
        teams=teams,
        objectives=objectives,
        key_results=key_results,
        health=TreeHealth(
            objectives=objective_health, krs=kr_health, children=dict(children), roots=roots
        ),
        summary=TreeSummary(
            objectives=total,
            counts={
                Status.ON_TRACK: rated - n_off - n_risk - n_pending - n_stale,
                Status.AT_RISK: n_risk,
                Status.OFF_TRACK: n_off,
                Status.NOT_STARTED: n_pending,
                Status.NO_RECENT_DATA: n_stale,
            },
        ),
    )


def summed(
    weight: sa.ColumnElement[int], condition: sa.ColumnElement[bool] | None = None
) -> sa.ColumnElement[int]:
    """SUM(weight) over the rows meeting `condition` (None: all of them); 0 over no rows."""
    counted = weight if condition is None else sa.case((condition, weight), else_=0)
    return sa.func.coalesce(sa.func.sum(counted), 0)


def _workspace(
    session: Session, workspace_id: str
) -> tuple[Workspace, dict[int, Cycle], dict[int, Team]]:
    """The workspace, its cycles and its teams by id: three statements."""
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(f"workspace {workspace_id} is not set up")
    cycles = session.exec(select(Cycle).where(Cycle.workspace_id == workspace_id)).all()
    teams = session.exec(select(Team).where(Team.workspace_id == workspace_id)).all()
    return workspace, {c.id: c for c in cycles}, {t.id: t for t in teams}


def _select(model: type[SQLModel], editable: bool) -> sa.Select:
    """The model's rows: as models, or as plain Rows of every column (named as the model's
    attributes, values converted by the same column types)."""
    if editable:
        return sa.select(model)
    return sa.select(*table_of(model).columns)


def status_rules(workspace: Workspace) -> StatusRules:
    return StatusRules.for_workspace(
        at_risk_points=workspace.at_risk_points,
        off_track_points=workspace.off_track_points,
        cadence_weeks=workspace.checkin_cadence_weeks,
    )
