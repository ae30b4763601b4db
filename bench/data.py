"""Synthetic workspaces for benchmarks: valid OKR data, bulk-inserted with SQLAlchemy core.

Row-by-row storage calls would take minutes at 50,000 key results; one executemany per table
takes about a second. The rows are what the app itself writes (same columns, kinds, units,
start values for moving KRs), so every surface renders them like real data.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from bot.okr.kinds import KRKind, UnitKind
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import (
    Cycle,
    KeyResult,
    Objective,
    Person,
    Team,
    TeamChannel,
    Workspace,
)
from storage.rollup import rebuild_workspace

BENCH_WORKSPACE = "T0BENCH"
VISION = "Every team knows what matters this quarter and how far along it is."
MISSION = "Ship a calm, reliable product that customers recommend."
_CHUNK = 5_000  # rows per executemany: bounded memory, still one round trip per chunk

# (kind, unit, unit label, start, target) cycling over KRs: every kind Ladder knows.
_KR_SHAPES: list[tuple[KRKind, UnitKind, str | None, float | None, float]] = [
    (KRKind.INCREASE, UnitKind.NUMBER, "active users", 0, 10_000),
    (KRKind.DECREASE, UnitKind.DURATION, "ms", 250, 100),
    (KRKind.INCREASE, UnitKind.PERCENT, None, 40, 52),
    (KRKind.AT_LEAST, UnitKind.NUMBER, "NPS", None, 9),
    (KRKind.MILESTONE, UnitKind.NUMBER, None, None, 1),
]
_VERBS = ["Grow", "Launch", "Improve", "Reduce", "Delight", "Simplify", "Harden", "Expand"]
_THINGS = ["onboarding", "search", "billing", "mobile app", "support", "reporting", "API"]


@dataclass(frozen=True)
class Filled:
    workspace_id: str
    cycle_id: int
    team_ids: list[int]
    channels: dict[int, str]  # team id -> a Slack channel linked to it
    objectives: int
    key_results: int
    users: list[str]


def sqlite_engine(path: Path) -> Engine:
    """A fresh, migrated SQLite database at `path` (replaced if it exists)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def user_ids(n: int, *, prefix: str = "U0B") -> list[str]:
    return [f"{prefix}{i:07d}" for i in range(n)]


def _insert(connection: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), _CHUNK):
        connection.execute(sa.insert(table), rows[start : start + _CHUNK])


def fill_workspace(
    engine: Engine,
    *,
    objectives: int,
    today: date,
    workspace_id: str = BENCH_WORKSPACE,
    krs_per_objective: int = 5,
    users: int | None = None,
    teams: int | None = None,
    people: int = 0,
    tz: str = "UTC",
    checked_in_share: float = 0.5,
    rollup: bool = True,
) -> Filled:
    """One workspace with an open cycle around `today`, teams with linked channels,
    `objectives` objectives (one in eleven company-level, the rest in teams and aligned to
    a company objective) and `krs_per_objective` KRs each, owned round-robin by `users`
    people (default: one per objective). `people` Person rows are cached profiles (in `tz`,
    refreshed now), as users.info would have left them.
    """
    # Core inserts pass the ORM hooks that keep the stored roll-up: build it as the
    # migration's backfill does (rollup=False leaves it to the caller, to time it).
    n_users = users if users is not None else max(1, objectives)
    owners = user_ids(n_users)
    n_teams = teams if teams is not None else max(1, min(20, objectives // 10))
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC) - timedelta(days=20)
    with session_scope(engine) as session:
        session.add(
            Workspace(team_id=workspace_id, name="Bench Co", vision=VISION, mission=MISSION)
        )
        session.flush()
        cycle = Cycle(
            workspace_id=workspace_id,
            name="Bench cycle",
            start_date=today - timedelta(days=45),
            end_date=today + timedelta(days=45),
        )
        session.add(cycle)
        team_rows = [Team(workspace_id=workspace_id, name=f"Team {i:02d}") for i in range(n_teams)]
        session.add_all(team_rows)
        session.flush()
        team_ids = [t.id for t in team_rows]
        channels = {tid: f"C0TEAM{i:04d}" for i, tid in enumerate(team_ids)}
        session.add_all(
            TeamChannel(workspace_id=workspace_id, team_id=tid, channel_id=ch)
            for tid, ch in channels.items()
        )
        session.flush()
        cycle_id = cycle.id
        first_id = (session.execute(sa.select(sa.func.max(Objective.id))).scalar() or 0) + 1
    assert cycle_id is not None

    objective_rows: list[dict] = []
    company_ids: list[int] = []
    for n in range(objectives):
        oid = first_id + n
        company = n % 11 == 0
        if company:
            company_ids.append(oid)
        verb, thing = _VERBS[n % len(_VERBS)], _THINGS[(n // len(_VERBS)) % len(_THINGS)]
        objective_rows.append(
            {
                "id": oid,
                "workspace_id": workspace_id,
                "cycle_id": cycle_id,
                "team_id": None if company else team_ids[n % n_teams],
                "level": "company" if company else "team",
                "owner_id": owners[n % n_users],
                "parent_id": None if company else company_ids[-1],
                "title": f"{verb} {thing} for every customer segment #{n}",
                "description": "",
                "weight": 1.0,
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
        )
    kr_rows: list[dict] = []
    seq = itertools.count()
    for row in objective_rows:
        for position in range(krs_per_objective):
            i = next(seq)
            kind, unit, label, start, target = _KR_SHAPES[i % len(_KR_SHAPES)]
            checked = (i * 7919) % 1000 < checked_in_share * 1000  # spread, deterministic
            current = None
            if checked:
                current = 1.0 if kind is KRKind.MILESTONE else _midway(start, target, i)
            kr_rows.append(
                {
                    "workspace_id": workspace_id,
                    "objective_id": row["id"],
                    "owner_id": owners[i % n_users],
                    "title": f"{kind.label} {target:g} {label or ''} on track {i}".strip(),
                    "kind": kind.value,
                    "unit": unit.value,
                    "unit_label": label,
                    "start_value": start,
                    "target_value": target,
                    "current_value": current,
                    "weight": 1.0,
                    "confidence": 7 if checked else None,
                    "position": position,
                    "last_checkin_at": now + timedelta(days=10) if checked else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    refreshed = datetime.now(UTC)
    person_rows = [
        {
            "workspace_id": workspace_id,
            "user_id": uid,
            "tz": tz,
            "deleted": False,
            "is_bot": False,
            "refreshed_at": refreshed,
        }
        for uid in (owners + user_ids(max(0, people - n_users), prefix="U0P"))[:people]
    ]
    with engine.begin() as connection:
        _insert(connection, Objective.__table__, objective_rows)  # type: ignore[arg-type]
        _insert(connection, KeyResult.__table__, kr_rows)  # type: ignore[arg-type]
        _insert(connection, Person.__table__, person_rows)  # type: ignore[arg-type]
        if rollup:
            rebuild_workspace(connection=connection, workspace_id=workspace_id)
    return Filled(
        workspace_id=workspace_id,
        cycle_id=cycle_id,
        team_ids=team_ids,  # type: ignore[arg-type]
        channels=channels,  # type: ignore[arg-type]
        objectives=len(objective_rows),
        key_results=len(kr_rows),
        users=owners,
    )


def _midway(start: float | None, target: float, i: int) -> float:
    """A value between start and target (or around a threshold), varied per KR."""
    share = ((i * 37) % 100) / 100
    if start is None:
        return round(target * (0.8 + 0.4 * share), 1)
    return round(start + (target - start) * share, 1)
