"""Stored roll-up values (switch days) agree with the core on every day of a cycle."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.okr.kinds import KRKind, Status
from bot.okr.pace import StatusRules
from bot.okr.rollup import ALWAYS, StatusDays, kr_status_days, objective_rollup, status_on
from bot.okr.tree import Window, evaluate_kr, evaluate_tree
from tests.okr.fakes import CHECKED_IN, KR, Obj

START = date(2026, 1, 1)


def days_around(window: Window, due: date | None = None) -> list[date]:
    last = max(window.end, due or window.end)
    return [window.start + timedelta(days=d) for d in range(-3, (last - window.start).days + 4)]


values = st.one_of(st.none(), st.floats(-200, 200, allow_nan=False))
windows = st.builds(
    lambda length, offset: Window(
        START + timedelta(days=offset), START + timedelta(days=offset + length)
    ),
    st.integers(0, 120),
    st.integers(0, 10),
)
rules = st.sampled_from([StatusRules(), StatusRules(5, 40), StatusRules(30, 31)])


@st.composite
def key_results(draw) -> KR:  # type: ignore[no-untyped-def]
    return KR(
        kind=draw(st.sampled_from(list(KRKind))),
        start_value=draw(values),
        target_value=draw(st.floats(-200, 200, allow_nan=False)),
        current_value=draw(values),
        confidence=draw(st.one_of(st.none(), st.integers(0, 10))),
        due_date=draw(
            st.one_of(st.none(), st.dates(START - timedelta(days=5), START + timedelta(days=150)))
        ),
        weight=draw(st.floats(0.1, 5)),
        # written before or during the cycle (pace counts from the later of the two), and
        # not started until a first check-in (bot/okr/pace.py)
        created_at=draw(
            st.one_of(
                st.none(),
                st.datetimes(datetime(2025, 12, 20), datetime(2026, 4, 30), timezones=st.just(UTC)),
            )
        ),
        last_checkin_at=draw(st.sampled_from([None, CHECKED_IN, CHECKED_IN])),
    )


@settings(max_examples=300)
@given(kr=key_results(), window=windows, rules=rules)
def test_a_krs_switch_days_give_the_cores_status_on_every_day(
    kr: KR, window: Window, rules: StatusRules
) -> None:
    days = kr_status_days(kr, window=window, rules=rules)
    for day in days_around(window, kr.due_date):
        assert (
            status_on(days, day) == evaluate_kr(kr, window=window, today=day, rules=rules).status
        ), day


def test_switch_days_of_a_plain_increase() -> None:
    window = Window(date(2026, 1, 1), date(2026, 1, 11))  # 10 days: 10 points a day
    kr = KR(KRKind.INCREASE, 0, 100, 20)  # 20% done: at risk from 30%, off track from 45%
    days = kr_status_days(kr, window=window)
    assert days == StatusDays(
        rated=True, at_risk_on=date(2026, 1, 4), off_track_on=date(2026, 1, 6)
    )
    assert kr_status_days(KR(KRKind.AT_LEAST, None, 5, 1), window=window).off_track_on == ALWAYS
    assert kr_status_days(KR(KRKind.INCREASE, 0, 100, 100), window=window).at_risk_on is None


@st.composite
def trees(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 12))
    objectives = []
    for i in range(1, n + 1):
        parent = draw(st.one_of(st.none(), st.integers(1, i - 1))) if i > 1 else None
        objectives.append(
            Obj(
                i,
                parent_id=parent,
                cycle_id=draw(st.sampled_from([1, 2])),
                weight=draw(st.floats(0.5, 3)),
            )
        )
    krs = []
    for i in range(1, n + 1):
        for j in range(draw(st.integers(0, 3))):
            kr = draw(key_results())
            kr.id, kr.objective_id = i * 10 + j, i
            krs.append(kr)
    return objectives, krs


@settings(max_examples=150)
@given(tree=trees(), include_children=st.booleans(), rules=rules)
def test_objective_rollups_equal_evaluate_tree_on_every_day(
    tree, include_children: bool, rules: StatusRules
) -> None:  # type: ignore[no-untyped-def]
    objectives, krs = tree
    windows = {
        1: Window(START, START + timedelta(days=30)),
        2: Window(START + timedelta(days=10), START + timedelta(days=100)),
    }
    krs_of = defaultdict(list)
    for kr in krs:
        krs_of[kr.objective_id].append(kr)
    rolled = {}
    for o in reversed(objectives):  # parents have smaller ids: children first
        window = windows[o.cycle_id]
        own = [
            (
                evaluate_kr(kr, window=window, today=START).progress,
                kr.weight,
                kr_status_days(kr, window=window, rules=rules),
            )
            for kr in krs_of[o.id]
        ]
        kids = (
            [
                (rolled[c.id].progress, c.weight, rolled[c.id].days)
                for c in objectives
                if c.parent_id == o.id
            ]
            if include_children
            else []
        )
        rolled[o.id] = objective_rollup(own, kids)
    for day in days_around(windows[2], START + timedelta(days=150)):
        core = evaluate_tree(
            objectives,
            krs,
            windows=windows,
            today=day,
            include_children=include_children,
            rules=rules,
        )
        for o in objectives:
            assert rolled[o.id].progress == core.objectives[o.id].progress
            assert status_on(rolled[o.id].days, day) == core.objectives[o.id].status, (o.id, day)


def test_an_objective_without_krs_has_no_status() -> None:
    assert status_on(objective_rollup([]).days, START) is None
    assert (
        status_on(objective_rollup([], [(0.5, 1.0, StatusDays(rated=True))]).days, START)
        is Status.ON_TRACK
    )
