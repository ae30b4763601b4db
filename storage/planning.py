"""The narrow reads behind planning check-in prompts: a few columns, never whole rows.

Planning runs every minute and, in a big workspace, looks at every KR owner; building ORM
objects to read three columns was three quarters of a re-plan's time. These read plain
tuples, in one statement each, with no IN list that grows with the workspace (SQLite
refuses more than 32,766 bound parameters, PostgreSQL 65,535).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.models import CheckIn, KeyResult, Objective, Person, table_of


@dataclass(frozen=True)
class PersonFacts:
    """What planning needs to know of a person (storage.models.Person, without the ORM)."""

    user_id: str
    tz: str | None
    deleted: bool
    is_bot: bool
    away_until: date | None
    refreshed_at: datetime | None


def _running_krs(workspace_id: str, cycle_ids: Sequence[int]) -> sa.Select:
    """Active KRs of active objectives in these cycles (Core: no ORM row processing)."""
    kr, objective = table_of(KeyResult), table_of(Objective)
    return (
        sa.select(kr.c.owner_id)
        .select_from(kr.join(objective, objective.c.id == kr.c.objective_id))
        .where(
            kr.c.workspace_id == workspace_id,
            kr.c.archived_at.is_(None),
            objective.c.archived_at.is_(None),
            objective.c.cycle_id.in_(cycle_ids),
        )
    )


def owners_first_key_result(
    *, session: Session, workspace_id: str, cycle_ids: Sequence[int]
) -> dict[str, datetime]:
    """Everyone owning a running KR, with when their oldest one was created (planning asks
    only whether any KR is old enough): one row per owner, not one per KR."""
    if not cycle_ids:
        return {}
    kr = table_of(KeyResult)
    query = (
        _running_krs(workspace_id, cycle_ids)
        .add_columns(sa.func.min(kr.c.created_at).label("first_created"))
        .group_by(kr.c.owner_id)
    )
    return {owner: first for owner, first in session.execute(query).all()}


def key_result_ids_by_owner(
    *, session: Session, workspace_id: str, cycle_ids: Sequence[int], owners: Collection[str]
) -> dict[str, list[int]]:
    """The running KRs' ids of these owners (read for everyone, kept for these: no IN list
    that grows with the workspace)."""
    if not cycle_ids or not owners:
        return {}
    kr = table_of(KeyResult)
    query = _running_krs(workspace_id, cycle_ids).add_columns(kr.c.id)
    if len(owners) <= 500:
        query = query.where(kr.c.owner_id.in_(sorted(owners)))
    ids: dict[str, list[int]] = defaultdict(list)
    for owner, kr_id in session.execute(query).all():
        if owner in owners:
            ids[owner].append(kr_id)
    return dict(ids)


def people_facts(*, session: Session, workspace_id: str) -> dict[str, PersonFacts]:
    """Everyone Ladder knows in the workspace (owners are nearly all of them: one statement
    without a list of ids beats an IN list of tens of thousands)."""
    person = table_of(Person)
    rows = session.execute(
        sa.select(
            person.c.user_id,
            person.c.tz,
            person.c.deleted,
            person.c.is_bot,
            person.c.away_until,
            person.c.refreshed_at,
        ).where(person.c.workspace_id == workspace_id)
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
        select(col(CheckIn.key_result_id), col(CheckIn.period_start)).where(
            CheckIn.workspace_id == workspace_id, col(CheckIn.period_start).in_(periods)
        )
    ).all()
    return {(kr_id, period) for kr_id, period in rows}
