"""Cycles (quarters, halves…) and closing them with grades."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from bot.okr.grading import grade_kr
from storage.db import by_name, get_row
from storage.errors import Refused
from storage.models import Cycle
from storage.tree import load_tree


def create_cycle(
    *, session: Session, workspace_id: str, name: str, start_date: date, end_date: date
) -> Cycle:
    name = name.strip()
    if end_date < start_date:
        raise Refused("A cycle must end on or after the day it starts.")
    clash = session.exec(
        select(Cycle).where(Cycle.workspace_id == workspace_id, Cycle.name == name)
    ).first()
    if clash is not None:
        raise Refused(f"A cycle named “{name}” already exists.")
    cycle = Cycle(workspace_id=workspace_id, name=name, start_date=start_date, end_date=end_date)
    session.add(cycle)
    session.flush()
    return cycle


def get_cycle(*, session: Session, workspace_id: str, cycle_id: int) -> Cycle:
    return get_row(session, Cycle, cycle_id, workspace_id=workspace_id)


def find_cycle(*, session: Session, workspace_id: str, name: str) -> Cycle | None:
    return by_name(list_cycles(session=session, workspace_id=workspace_id), name)


def list_cycles(*, session: Session, workspace_id: str) -> list[Cycle]:
    return list(
        session.exec(
            select(Cycle)
            .where(Cycle.workspace_id == workspace_id)
            .order_by(col(Cycle.start_date).desc(), col(Cycle.id).desc())
        )
    )


def current_cycle(*, session: Session, workspace_id: str, today: date) -> Cycle | None:
    """The open cycle running today; else the next open one; else the latest open one."""
    open_cycles = [c for c in list_cycles(session=session, workspace_id=workspace_id) if c.is_open]
    running = [c for c in open_cycles if c.start_date <= today <= c.end_date]
    if running:
        return min(running, key=lambda c: c.end_date)  # the shortest: a quarter inside a year
    upcoming = [c for c in open_cycles if c.start_date > today]
    if upcoming:
        return min(upcoming, key=lambda c: c.start_date)
    return open_cycles[0] if open_cycles else None


def close_cycle(
    *,
    session: Session,
    workspace_id: str,
    cycle_id: int,
    now: datetime,
    include_children: bool = False,
) -> Cycle:
    """Grade every KR and objective of the cycle and close it, all in one transaction."""
    cycle = get_cycle(session=session, workspace_id=workspace_id, cycle_id=cycle_id)
    if not cycle.is_open:
        raise Refused(f"{cycle.name} is already closed.")
    tree = load_tree(
        session=session,
        workspace_id=workspace_id,
        cycle_ids=[cycle_id],
        today=now.date(),
        include_children=include_children,
        editable=True,  # graded in place
    )
    for kr in tree.key_results:
        kr.grade = grade_kr(kr)
        session.add(kr)
    for objective in tree.objectives:
        progress = tree.health.objectives[objective.id].progress
        objective.grade = None if progress is None else round(progress, 2)
        objective.status = "closed"
        session.add(objective)
    cycle.closed_at = now
    session.add(cycle)
    session.flush()
    return cycle
