"""Reflections at the end of a cycle, and key results carried over into the next one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from bot.okr.grading import unfinished
from bot.okr.kinds import KRKind, Level
from bot.okr.validate import clean_text
from storage.cycles import get_cycle
from storage.errors import Refused
from storage.models import Cycle, KeyResult, Objective, Reflection
from storage.objectives import create_objective


def graded_objectives(
    *, session: Session, workspace_id: str, cycle_id: int, owner_id: str | None = None
) -> list[Objective]:
    """The cycle's live objectives that were graded at close, by id (owner's only if given)."""
    query = select(Objective).where(
        Objective.workspace_id == workspace_id,
        Objective.cycle_id == cycle_id,
        col(Objective.archived_at).is_(None),
        col(Objective.grade).is_not(None),
    )
    if owner_id is not None:
        query = query.where(Objective.owner_id == owner_id)
    return list(session.exec(query.order_by(col(Objective.id))).all())


def list_reflections(
    *, session: Session, workspace_id: str, objective_ids: Sequence[int]
) -> dict[int, Reflection]:
    if not objective_ids:
        return {}
    rows = session.exec(
        select(Reflection).where(
            Reflection.workspace_id == workspace_id,
            col(Reflection.objective_id).in_(sorted(set(objective_ids))),
        )
    ).all()
    return {r.objective_id: r for r in rows}


def save_reflection(
    *,
    session: Session,
    workspace_id: str,
    objective_id: int,
    author_id: str,
    worked: str,
    did_not_work: str,
    carry_over: str,
    now: datetime,
) -> Reflection:
    """One reflection per objective: answering again rewrites it."""
    found = list_reflections(
        session=session, workspace_id=workspace_id, objective_ids=[objective_id]
    )
    reflection = found.get(objective_id) or Reflection(
        workspace_id=workspace_id, objective_id=objective_id, author_id=author_id, created_at=now
    )
    reflection.author_id = author_id
    reflection.worked = clean_text(worked)
    reflection.did_not_work = clean_text(did_not_work)
    reflection.carry_over = clean_text(carry_over)
    reflection.updated_at = now
    session.add(reflection)
    session.flush()
    return reflection


def open_cycles_after(*, session: Session, workspace_id: str, cycle: Cycle) -> list[Cycle]:
    """Open cycles a KR of `cycle` may be carried into, soonest first."""
    rows = session.exec(
        select(Cycle).where(
            Cycle.workspace_id == workspace_id,
            col(Cycle.closed_at).is_(None),
            Cycle.id != cycle.id,
            col(Cycle.end_date) >= cycle.end_date,
        )
    ).all()
    return sorted(rows, key=lambda c: (c.start_date, c.end_date, c.id))


def carried_from(
    *, session: Session, workspace_id: str, key_result_ids: Sequence[int]
) -> dict[int, list[tuple[KeyResult, int]]]:
    """Live KRs carried over from each of these KRs, with the cycle each is in now, by the
    KR they came from (one statement)."""
    if not key_result_ids:
        return {}
    rows = session.exec(
        select(KeyResult, Objective.cycle_id)
        .join(Objective, col(Objective.id) == col(KeyResult.objective_id))
        .where(
            KeyResult.workspace_id == workspace_id,
            col(KeyResult.carried_from_id).in_(sorted(set(key_result_ids))),
            col(KeyResult.archived_at).is_(None),
            col(Objective.archived_at).is_(None),
        )
        .order_by(col(KeyResult.id))
    ).all()
    out: dict[int, list[tuple[KeyResult, int]]] = {}
    for kr, cycle_id in rows:
        if kr.carried_from_id is not None:  # always: the rows are picked by it
            out.setdefault(kr.carried_from_id, []).append((kr, cycle_id))
    return out


def carry_over(
    *,
    session: Session,
    workspace_id: str,
    key_result: KeyResult,
    objective: Objective,
    into_cycle_id: int,
    now: datetime,
) -> KeyResult:
    """The KR again in `into_cycle_id`, under a copy of its objective (one copy per objective
    and cycle), starting where it ended and linked to it by carried_from_id. Carrying the same
    KR into the same cycle twice returns the first copy."""
    target = get_cycle(session=session, workspace_id=workspace_id, cycle_id=into_cycle_id)
    if not target.is_open:
        raise Refused(f"{target.name} is closed: carry key results into an open cycle.")
    if not unfinished(key_result.grade):
        raise Refused("This key result was finished: there is nothing to carry over.")
    siblings = session.exec(
        select(KeyResult.id).where(KeyResult.objective_id == objective.id)
    ).all()
    already = session.exec(
        select(KeyResult, Objective)
        .join(Objective, col(Objective.id) == col(KeyResult.objective_id))
        .where(
            col(KeyResult.carried_from_id).in_(list(siblings)),
            Objective.cycle_id == into_cycle_id,
            col(Objective.archived_at).is_(None),
            col(KeyResult.archived_at).is_(None),
        )
    ).all()
    for kr, _copy in already:
        if kr.carried_from_id == key_result.id:
            return kr
    if already:
        copy = already[0][1]
    else:
        copy = create_objective(
            session=session,
            workspace_id=workspace_id,
            cycle_id=into_cycle_id,
            owner_id=objective.owner_id,
            title=objective.title,
            description=objective.description,
            team_id=objective.team_id,
            level=Level(objective.level),  # a person's own objective stays theirs
            parent_id=None,  # the parent belongs to the old cycle; aligning is the owner's call
            weight=objective.weight,
            now=now,
        )
        copy.committed = objective.committed
        session.add(copy)
    reached = key_result.current_value
    # A change KR starts again from where it got to; a threshold or milestone keeps its own.
    moves = KRKind(key_result.kind) in (KRKind.INCREASE, KRKind.DECREASE)
    start = reached if moves and reached is not None else key_result.start_value
    position = len(
        session.exec(select(KeyResult.id).where(KeyResult.objective_id == copy.id)).all()
    )
    carried = KeyResult(
        workspace_id=workspace_id,
        objective_id=copy.id,
        owner_id=key_result.owner_id,
        title=key_result.title,
        kind=key_result.kind,
        unit=key_result.unit,
        unit_label=key_result.unit_label,
        start_value=start,
        target_value=key_result.target_value,
        current_value=reached,
        weight=key_result.weight,
        due_date=None,  # the old due date lies in the closed cycle; the new cycle's end applies
        position=position,
        carried_from_id=key_result.id,
        created_at=now,
        updated_at=now,
    )
    session.add(carried)
    session.flush()
    return carried
