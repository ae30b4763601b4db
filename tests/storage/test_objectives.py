from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from bot.okr.kinds import KRKind, Level
from bot.okr.validate import KRSpec
from storage.errors import NotFound, Refused
from storage.models import KeyResult, Objective
from storage.objectives import (
    align_objective,
    archive_objective,
    create_objective,
    delete_objective,
    get_objective,
    list_user_key_results,
    objective_depths,
    search_objectives,
    update_key_result,
    update_objective,
)
from storage.teams import create_team
from tests.factories import reference_company


def _objective(session: Session, company, title: str, owner: str = "U0CEO", parent=None):
    return create_objective(
        session=session,
        workspace_id=company.workspace_id,
        cycle_id=company.cycle.id,
        owner_id=owner,
        title=title,
        parent_id=parent,
    )


def test_reference_company_is_stored_with_its_krs(session: Session) -> None:
    company = reference_company(session)
    krs = session.exec(select(KeyResult).order_by(KeyResult.id)).all()
    assert [kr.objective_id for kr in krs] == [company.platform.id] * 3 + [company.support.id] * 2
    assert [kr.position for kr in krs] == [0, 1, 2, 0, 1]
    assert krs[3].kind == KRKind.AT_LEAST and krs[3].start_value is None
    assert all(kr.owner_id == "U0CEO" for kr in krs)


@pytest.mark.parametrize(
    ("title", "spec", "message"),
    [
        ("", None, "title"),
        ("x" * 151, None, "under 150"),
        ("Ok", KRSpec("KR", KRKind.INCREASE, 10, start_value=10), "equals the start"),
        ("Ok", KRSpec("KR", KRKind.INCREASE, float("nan")), "real number"),
        ("Ok", KRSpec("KR", KRKind.INCREASE, float("inf")), "real number"),
        ("Ok", KRSpec("KR", KRKind.INCREASE, 1e400), "real number"),
        ("Ok", KRSpec("KR", KRKind.INCREASE, 1e16), "too large"),
        ("Ok", KRSpec("KR", KRKind.DECREASE, 10, start_value=5), "below the start"),
        ("Ok", KRSpec("", KRKind.INCREASE, 10), "title"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(session: Session, title, spec, message) -> None:
    company = reference_company(session)
    before = len(session.exec(select(Objective)).all())
    with pytest.raises(Refused, match=message):
        create_objective(
            session=session,
            workspace_id=company.workspace_id,
            cycle_id=company.cycle.id,
            owner_id="U1",
            title=title,
            key_results=[spec] if spec else [],
        )
    session.rollback()
    assert len(session.exec(select(Objective)).all()) == before


def test_user_text_is_stored_literally_but_without_control_characters(session: Session) -> None:
    company = reference_company(session)
    hostile = "<!channel> <@U123> <https://evil|click> & \u202eRTL 🚀\x00\x07 '); DROP TABLE x;--"
    objective = _objective(session, company, hostile)
    session.commit()
    stored = get_objective(session=session, workspace_id="T0REF", objective_id=objective.id)
    assert (
        stored.title == "<!channel> <@U123> <https://evil|click> & \u202eRTL 🚀 '); DROP TABLE x;--"
    )


def test_align_refuses_loops(session: Session) -> None:
    company = reference_company(session)
    team = _objective(session, company, "Team objective", parent=company.platform.id)
    mine = _objective(session, company, "My objective", parent=team.id)
    ws = company.workspace_id
    with pytest.raises(Refused, match="loop"):
        align_objective(
            session=session, workspace_id=ws, objective_id=company.platform.id, parent_id=mine.id
        )
    with pytest.raises(Refused, match="loop"):
        align_objective(session=session, workspace_id=ws, objective_id=mine.id, parent_id=mine.id)
    moved = align_objective(
        session=session, workspace_id=ws, objective_id=mine.id, parent_id=company.support.id
    )
    assert moved.parent_id == company.support.id


def test_align_refuses_other_workspaces_objectives(session: Session) -> None:
    company = reference_company(session)
    other = reference_company(session, workspace_id="T0OTHER")
    with pytest.raises(NotFound):
        align_objective(
            session=session,
            workspace_id=company.workspace_id,
            objective_id=company.platform.id,
            parent_id=other.support.id,
        )


def test_archiving_a_parent_moves_children_to_the_grandparent(session: Session) -> None:
    company = reference_company(session)
    middle = _objective(session, company, "Middle", parent=company.platform.id)
    child_a = _objective(session, company, "Alice's", owner="UALICE", parent=middle.id)
    child_b = _objective(session, company, "Bob's", owner="UBOB", parent=middle.id)
    moved = archive_objective(session=session, workspace_id="T0REF", objective_id=middle.id)
    session.commit()
    assert {o.id for o in moved} == {child_a.id, child_b.id}
    for child in (child_a, child_b):
        session.refresh(child)
        assert child.parent_id == company.platform.id
        assert child.archived_at is None
    assert get_objective(session=session, workspace_id="T0REF", objective_id=middle.id).archived


def test_deleting_a_parent_keeps_other_peoples_objectives(session: Session) -> None:
    company = reference_company(session)
    child = _objective(session, company, "Child", owner="UALICE", parent=company.platform.id)
    delete_objective(session=session, workspace_id="T0REF", objective_id=company.platform.id)
    session.commit()
    session.refresh(child)
    assert child.parent_id is None
    assert (
        session.exec(select(KeyResult).where(KeyResult.objective_id == company.platform.id)).all()
        == []
    )


def test_update_objective_validates_and_applies(session: Session) -> None:
    company = reference_company(session)
    with pytest.raises(Refused):
        update_objective(
            session=session, workspace_id="T0REF", objective_id=company.platform.id, title="  "
        )
    updated = update_objective(
        session=session,
        workspace_id="T0REF",
        objective_id=company.platform.id,
        title=" Ship  it ",
        weight=2,
    )
    assert (updated.title, updated.weight) == ("Ship it", 2)


def test_update_key_result_keeps_current_value(session: Session) -> None:
    company = reference_company(session)
    kr = session.exec(
        select(KeyResult).where(KeyResult.objective_id == company.platform.id)
    ).first()
    kr.current_value = 500
    session.add(kr)
    spec = KRSpec("Achieve 2M users", KRKind.INCREASE, 2_000_000, due_date=date(2026, 6, 30))
    updated = update_key_result(
        session=session, workspace_id="T0REF", key_result_id=kr.id, spec=spec
    )
    assert (updated.target_value, updated.current_value, updated.start_value) == (2e6, 500, 0)


def test_list_user_key_results_and_search(session: Session) -> None:
    company = reference_company(session)
    reference_company(session, workspace_id="T0OTHER")
    mine = list_user_key_results(session=session, workspace_id="T0REF", owner_id="U0CEO")
    assert len(mine) == 5
    assert {o.workspace_id for _, o in mine} == {"T0REF"}
    found = search_objectives(session=session, workspace_id="T0REF", text="SUPPORT")
    assert [o.id for o in found] == [company.support.id]
    assert search_objectives(session=session, workspace_id="T0REF", text="100%_") == []


def test_objective_depths_count_the_parents_above(session: Session) -> None:
    company = reference_company(session)
    child = _objective(session, company, "Build the chat backend", parent=company.platform.id)
    grandchild = _objective(session, company, "Pick a queue", parent=child.id)
    other = reference_company(session, workspace_id="T0OTHER")
    ids = [company.platform.id, company.support.id, child.id, grandchild.id]
    depths = objective_depths(session=session, workspace_id="T0REF", objective_ids=ids)
    assert depths == {company.platform.id: 0, company.support.id: 0, child.id: 1, grandchild.id: 2}
    # Another workspace's ids are not walked: scoped like every query.
    assert objective_depths(
        session=session, workspace_id="T0REF", objective_ids=[other.platform.id]
    ) == {other.platform.id: 0}
    assert objective_depths(session=session, workspace_id="T0REF", objective_ids=[]) == {}


def test_a_level_is_stored_and_follows_a_change_of_team_unless_given(session: Session) -> None:
    company = reference_company(session)
    team = create_team(session=session, workspace_id=company.workspace_id, name="Platform")
    assert company.platform.level == "company"  # no team, no level given: the company's
    mine = create_objective(
        session=session,
        workspace_id=company.workspace_id,
        cycle_id=company.cycle.id,
        owner_id="U0DEV",
        title="Learn Rust",
        level=Level.PERSONAL,
    )
    assert (mine.level, mine.team_id) == ("personal", None)

    def update(objective_id: int | None, **changes: object) -> Objective:
        return update_objective(
            session=session,
            workspace_id=company.workspace_id,
            objective_id=objective_id,  # type: ignore[arg-type]
            **changes,
        )

    moved = update(company.platform.id, team_id=team.id)
    assert moved.level == "team"
    assert update(company.platform.id, team_id=None).level == "company"
    assert update(mine.id, team_id=None).level == "personal"
    assert update(mine.id, level=Level.COMPANY).level == "company"
    with pytest.raises(ValueError):
        update(mine.id, level="tribe")
