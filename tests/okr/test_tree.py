from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.okr.kinds import KRKind, Status
from bot.okr.tree import Window, evaluate_tree
from tests.okr import fakes
from tests.okr.fakes import Obj

WINDOWS = {1: Window(date(2026, 1, 1), date(2026, 3, 31))}
MID = date(2026, 2, 14)
RECENT = datetime(2026, 2, 10, tzinfo=UTC)  # a check-in with news at MID (not stale)


@dataclass
class KR(fakes.KR):
    last_checkin_at: datetime | None = RECENT


def test_mixed_increase_and_decrease_krs_roll_up() -> None:
    objective = Obj(1)
    krs = [
        KR(KRKind.INCREASE, 0, 1_000_000, 500_000, id=1, objective_id=1),  # 0.5
        KR(KRKind.DECREASE, 300, 100, 150, id=2, objective_id=1),  # 0.75
        KR(KRKind.INCREASE, 0, 10, 20, id=3, objective_id=1, weight=2),  # 2.0, capped at 1
    ]
    tree = evaluate_tree([objective], krs, windows=WINDOWS, today=MID)
    assert tree.krs[3].raw_progress == 2.0
    assert tree.objectives[1].progress == pytest.approx((0.5 + 0.75 + 2 * 1.0) / 4)


def test_objective_status_is_the_worst_kr_status() -> None:
    krs = [
        KR(KRKind.INCREASE, 0, 100, 60, id=1, objective_id=1),
        KR(KRKind.AT_LEAST, None, 9, 7, id=2, objective_id=1),  # threshold missed
    ]
    tree = evaluate_tree([Obj(1)], krs, windows=WINDOWS, today=MID)
    assert tree.krs[1].status is Status.ON_TRACK
    assert tree.objectives[1].status is Status.OFF_TRACK


def test_children_are_not_counted_by_default() -> None:
    objectives = [Obj(1), Obj(2, parent_id=1)]
    krs = [
        KR(KRKind.INCREASE, 0, 100, 20, id=1, objective_id=1),
        KR(KRKind.INCREASE, 0, 100, 100, id=2, objective_id=2),
    ]
    off = evaluate_tree(objectives, krs, windows=WINDOWS, today=MID)
    assert off.objectives[1].progress == pytest.approx(0.2)
    assert off.children[1] == [2]
    assert off.roots == [1]
    on = evaluate_tree(objectives, krs, windows=WINDOWS, today=MID, include_children=True)
    assert on.objectives[1].progress == pytest.approx(0.6)


def test_children_roll_up_from_the_leaves_with_their_weights() -> None:
    objectives = [Obj(1), Obj(2, parent_id=1, weight=3), Obj(3, parent_id=2), Obj(4, parent_id=1)]
    krs = [KR(KRKind.INCREASE, 0, 100, 100, id=1, objective_id=3)]
    tree = evaluate_tree(objectives, krs, windows=WINDOWS, today=MID, include_children=True)
    assert tree.objectives[3].progress == 1.0
    assert tree.objectives[2].progress == 1.0  # only via its child
    assert tree.objectives[4].progress is None  # nothing to measure
    assert tree.objectives[1].progress == 1.0  # objective 4 carries no data, so no weight
    assert tree.objectives[4].status is None


def test_subtree_with_absent_parent_becomes_a_root() -> None:
    tree = evaluate_tree([Obj(5, parent_id=99)], [], windows=WINDOWS, today=MID)
    assert tree.roots == [5]


def test_alignment_cycle_is_reported_not_looped() -> None:
    with pytest.raises(ValueError, match="cycle"):
        evaluate_tree([Obj(1, parent_id=2), Obj(2, parent_id=1)], [], windows=WINDOWS, today=MID)


def test_deep_chain_does_not_hit_recursion_limit() -> None:
    objectives = [Obj(i, parent_id=i - 1 if i else None) for i in range(5000)]
    krs = [KR(KRKind.MILESTONE, 0, 1, 1, id=1, objective_id=4999)]
    tree = evaluate_tree(objectives, krs, windows=WINDOWS, today=MID, include_children=True)
    assert tree.objectives[0].progress == 1.0


def test_due_date_shortens_the_pace_window() -> None:
    kr = KR(KRKind.INCREASE, 0, 100, 50, id=1, objective_id=1, due_date=date(2026, 1, 31))
    tree = evaluate_tree([Obj(1)], [kr], windows=WINDOWS, today=MID)
    assert tree.krs[1].expected == 1.0
    assert tree.krs[1].status is Status.OFF_TRACK


values = st.floats(-1e6, 1e6)


@given(
    krs=st.lists(
        st.tuples(values, values, values, st.floats(0.1, 10), st.sampled_from(list(KRKind))),
        min_size=1,
        max_size=8,
    ),
    child_progress=st.lists(st.floats(0, 100), max_size=4),
)
def test_roll_up_lies_between_its_items(krs, child_progress) -> None:
    objectives = [Obj(1)] + [Obj(10 + i, parent_id=1) for i in range(len(child_progress))]
    nodes = [
        KR(kind, start, target, current, id=i, objective_id=1, weight=w)
        for i, (start, target, current, w, kind) in enumerate(krs)
    ] + [
        KR(KRKind.INCREASE, 0, 100, p, id=100 + i, objective_id=10 + i)
        for i, p in enumerate(child_progress)
    ]
    tree = evaluate_tree(objectives, nodes, windows=WINDOWS, today=MID, include_children=True)
    items = [tree.krs[n.id].progress for n in nodes if n.objective_id == 1] + [
        tree.objectives[10 + i].progress for i in range(len(child_progress))
    ]
    assert min(items) <= tree.objectives[1].progress <= max(items)
    assert 0.0 <= tree.objectives[1].progress <= 1.0


def test_a_fresh_objective_is_not_started_and_expected_from_its_creation() -> None:
    # Created Dec 3 in a cycle that began Oct 1, no check-in yet: not off track.
    windows = {1: Window(date(2026, 10, 1), date(2026, 12, 31))}
    created = datetime(2026, 12, 3, 14, tzinfo=UTC)
    krs = [
        KR(
            KRKind.INCREASE,
            0,
            100,
            0,
            id=i,
            objective_id=1,
            created_at=created,
            last_checkin_at=None,
        )
        for i in range(1, 7)
    ]
    tree = evaluate_tree(
        [Obj(1, created_at=created)], krs, windows=windows, today=date(2026, 12, 3)
    )
    assert all(tree.krs[i].status is Status.NOT_STARTED for i in range(1, 7))
    assert tree.objectives[1].status is Status.NOT_STARTED
    assert tree.objectives[1].expected == 0.0
    assert all(tree.krs[i].expected == 0.0 for i in range(1, 7))


def test_objective_with_some_krs_started_takes_the_started_ones_status() -> None:
    # KR 1 was set on Feb 5 and has no check-in yet: not started at MID (not quiet before
    # Feb 19, two periods on).
    set_on = datetime(2026, 2, 5, tzinfo=UTC)
    krs = [
        KR(KRKind.INCREASE, 0, 100, 0, 1, 1, created_at=set_on, last_checkin_at=None),
        KR(KRKind.INCREASE, 0, 100, 60, id=2, objective_id=1),
    ]
    tree = evaluate_tree([Obj(1)], krs, windows=WINDOWS, today=MID)
    assert tree.krs[1].status is Status.NOT_STARTED
    assert tree.objectives[1].status is Status.ON_TRACK
    behind = [*krs[:1], KR(KRKind.INCREASE, 0, 100, 5, id=2, objective_id=1)]
    tree = evaluate_tree([Obj(1)], behind, windows=WINDOWS, today=MID)
    assert tree.objectives[1].status is Status.OFF_TRACK
    # Quiet (no check-in two periods after it was set) it still leaves the objective to the
    # started KR: by pace it is not started, below every started status.
    quiet = [KR(KRKind.INCREASE, 0, 100, 0, 1, 1, last_checkin_at=None), krs[1]]
    tree = evaluate_tree([Obj(1)], quiet, windows=WINDOWS, today=MID)
    assert (tree.krs[1].status, tree.krs[1].pace) == (Status.NO_RECENT_DATA, Status.NOT_STARTED)
    assert tree.objectives[1].status is Status.ON_TRACK


def test_a_kr_added_late_is_paced_from_its_own_creation() -> None:
    # The objective is old and checked in; a KR added on Feb 10 is 8% through by Feb 14.
    kr = KR(
        KRKind.INCREASE,
        0,
        100,
        0,
        id=1,
        objective_id=1,
        created_at=datetime(2026, 2, 10, tzinfo=UTC),
    )
    tree = evaluate_tree([Obj(1)], [kr], windows=WINDOWS, today=MID)
    assert tree.krs[1].expected == pytest.approx(4 / 49)
    assert tree.krs[1].status is Status.ON_TRACK  # from the cycle's start it would be off track
