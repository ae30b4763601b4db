from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from bot.okr.kinds import KRKind, Status
from bot.okr.validate import KRSpec
from storage.checkins import record_check_in
from storage.cycles import close_cycle, create_cycle, current_cycle
from storage.errors import Refused
from storage.models import utcnow
from storage.objectives import create_objective
from storage.teams import create_team, link_channel, set_team_parent, team_for_channel
from storage.tree import load_tree
from storage.workspaces import ensure_workspace, update_workspace
from tests.factories import reference_company

MID = date(2026, 4, 5)  # half way through the reference cycle


def _seed(session: Session, n: int, workspace_id: str = "T0BIG") -> None:
    ensure_workspace(session=session, workspace_id=workspace_id)
    cycle = create_cycle(
        session=session,
        workspace_id=workspace_id,
        name="Q",
        start_date=date(2026, 1, 1),
        end_date=date(2026, 3, 31),
    )
    team = create_team(session=session, workspace_id=workspace_id, name="Eng")
    parent_id = None
    for i in range(n):
        spec = KRSpec(f"KR {i}", KRKind.INCREASE, 100, start_value=0, current_value=i % 100)
        objective = create_objective(
            session=session,
            workspace_id=workspace_id,
            cycle_id=cycle.id,
            owner_id=f"U{i % 7}",
            title=f"Objective {i}",
            team_id=team.id if i % 2 else None,
            parent_id=parent_id if i % 3 else None,
            key_results=[spec, spec],
        )
        parent_id = objective.id
    session.commit()


@pytest.mark.parametrize("size", [10, 1000])
def test_loading_a_tree_takes_a_constant_number_of_statements(
    session: Session, count_statements, size: int
) -> None:
    _seed(session, size)
    session.expunge_all()
    with count_statements() as counter:
        tree = load_tree(session=session, workspace_id="T0BIG", today=date(2026, 2, 1))
    assert len(tree.objectives) == size
    assert len(tree.key_results) == 2 * size
    assert counter.count == 5, counter.statements
    # every objective is reached exactly once by the depth-first walk
    assert sorted(o.id for o, _ in tree.walk()) == sorted(o.id for o in tree.objectives)


def test_reference_company_progress_and_status(session: Session) -> None:
    company = reference_company(session)
    ws = company.workspace_id
    kr_ids = {
        kr.title: kr.id for kr in load_tree(session=session, workspace_id=ws, today=MID).key_results
    }
    values = {
        "Achieve 1 million active users within six months": 600_000,  # 0.6
        "Increase user engagement by 30%": 46,  # (46-40)/12 = 0.5
        "Reduce latency to under 100 milliseconds": 130,  # (250-130)/150 = 0.8
        "Achieve a Net Promoter Score (NPS) of 9 or higher": 9.1,  # met: 1
        "Resolve 90% of customer inquiries within 24 hours": 27,  # 0.3
    }
    for title, value in values.items():
        record_check_in(
            session=session,
            workspace_id=ws,
            key_result_id=kr_ids[title],
            author_id="U0CEO",
            value=value,
            period_start=MID,
            now=utcnow(),
        )
    session.commit()
    tree = load_tree(session=session, workspace_id=ws, today=MID)
    platform = tree.health.objectives[company.platform.id]
    support = tree.health.objectives[company.support.id]
    assert platform.progress == pytest.approx((0.6 + 0.5 + 0.8) / 3)
    assert support.progress == pytest.approx((1 + 0.3) / 2)
    assert platform.status is Status.ON_TRACK
    # 30% resolved vs ~49.7% expected half way through: ~20 points behind, so at risk.
    resolve = tree.health.krs[kr_ids["Resolve 90% of customer inquiries within 24 hours"]]
    assert resolve.status is Status.AT_RISK
    assert support.status is Status.AT_RISK  # the worst of its KRs
    assert tree.workspace.vision.startswith("Empowering")


def test_team_subtree_owner_and_company_filters(session: Session) -> None:
    company = reference_company(session)
    ws, cycle = company.workspace_id, company.cycle.id
    eng = create_team(session=session, workspace_id=ws, name="Engineering")
    infra = create_team(session=session, workspace_id=ws, name="Infra", parent_id=eng.id)
    sales = create_team(session=session, workspace_id=ws, name="Sales")
    team_obj = create_objective(
        session=session,
        workspace_id=ws,
        cycle_id=cycle,
        owner_id="UENG",
        title="Eng",
        team_id=eng.id,
        parent_id=company.platform.id,
    )
    infra_obj = create_objective(
        session=session,
        workspace_id=ws,
        cycle_id=cycle,
        owner_id="UINF",
        title="Infra",
        team_id=infra.id,
        parent_id=team_obj.id,
        key_results=[KRSpec("p99", KRKind.AT_MOST, 200, owner_id="UALICE")],
    )
    create_objective(
        session=session,
        workspace_id=ws,
        cycle_id=cycle,
        owner_id="USALES",
        title="Sales",
        team_id=sales.id,
    )
    session.commit()

    eng_tree = load_tree(session=session, workspace_id=ws, today=MID, team_id=eng.id)
    assert {o.id for o in eng_tree.objectives} == {team_obj.id, infra_obj.id}
    assert [o.id for o in eng_tree.roots] == [team_obj.id]  # its company parent is not shown
    assert [(o.id, d) for o, d in eng_tree.walk()] == [(team_obj.id, 0), (infra_obj.id, 1)]

    alice = load_tree(session=session, workspace_id=ws, today=MID, owner_id="UALICE")
    assert [o.id for o in alice.objectives] == [infra_obj.id]
    company_only = load_tree(session=session, workspace_id=ws, today=MID, company_only=True)
    assert {o.id for o in company_only.objectives} == {company.platform.id, company.support.id}


def test_include_children_is_a_workspace_option(session: Session) -> None:
    company = reference_company(session)
    ws = company.workspace_id
    create_objective(
        session=session,
        workspace_id=ws,
        cycle_id=company.cycle.id,
        owner_id="U2",
        title="Child",
        parent_id=company.support.id,
        key_results=[KRSpec("done", KRKind.MILESTONE, 1, current_value=1)],
    )
    session.commit()
    before = load_tree(session=session, workspace_id=ws, today=MID)
    assert before.health.objectives[company.support.id].progress == 0
    update_workspace(session=session, workspace_id=ws, rollup_include_children=True)
    after = load_tree(session=session, workspace_id=ws, today=MID)
    assert after.health.objectives[company.support.id].progress == pytest.approx(1 / 3)


def test_teams_channels_and_parent_loops(session: Session) -> None:
    ensure_workspace(session=session, workspace_id="T1")
    eng = create_team(session=session, workspace_id="T1", name="Eng")
    web = create_team(session=session, workspace_id="T1", name="Web", parent_id=eng.id)
    with pytest.raises(Refused, match="already exists"):
        create_team(session=session, workspace_id="T1", name="eng ")
    with pytest.raises(Refused, match="under itself"):
        set_team_parent(session=session, workspace_id="T1", team_id=eng.id, parent_id=web.id)
    link_channel(session=session, workspace_id="T1", team_id=eng.id, channel_id="C1")
    link_channel(session=session, workspace_id="T1", team_id=web.id, channel_id="C1")
    assert team_for_channel(session=session, workspace_id="T1", channel_id="C1").id == web.id
    assert team_for_channel(session=session, workspace_id="T2", channel_id="C1") is None


def test_current_cycle_and_closing_with_grades(session: Session) -> None:
    company = reference_company(session)
    ws = company.workspace_id
    year = create_cycle(
        session=session,
        workspace_id=ws,
        name="2026",
        start_date=date(2026, 1, 1),
        end_date=date(2026, 12, 31),
    )
    assert current_cycle(session=session, workspace_id=ws, today=MID).id == company.cycle.id
    assert current_cycle(session=session, workspace_id=ws, today=date(2026, 9, 1)).id == year.id
    with pytest.raises(Refused):
        create_cycle(
            session=session,
            workspace_id=ws,
            name="Bad",
            start_date=date(2026, 2, 1),
            end_date=date(2026, 1, 1),
        )
    tree = load_tree(session=session, workspace_id=ws, today=MID, cycle_ids=[company.cycle.id])
    users = next(kr for kr in tree.key_results if kr.target_value == 1_000_000)
    record_check_in(
        session=session,
        workspace_id=ws,
        key_result_id=users.id,
        author_id="U0CEO",
        value=650_000,
        period_start=MID,
        now=utcnow(),
    )
    close_cycle(session=session, workspace_id=ws, cycle_id=company.cycle.id, now=utcnow())
    session.commit()
    assert users.grade == 0.65
    assert company.platform.grade == pytest.approx(round(0.65 / 3, 2))
    assert company.platform.status == "closed"
    assert current_cycle(session=session, workspace_id=ws, today=MID).id == year.id
    with pytest.raises(Refused, match="already closed"):
        close_cycle(session=session, workspace_id=ws, cycle_id=company.cycle.id, now=utcnow())
