"""The narrow reads behind planning check-in prompts: a few columns, never whole rows.

Planning runs every minute and, in a big workspace, looks at every KR owner; building ORM
objects to read three columns was three quarters of a re-plan's time. These read plain
tuples, in one statement each, with no IN list that grows with the workspace (SQLite
refuses more than 32,766 bound parameters, PostgreSQL 65,535).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from storage.models import CheckIn, KeyResult, Objective, Person


@dataclass(frozen=True)
class OwnedKeyResult:
    id: int
    created_at: datetime


@dataclass(frozen=True)
class PersonFacts:
    """What planning needs to know of a person (storage.models.Person, without the ORM)."""

    user_id: str
    tz: str | None
    deleted: bool
    is_bot: bool
    away_until: date | None
    refreshed_at: datetime | None


def owned_key_results(
    *, session: Session, workspace_id: str, cycle_ids: Sequence[int]
) -> dict[str, list[OwnedKeyResult]]:
    """Active KRs of active objectives in these cycles, by owner (in one statement)."""
    if not cycle_ids:
        return {}
    rows = session.exec(
        select(KeyResult.owner_id, KeyResult.id, KeyResult.created_at)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(
            KeyResult.workspace_id == workspace_id,
            col(KeyResult.archived_at).is_(None),
            col(Objective.archived_at).is_(None),
            col(Objective.cycle_id).in_(cycle_ids),
        )
        .order_by(col(KeyResult.id))
    ).all()
    owners: dict[str, list[OwnedKeyResult]] = defaultdict(list)
    for owner_id, kr_id, created_at in rows:
        owners[owner_id].append(OwnedKeyResult(kr_id, created_at))
    return dict(owners)


def people_facts(*, session: Session, workspace_id: str) -> dict[str, PersonFacts]:
    """Everyone Ladder knows in the workspace (owners are nearly all of them: one statement
    without a list of ids beats an IN list of tens of thousands)."""
    rows = session.exec(
        select(
            Person.user_id,
            Person.tz,
            Person.deleted,
            Person.is_bot,
            Person.away_until,
            Person.refreshed_at,
        ).where(Person.workspace_id == workspace_id)
    ).all()
    return {row[0]: PersonFacts(*row) for row in rows}


def checked_in_periods(
    *, session: Session, workspace_id: str, periods: Sequence[date]
) -> set[tuple[int, date]]:
    """Which (KR, period) pairs of the workspace have a check-in in these periods: for
    asking about many KRs at once, where an IN list of their ids would outgrow the limits."""
    if not periods:
        return set()
    rows = session.exec(
        select(CheckIn.key_result_id, CheckIn.period_start).where(
            CheckIn.workspace_id == workspace_id, col(CheckIn.period_start).in_(periods)
        )
    ).all()
    return {(kr_id, period) for kr_id, period in rows}
