"""Check-in history for digests: where each KR stood before a period, what a period brought."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.models import CheckIn, Objective, table_of


@dataclass(frozen=True)
class PastReading:
    """A KR's latest check-in before some period."""

    key_result_id: int
    value: float | None
    confidence: int | None
    period_start: date


def latest_check_ins_before(
    *, session: Session, workspace_id: str, key_result_ids: Sequence[int], before: date
) -> dict[int, PastReading]:
    """Each KR's latest check-in of a period starting before `before`, in one statement.

    A window function (SQLite >= 3.25 and PostgreSQL) ranks each KR's earlier check-ins,
    newest period first; KRs without any are absent from the result.
    """
    if not key_result_ids:
        return {}
    c = table_of(CheckIn).c
    rank = sa.func.row_number().over(
        partition_by=c.key_result_id,
        order_by=(c.period_start.desc(), c.created_at.desc(), c.id.desc()),
    )
    reading = (c.key_result_id, c.value, c.confidence, c.period_start)
    ranked = (
        sa.select(*reading, rank.label("rank"))
        .where(
            c.workspace_id == workspace_id,
            c.key_result_id.in_(key_result_ids),
            c.period_start < before,
        )
        .subquery()
    )
    rows = session.execute(
        sa.select(*(ranked.c[column.name] for column in reading)).where(ranked.c.rank == 1)
    ).all()
    return {row[0]: PastReading(*row) for row in rows}


def check_ins_in_period(
    *, session: Session, workspace_id: str, key_result_ids: Sequence[int], period_start: date
) -> list[CheckIn]:
    """The check-ins of one period for the given KRs, oldest first, in one statement."""
    if not key_result_ids:
        return []
    return list(
        session.exec(
            select(CheckIn)
            .where(
                CheckIn.workspace_id == workspace_id,
                col(CheckIn.key_result_id).in_(key_result_ids),
                CheckIn.period_start == period_start,
            )
            .order_by(col(CheckIn.created_at), col(CheckIn.id))
        ).all()
    )


def teams_with_objectives(
    *, session: Session, workspace_id: str, cycle_ids: Sequence[int]
) -> set[int | None]:
    """Team ids (None = company level) that have an active objective in the cycles."""
    if not cycle_ids:
        return set()
    return set(
        session.exec(
            select(Objective.team_id)
            .where(
                Objective.workspace_id == workspace_id,
                col(Objective.cycle_id).in_(cycle_ids),
                col(Objective.archived_at).is_(None),
            )
            .distinct()
        ).all()
    )
