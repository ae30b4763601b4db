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
from typing import Any

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


# Rows to insert. References are indexes into the sibling lists passed to insert_okrs.


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
class Inserted:
    team_ids: list[int] = field(default_factory=list)
    cycle_ids: list[int] = field(default_factory=list)
    objective_ids: list[int] = field(default_factory=list)
    key_result_ids: list[int] = field(default_factory=list)


def list_workspace_ids(*, session: Session) -> list[str]:
    return list(session.exec(select(Workspace.team_id).order_by(col(Workspace.team_id))).all())


def load_snapshot(*, session: Session, workspace_id: str) -> Snapshot:
    """Nine statements whatever the size: workspace, teams, channels, cycles, objectives,
    key results, check-ins, reflections, data sources. (storage.tree.load_tree skips archived rows and history and
    computes health an export does not need.)"""
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(f"workspace {workspace_id} is not set up")
    teams = list(
        session.exec(
            select(Team).where(Team.workspace_id == workspace_id).order_by(col(Team.id))
        ).all()
    )
    channels: dict[int, list[str]] = {}
    for team_id, channel_id in session.exec(
        select(TeamChannel.team_id, TeamChannel.channel_id)
        .where(TeamChannel.workspace_id == workspace_id)
        .order_by(col(TeamChannel.id))
    ):
        channels.setdefault(team_id, []).append(channel_id)
    cycles = list(
        session.exec(
            select(Cycle).where(Cycle.workspace_id == workspace_id).order_by(col(Cycle.id))
        ).all()
    )
    objectives = list(
        session.exec(
            select(Objective)
            .where(Objective.workspace_id == workspace_id)
            .order_by(col(Objective.id))
        ).all()
    )
    key_results = list(
        session.exec(
            select(KeyResult)
            .where(KeyResult.workspace_id == workspace_id)
            .order_by(col(KeyResult.objective_id), col(KeyResult.position), col(KeyResult.id))
        ).all()
    )
    check_ins = list(
        session.exec(
            select(CheckIn)
            .where(CheckIn.workspace_id == workspace_id)
            .order_by(col(CheckIn.key_result_id), col(CheckIn.period_start), col(CheckIn.id))
        ).all()
    )
    reflections = {
        r.objective_id: r
        for r in session.exec(select(Reflection).where(Reflection.workspace_id == workspace_id))
    }
    sources = {
        s.key_result_id: s
        for s in session.exec(select(DataSource).where(DataSource.workspace_id == workspace_id))
    }
    return Snapshot(
        workspace, teams, channels, cycles, objectives, key_results, check_ins, reflections, sources
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


def insert_okrs(
    *,
    session: Session,
    workspace_id: str,
    now: datetime,
    teams: Sequence[NewTeam] = (),
    cycles: Sequence[NewCycle] = (),
    objectives: Sequence[NewObjective] = (),
    key_results: Sequence[NewKeyResult] = (),
    check_ins: Sequence[NewCheckIn] = (),
    reflections: Sequence[NewReflection] = (),
    sources: Sequence[NewSource] = (),
) -> Inserted:
    """Insert a whole tree in the caller's transaction, a few statements per table.

    The caller has checked the references: indexes in range, no loops among team parents
    or objective parents (rows are inserted parents first, which a loop would prevent).
    """
    team_ids = _allocate_ids(session, Team, len(teams))
    cycle_ids = _allocate_ids(session, Cycle, len(cycles))
    objective_ids = _allocate_ids(session, Objective, len(objectives))
    kr_ids = _allocate_ids(session, KeyResult, len(key_results))

    def parent_of(rows: Sequence[NewTeam] | Sequence[NewObjective]) -> list[int | None]:
        return [row.parent for row in rows]

    _insert(
        session,
        Team,
        [
            {
                "id": team_ids[i],
                "workspace_id": workspace_id,
                "name": team.name,
                "parent_id": None if team.parent is None else team_ids[team.parent],
                "created_at": now,
            }
            for i in _parents_first(parent_of(teams))
            for team in (teams[i],)
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
    _insert(
        session,
        Cycle,
        [
            {
                "id": cycle_ids[i],
                "workspace_id": workspace_id,
                "name": c.name,
                "start_date": c.start_date,
                "end_date": c.end_date,
                "closed_at": c.closed_at,
            }
            for i, c in enumerate(cycles)
        ],
    )
    _insert(
        session,
        Objective,
        [
            {
                "id": objective_ids[i],
                "workspace_id": workspace_id,
                "cycle_id": cycle_ids[o.cycle],
                "team_id": None if o.team is None else team_ids[o.team],
                "level": o.level or Level.of(None, team_id=o.team).value,
                "owner_id": o.owner_id,
                "parent_id": None if o.parent is None else objective_ids[o.parent],
                "title": o.title,
                "description": o.description,
                "weight": o.weight,
                "committed": o.committed,
                "status": o.status,
                "grade": o.grade,
                "created_at": o.created_at,
                "updated_at": now,
                "archived_at": o.archived_at,
            }
            for i in _parents_first(parent_of(objectives))
            for o in (objectives[i],)
        ],
    )
    _insert(
        session,
        KeyResult,
        [
            {
                "id": kr_ids[i],
                "workspace_id": workspace_id,
                "objective_id": objective_ids[kr.objective],
                "owner_id": kr.owner_id,
                "title": kr.title,
                "kind": kr.kind,
                "unit": kr.unit,
                "unit_label": kr.unit_label,
                "start_value": kr.start_value,
                "target_value": kr.target_value,
                "current_value": kr.current_value,
                "weight": kr.weight,
                "due_date": kr.due_date,
                "confidence": kr.confidence,
                "position": kr.position,
                "grade": kr.grade,
                "last_checkin_at": kr.last_checkin_at,
                "created_at": kr.created_at,
                "updated_at": now,
                "archived_at": kr.archived_at,
            }
            for i, kr in enumerate(key_results)
        ],
    )
    _insert(
        session,
        CheckIn,
        [
            {
                "workspace_id": workspace_id,
                "key_result_id": kr_ids[c.key_result],
                "author_id": c.author_id,
                "value": c.value,
                "previous_value": c.previous_value,
                "confidence": c.confidence,
                "note": c.note,
                "blocker": c.blocker,
                "period_start": c.period_start,
                "source": c.source,
                "dedupe_key": None,
                "created_at": c.created_at,
            }
            for c in check_ins
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
            {
                "workspace_id": workspace_id,
                "objective_id": objective_ids[r.objective],
                "author_id": r.author_id,
                "worked": r.worked,
                "did_not_work": r.did_not_work,
                "carry_over": r.carry_over,
                "created_at": r.created_at,
                "updated_at": now,
            }
            for r in reflections
        ],
    )
    _insert(
        session,
        DataSource,
        [
            {
                "workspace_id": workspace_id,
                "key_result_id": kr_ids[s.key_result],
                "kind": s.kind,
                "url": s.url,
                "expression": s.expression,
                "column": s.column,
                "row_key": s.row_key,
                "multiplier": s.multiplier,
                "credential": s.credential,
                "interval_minutes": s.interval_minutes,
                "created_by": s.created_by,
                "created_at": now,
                "updated_at": now,
                "next_run_at": now,  # pulled at the next sync round
                "failures": 0,
            }
            for s in sources
        ],
    )
    session.flush()
    # Core inserts pass the session hooks: roll the workspace up before the commit.
    mark_workspace(session=session, workspace_id=workspace_id)
    return Inserted(team_ids, cycle_ids, objective_ids, kr_ids)


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
    """Indexes ordered so that every parent comes before its children (stable otherwise)."""
    depth: dict[int, int] = {}
    for start in range(len(parents)):
        chain: list[int] = []
        node: int | None = start
        while node is not None and node not in depth:
            chain.append(node)
            node = parents[node]
            if len(chain) > len(parents):
                raise ValueError("parent references make a loop")
        base = -1 if node is None else depth[node]
        for offset, index in enumerate(reversed(chain), start=1):
            depth[index] = base + offset
    return sorted(range(len(parents)), key=lambda i: depth[i])
