from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from bot.okr.kinds import Level
from storage.cycles import close_cycle, create_cycle
from storage.errors import Refused
from storage.models import KeyResult, Objective
from storage.objectives import delete_objective
from storage.reflections import (
    carried_from,
    carry_over,
    list_reflections,
    open_cycles_after,
    save_reflection,
)
from tests.factories import reference_company

NOW = datetime(2026, 7, 6, 9, 0, tzinfo=UTC)


def _closed_company(session: Session):  # type: ignore[no-untyped-def]
    company = reference_company(session)
    krs = session.exec(
        select(KeyResult)
        .where(KeyResult.objective_id == company.platform.id)
        .order_by(KeyResult.id)
    ).all()
    krs[0].current_value = 400_000  # 0.4 of a million users
    krs[1].current_value = 52  # done
    session.add_all(krs)
    close_cycle(
        session=session, workspace_id=company.workspace_id, cycle_id=company.cycle.id, now=NOW
    )
    h2 = create_cycle(
        session=session,
        workspace_id=company.workspace_id,
        name="H2 2026",
        start_date=date(2026, 7, 6),
        end_date=date(2026, 12, 31),
    )
    return company, list(krs), h2


def test_a_reflection_is_one_per_objective_and_answering_again_rewrites_it(
    session: Session,
) -> None:
    company, _krs, _h2 = _closed_company(session)
    for worked in ("Weekly demos", "  Weekly demos,\r\nand the beta group\x00 "):
        save_reflection(
            session=session,
            workspace_id=company.workspace_id,
            objective_id=company.platform.id,  # type: ignore[arg-type]
            author_id="U0CEO",
            worked=worked,
            did_not_work="",
            carry_over="Latency",
            now=NOW,
        )
    found = list_reflections(
        session=session,
        workspace_id=company.workspace_id,
        objective_ids=[company.platform.id, company.support.id],  # type: ignore[list-item]
    )
    assert list(found) == [company.platform.id]
    assert found[company.platform.id].worked == "Weekly demos,\nand the beta group"  # cleaned  # type: ignore[index]


def test_carrying_over_copies_the_objective_once_and_each_kr_once(session: Session) -> None:
    company, krs, h2 = _closed_company(session)
    ws = company.workspace_id
    users, engagement, latency = krs
    assert open_cycles_after(session=session, workspace_id=ws, cycle=company.cycle) == [h2]

    first = carry_over(
        session=session,
        workspace_id=ws,
        key_result=users,
        objective=company.platform,
        into_cycle_id=h2.id,  # type: ignore[arg-type]
        now=NOW,
    )
    again = carry_over(
        session=session,
        workspace_id=ws,
        key_result=users,
        objective=company.platform,
        into_cycle_id=h2.id,  # type: ignore[arg-type]
        now=NOW,
    )
    second = carry_over(
        session=session,
        workspace_id=ws,
        key_result=latency,
        objective=company.platform,
        into_cycle_id=h2.id,  # type: ignore[arg-type]
        now=NOW,
    )
    assert again.id == first.id  # a double click carries nothing twice
    assert first.objective_id == second.objective_id  # one copy of the objective
    copy = session.get_one(Objective, first.objective_id)
    assert (copy.cycle_id, copy.title, copy.parent_id) == (h2.id, company.platform.title, None)
    # It goes on from where it got to: 400k of a million is the new baseline.
    assert (first.start_value, first.current_value, first.target_value) == (
        400_000,
        400_000,
        1_000_000,
    )
    assert (first.carried_from_id, first.due_date, first.grade) == (users.id, None, None)
    links = carried_from(session=session, workspace_id=ws, key_result_ids=[users.id, latency.id])  # type: ignore[list-item]
    assert {k: [(kr.id, c) for kr, c in v] for k, v in links.items()} == {
        users.id: [(first.id, h2.id)],
        latency.id: [(second.id, h2.id)],
    }
    with pytest.raises(Refused, match="finished"):
        carry_over(
            session=session,
            workspace_id=ws,
            key_result=engagement,  # graded 1.0
            objective=company.platform,
            into_cycle_id=h2.id,  # type: ignore[arg-type]
            now=NOW,
        )
    with pytest.raises(Refused, match="closed"):
        carry_over(
            session=session,
            workspace_id=ws,
            key_result=users,
            objective=company.platform,
            into_cycle_id=company.cycle.id,  # type: ignore[arg-type]
            now=NOW,
        )


def test_a_personal_objective_carried_over_stays_personal(session: Session) -> None:
    company, krs, h2 = _closed_company(session)
    company.platform.team_id = None
    company.platform.level = Level.PERSONAL.value
    session.add(company.platform)
    session.flush()
    carried = carry_over(
        session=session,
        workspace_id=company.workspace_id,
        key_result=krs[0],
        objective=company.platform,
        into_cycle_id=h2.id,  # type: ignore[arg-type]
        now=NOW,
    )
    copy = session.get_one(Objective, carried.objective_id)
    assert (copy.team_id, copy.level) == (None, Level.PERSONAL.value)


def test_deleting_the_old_objective_keeps_the_carried_kr_without_its_link(
    session: Session,
) -> None:
    company, krs, h2 = _closed_company(session)
    carried = carry_over(
        session=session,
        workspace_id=company.workspace_id,
        key_result=krs[0],
        objective=company.platform,
        into_cycle_id=h2.id,  # type: ignore[arg-type]
        now=NOW,
    )
    session.commit()
    delete_objective(
        session=session,
        workspace_id=company.workspace_id,
        objective_id=company.platform.id,  # type: ignore[arg-type]
    )
    session.commit()
    session.expire_all()
    kept = session.get_one(KeyResult, carried.id)
    assert kept.carried_from_id is None  # ON DELETE SET NULL, on both databases
