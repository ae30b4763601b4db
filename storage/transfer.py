"""Bulk reads and writes that move a whole workspace's OKRs out (export) and in (import).

Export reads everything in a constant number of statements, whatever the size. Import
allocates the ids of teams, cycles, objectives and KRs up front, so every reference (parent
team, aligned objective, a KR's objective, a check-in's KR) is known before the first insert;
rows then go in many per statement, parents before children. Ids follow the document's order,
so exporting what was imported gives the same document back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from graphlib import TopologicalSorter
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from bot.okr.kinds import Level
from storage.errors import NotFound
from storage.models import (
    CheckIn,
    Cycle,
    DataSource,
    KeyResult,
    Objective,
    ObjectiveStatusCount,
    PushToken,
    Reflection,
    Team,
    TeamChannel,
    Workspace,
    table_of,
)
from storage.rollup import mark_workspace

M = TypeVar("M", bound=SQLModel)


@dataclass(frozen=True)
class Snapshot:
    """Everything a workspace holds about its OKRs, archived rows included, in id order."""

    workspace: Workspace
    teams: list[Team]
    channels: dict[int, list[str]]  # team id -> linked channel ids
    cycles: list[Cycle]
    objectives: list[Objective]
    key_results: list[KeyResult]  # by objective, then position
    check_ins: list[CheckIn]  # by KR, then period
    reflections: dict[int, Reflection] = field(default_factory=dict)  # by objective id
    sources: dict[int, DataSource] = field(default_factory=dict)  # by KR id


@dataclass(frozen=True)
class Contents:
    teams: int
    cycles: int
    objectives: int

    @property
    def empty(self) -> bool:
        return not (self.teams or self.cycles or self.objectives)


# Rows to insert (NewOkrs). References are indexes into the sibling lists.


@dataclass(frozen=True)
class NewTeam:
    name: str
    parent: int | None = None
    channels: Sequence[str] = ()


@dataclass(frozen=True)
class NewCycle:
    name: str
    start_date: date
    end_date: date
    closed_at: datetime | None = None


@dataclass(frozen=True)
class NewObjective:
    cycle: int
    owner_id: str
    title: str
    created_at: datetime
    team: int | None = None
    level: str | None = None  # None: a team's with a team, else the company's
    parent: int | None = None
    description: str = ""
    weight: float = 1.0
    committed: bool = False
    status: str = "active"
    grade: float | None = None
    archived_at: datetime | None = None


@dataclass(frozen=True)
class NewReflection:
    objective: int
    author_id: str
    created_at: datetime
    worked: str = ""
    did_not_work: str = ""
    carry_over: str = ""


@dataclass(frozen=True)
class NewKeyResult:
    objective: int
    owner_id: str
    title: str
    kind: str
    unit: str
    target_value: float
    created_at: datetime
    position: int = 0
    unit_label: str | None = None
    start_value: float | None = None
    current_value: float | None = None
    weight: float = 1.0
    due_date: date | None = None
    confidence: int | None = None
    grade: float | None = None
    last_checkin_at: datetime | None = None
    archived_at: datetime | None = None
    carried_from: int | None = None  # index of the KR this one was carried over from


@dataclass(frozen=True)
class NewCheckIn:
    key_result: int
    author_id: str
    period_start: date
    created_at: datetime
    value: float | None = None
    previous_value: float | None = None
    confidence: int | None = None
    note: str = ""
    blocker: str = ""
    source: str = "import"


@dataclass(frozen=True)
class NewSource:
    """A KR's data source settings; its pull state starts afresh (due at once)."""

    key_result: int
    kind: str
    url: str
    created_by: str
    expression: str = ""
    column: str = ""
    row_key: str = ""
    multiplier: float = 1.0
    credential: str | None = None
    interval_minutes: int = 60


@dataclass(frozen=True)
class NewOkrs:
    teams: list[NewTeam] = field(default_factory=list)
    cycles: list[NewCycle] = field(default_factory=list)
    objectives: list[NewObjective] = field(default_factory=list)
    key_results: list[NewKeyResult] = field(default_factory=list)
    check_ins: list[NewCheckIn] = field(default_factory=list)
    reflections: list[NewReflection] = field(default_factory=list)
    sources: list[NewSource] = field(default_factory=list)


def list_workspace_ids(*, session: Session) -> list[str]:
    return list(session.exec(select(Workspace.team_id).order_by(col(Workspace.team_id))).all())


def load_snapshot(*, session: Session, workspace_id: str) -> Snapshot:
    """Nine statements whatever the size: workspace, teams, channels, cycles, objectives,
    key results, check-ins, reflections, data sources. (storage.tree.load_tree skips archived rows and history and
    computes health an export does not need.)"""
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(f"workspace {workspace_id} is not set up")

    def rows(model: type[M], *order: Any) -> list[M]:
        query = select(model).where(table_of(model).c.workspace_id == workspace_id)
        return list(session.exec(query.order_by(*order)).all())

    channels: dict[int, list[str]] = {}
    teams = rows(Team, col(Team.id))
    for link in rows(TeamChannel, col(TeamChannel.id)):
        channels.setdefault(link.team_id, []).append(link.channel_id)
    return Snapshot(
        workspace,
        teams,
        channels,
        rows(Cycle, col(Cycle.id)),
        rows(Objective, col(Objective.id)),
        rows(KeyResult, col(KeyResult.objective_id), col(KeyResult.position), col(KeyResult.id)),
        rows(CheckIn, col(CheckIn.key_result_id), col(CheckIn.period_start), col(CheckIn.id)),
        {r.objective_id: r for r in rows(Reflection)},
        {s.key_result_id: s for s in rows(DataSource)},
    )


def workspace_contents(*, session: Session, workspace_id: str) -> Contents:
    """How many teams, cycles and objectives the workspace holds, in one statement."""

    def count(model: type[SQLModel]) -> sa.ScalarSelect[int]:
        table = table_of(model)
        return (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.workspace_id == workspace_id)
            .scalar_subquery()
        )

    teams, cycles, objectives = session.execute(
        sa.select(count(Team), count(Cycle), count(Objective))
    ).one()
    return Contents(teams=teams, cycles=cycles, objectives=objectives)


def clear_okrs(*, session: Session, workspace_id: str) -> None:
    """Delete the workspace's check-ins, data sources, push tokens, KRs, objectives, team
    links, teams and cycles.

    The workspace row, its settings, its people (timezones, away dates) and its data source
    allow-list stay.
    """
    for model in (
        CheckIn,
        DataSource,
        PushToken,
        Reflection,
        KeyResult,
        Objective,
        ObjectiveStatusCount,
        TeamChannel,
        Team,
        Cycle,
    ):
        table = table_of(model)
        session.execute(sa.delete(table).where(table.c.workspace_id == workspace_id))


def insert_okrs(*, session: Session, workspace_id: str, now: datetime, okrs: NewOkrs) -> None:
    """Insert a whole tree in the caller's transaction, a few statements per table.

    The caller has checked the references: indexes in range, no loops among team parents
    or objective parents (rows are inserted parents first, which a loop would prevent).
    """
    teams, objectives, key_results = okrs.teams, okrs.objectives, okrs.key_results
    team_ids = _allocate_ids(session, Team, len(teams))
    cycle_ids = _allocate_ids(session, Cycle, len(okrs.cycles))
    objective_ids = _allocate_ids(session, Objective, len(objectives))
    kr_ids = _allocate_ids(session, KeyResult, len(key_results))

    def row(model: type[SQLModel], new: Any, **values: Any) -> dict[str, Any]:
        """The fields of `new` that are columns of the table, in the workspace, and `values`."""
        columns = table_of(model).c
        fields = {k: v for k, v in vars(new).items() if k in columns}
        return fields | {"workspace_id": workspace_id} | values

    def team_id(i: int | None) -> int | None:
        return None if i is None else team_ids[i]

    _insert(
        session,
        Team,
        [
            row(Team, teams[i], id=team_ids[i], parent_id=team_id(teams[i].parent), created_at=now)
            for i in _parents_first([t.parent for t in teams])
        ],
    )
    _insert(
        session,
        TeamChannel,
        [
            {"workspace_id": workspace_id, "team_id": team_ids[i], "channel_id": channel}
            for i, team in enumerate(teams)
            for channel in team.channels
        ],
    )
    _insert(session, Cycle, [row(Cycle, c, id=cycle_ids[i]) for i, c in enumerate(okrs.cycles)])
    _insert(
        session,
        Objective,
        [
            row(
                Objective,
                o,
                id=objective_ids[i],
                cycle_id=cycle_ids[o.cycle],
                team_id=team_id(o.team),
                level=o.level or Level.of(None, team_id=o.team).value,
                parent_id=None if o.parent is None else objective_ids[o.parent],
                updated_at=now,
            )
            for i in _parents_first([o.parent for o in objectives])
            for o in (objectives[i],)
        ],
    )
    _insert(
        session,
        KeyResult,
        [
            row(
                KeyResult,
                kr,
                id=kr_ids[i],
                objective_id=objective_ids[kr.objective],
                updated_at=now,
            )
            for i, kr in enumerate(key_results)
        ],
    )
    _insert(
        session,
        CheckIn,
        [
            row(CheckIn, c, key_result_id=kr_ids[c.key_result], dedupe_key=None)
            for c in okrs.check_ins
        ],
    )
    # Carried-over links once every KR exists: a link may point to a KR inserted after it.
    links = [
        {"row_id": kr_ids[i], "source_id": kr_ids[kr.carried_from]}
        for i, kr in enumerate(key_results)
        if kr.carried_from is not None
    ]
    if links:
        table = table_of(KeyResult)
        session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values(carried_from_id=sa.bindparam("source_id")),
            links,
        )
    _insert(
        session,
        Reflection,
        [
            row(Reflection, r, objective_id=objective_ids[r.objective], updated_at=now)
            for r in okrs.reflections
        ],
    )
    _insert(
        session,
        DataSource,
        [
            row(
                DataSource,
                s,
                key_result_id=kr_ids[s.key_result],
                created_at=now,
                updated_at=now,
                next_run_at=now,  # pulled at the next sync round
                failures=0,
            )
            for s in okrs.sources
        ],
    )
    session.flush()
    # Core inserts pass the session hooks: roll the workspace up before the commit.
    mark_workspace(session=session, workspace_id=workspace_id)


def _insert(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    # An executemany: SQLAlchemy sends many rows per statement (insertmanyvalues) on
    # PostgreSQL, and SQLite's executemany stays inside the driver.
    if rows:
        session.execute(sa.insert(table_of(model)), rows)


def _allocate_ids(session: Session, model: type[SQLModel], n: int) -> list[int]:
    """n fresh primary keys, ascending, reserved for this transaction."""
    if n == 0:
        return []
    table = table_of(model)
    if session.get_bind().dialect.name == "postgresql":
        ids = session.execute(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": n},
        ).scalars()
        return sorted(ids)
    # SQLite: the transaction began IMMEDIATE (storage.db), so no other writer can take
    # these ids between this read and the inserts.
    top = session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    return list(range(top + 1, top + 1 + n))


def _parents_first(parents: Sequence[int | None]) -> list[int]:
    """Indexes ordered so that every parent comes before its children."""
    graph = {i: () if parent is None else (parent,) for i, parent in enumerate(parents)}
    return list(TopologicalSorter(graph).static_order())
