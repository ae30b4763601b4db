from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session

from bot.okr.kinds import KRKind, Status
from bot.okr.validate import KRSpec
from storage.checkins import record_check_in
from storage.cycles import close_cycle, create_cycle, current_cycle
from storage.errors import Refused
from storage.models import KeyResult, Objective, table_of, utcnow
from storage.objectives import create_objective
from storage.teams import create_team, link_channel, set_team_parent, team_for_channel
from storage.tree import KeyResultRow, ObjectiveRow, load_tree
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


def test_a_tree_is_a_read_only_snapshot_unless_asked_for_models(session: Session) -> None:
    """Renders read rows (cheap, not tracked by the session); closing a cycle asks for the
    models it grades. Both carry the same values under the same names."""
    _seed(session, 20)
    session.expunge_all()
    rows = load_tree(session=session, workspace_id="T0BIG", today=date(2026, 2, 1))
    models = load_tree(session=session, workspace_id="T0BIG", today=date(2026, 2, 1), editable=True)
    assert all(isinstance(o, Objective) for o in models.objectives)
    assert all(isinstance(kr, KeyResult) for kr in models.key_results)
    assert not any(isinstance(o, Objective) for o in rows.objectives)
    with pytest.raises(AttributeError):
        rows.key_results[0].grade = 1.0  # type: ignore[misc]
    for row, model in zip(rows.key_results, models.key_results, strict=True):
        assert [getattr(row, f) for f in KeyResult.model_fields] == [
            getattr(model, f) for f in KeyResult.model_fields
        ]
    for row, model in zip(rows.objectives, models.objectives, strict=True):
        assert [getattr(row, f) for f in Objective.model_fields] == [
            getattr(model, f) for f in Objective.model_fields
        ]
    assert rows.health == models.health


def test_reference_company_progress_and_status(session: Session) -> None:
    # Written on the cycle's first day: pace counts from then (see bot/okr/pace.py).
    company = reference_company(session, now=datetime(2026, 1, 5, 9, tzinfo=UTC))
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
    # A tree is a read-only snapshot (rows); the graded KR is read back.
    assert session.get(KeyResult, users.id).grade == 0.65
    assert company.platform.grade == pytest.approx(round(0.65 / 3, 2))
    assert company.platform.status == "closed"
    assert current_cycle(session=session, workspace_id=ws, today=MID).id == year.id
    with pytest.raises(Refused, match="already closed"):
        close_cycle(session=session, workspace_id=ws, cycle_id=company.cycle.id, now=utcnow())


def _kr_owners_company(session: Session) -> dict[str, int]:
    """Four objectives: Alice holds a KR in two, Bob owns one without a KR of his, an
    archived KR of Carol's, and a closed-cycle objective where Alice holds a KR too."""
    company = reference_company(session)
    ws, cycle = company.workspace_id, company.cycle.id
    spec = KRSpec("Ship it", KRKind.MILESTONE, 1)
    mixed = create_objective(
        session=session,
        workspace_id=ws,
        cycle_id=cycle,
        owner_id="UBOB",  # Bob owns it; his KR-less ownership does not count
        title="Mixed",
        key_results=[
            KRSpec("Alice's", KRKind.MILESTONE, 1, owner_id="UALICE"),
            KRSpec("Dan's", KRKind.MILESTONE, 1, owner_id="UDAN"),
        ],
    )
    alone = create_objective(
        session=session,
        workspace_id=ws,
        cycle_id=cycle,
        owner_id="UALICE",
        title="Alone",
        parent_id=company.platform.id,
        key_results=[spec],
    )
    carol = create_objective(
        session=session,
        workspace_id=ws,
        cycle_id=cycle,
        owner_id="UCAROL",
        title="Carol's archived KR",
        key_results=[spec],
    )
    for kr in load_tree(session=session, workspace_id=ws, today=MID, editable=True).krs_of(
        carol.id
    ):
        kr.archived_at = utcnow()
        session.add(kr)
    later = create_cycle(
        session=session,
        workspace_id=ws,
        name="H2 2026",
        start_date=date(2026, 7, 6),
        end_date=date(2026, 12, 31),
    )
    elsewhere = create_objective(
        session=session,
        workspace_id=ws,
        cycle_id=later.id,
        owner_id="UALICE",
        title="Next half",
        key_results=[spec],
    )
    session.commit()
    return {
        "mixed": mixed.id,  # type: ignore[dict-item]
        "alone": alone.id,  # type: ignore[dict-item]
        "carol": carol.id,  # type: ignore[dict-item]
        "elsewhere": elsewhere.id,  # type: ignore[dict-item]
        "cycle": cycle,  # type: ignore[dict-item]
        "platform": company.platform.id,  # type: ignore[dict-item]
    }


def test_kr_owner_ids_loads_the_objectives_where_they_hold_a_kr(session: Session) -> None:
    ids = _kr_owners_company(session)
    full = load_tree(session=session, workspace_id="T0REF", today=MID, cycle_ids=[ids["cycle"]])

    def load(owners: list[str]):  # type: ignore[no-untyped-def]
        return load_tree(
            session=session,
            workspace_id="T0REF",
            today=MID,
            cycle_ids=[ids["cycle"]],
            kr_owner_ids=owners,
        )

    alice = load(["UALICE"])
    assert [o.id for o in alice.objectives] == [ids["mixed"], ids["alone"]]
    # Every KR of those objectives, in the full tree's order, with the same health.
    assert [kr.id for kr in alice.key_results] == [
        kr.id for kr in full.key_results if kr.objective_id in (ids["mixed"], ids["alone"])
    ]
    assert {kr.owner_id for kr in alice.key_results} == {"UALICE", "UDAN"}
    for kr in alice.key_results:
        assert alice.health.krs[kr.id] == full.health.krs[kr.id]
    # Its parent is not loaded: the objective stands as a root of the narrowed tree.
    assert ids["platform"] not in {o.id for o in alice.objectives}
    assert [o.id for o in alice.roots] == [ids["mixed"], ids["alone"]]

    assert load(["UBOB"]).objectives == []  # owns an objective, holds no KR
    assert load(["UCAROL"]).objectives == []  # her only KR is archived
    assert load([]).objectives == [] and load([]).key_results == []
    assert {o.id for o in load(["UDAN", "U0CEO"]).objectives} == {
        ids["mixed"],
        ids["platform"],
        *[o.id for o in full.objectives if o.title == "Enhance customer support"],
    }
    # Combined with the cycle filter: without cycle_ids, every open cycle.
    every_cycle = load_tree(
        session=session, workspace_id="T0REF", today=MID, kr_owner_ids=["UALICE"]
    )
    assert [o.id for o in every_cycle.objectives] == [ids["mixed"], ids["alone"], ids["elsewhere"]]


@pytest.mark.parametrize("size", [10, 1000])
def test_kr_owner_ids_takes_a_constant_number_of_statements(
    session: Session, count_statements, size: int
) -> None:
    _seed(session, size)  # objective i and its two KRs belong to U{i % 7}
    session.expunge_all()
    owners = [f"U{i}" for i in range(3)]
    with count_statements() as counter:
        tree = load_tree(
            session=session, workspace_id="T0BIG", today=date(2026, 2, 1), kr_owner_ids=owners
        )
    assert counter.count == 5, counter.statements
    expected = [i for i in range(size) if i % 7 < 3]
    assert sorted(o.title for o in tree.objectives) == sorted(f"Objective {i}" for i in expected)
    assert len(tree.key_results) == 2 * len(expected)
    assert {kr.owner_id for kr in tree.key_results} == set(owners)


def test_a_fresh_objective_is_not_started_and_paced_from_its_creation(session: Session) -> None:
    """Created on Dec 3 in a cycle that began Oct 1: not off track before its first check-in,
    and after it, judged against pace from Dec 3."""
    ensure_workspace(session=session, workspace_id="T0NEW")
    cycle = create_cycle(
        session=session,
        workspace_id="T0NEW",
        name="Q4",
        start_date=date(2026, 10, 1),
        end_date=date(2026, 12, 31),
    )
    created = datetime(2026, 12, 3, 15, tzinfo=UTC)
    objective = create_objective(
        session=session,
        workspace_id="T0NEW",
        cycle_id=cycle.id,
        owner_id="U0NEW",
        title="Fresh",
        key_results=[KRSpec(f"KR {i}", KRKind.INCREASE, 100, start_value=0) for i in range(6)],
        now=created,
    )
    session.commit()
    tree = load_tree(session=session, workspace_id="T0NEW", today=date(2026, 12, 3))
    health = tree.health.objectives[objective.id]
    assert health.status is Status.NOT_STARTED and health.expected == 0.0
    assert {tree.health.krs[kr.id].status for kr in tree.key_results} == {Status.NOT_STARTED}

    first = tree.key_results[0]
    record_check_in(
        session=session,
        workspace_id="T0NEW",
        key_result_id=first.id,
        author_id="U0NEW",
        value=10,
        period_start=date(2026, 12, 7),
        now=datetime(2026, 12, 8, 15, tzinfo=UTC),
    )
    session.commit()
    tree = load_tree(session=session, workspace_id="T0NEW", today=date(2026, 12, 8))
    started = tree.health.krs[first.id]
    # 5 of 28 days since Dec 3: ~18% expected; 10% is 8 points behind, so on track. From
    # Oct 1 (~74% expected) it would be off track.
    assert started.expected == pytest.approx(5 / 28)
    assert started.status is Status.ON_TRACK
    assert tree.health.objectives[objective.id].status is Status.ON_TRACK  # the started KR


@pytest.mark.parametrize(
    ("row_type", "model"), [(ObjectiveRow, Objective), (KeyResultRow, KeyResult)]
)
def test_row_types_name_every_column_of_their_table(row_type: type, model: type) -> None:
    """A read-only tree row is a Row of every column: its type names exactly those (its own
    and those of the core's protocols it extends)."""
    members = {
        name
        for cls in row_type.__mro__
        for name, value in vars(cls).items()
        if isinstance(value, property)
    }
    assert members == {column.name for column in table_of(model).columns}
