"""Stored roll-up values (switch days) agree with the core on every day of a cycle."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.okr.kinds import KRKind, Status
from bot.okr.pace import StatusRules, stale_anchor, stale_from
from bot.okr.rollup import ALWAYS, StatusDays, kr_status_days, objective_rollup, status_on
from bot.okr.tree import Window, evaluate_kr, evaluate_tree
from tests.okr.fakes import CHECKED_IN, KR, Obj

START = date(2026, 1, 1)


def days_around(window: Window, due: date | None = None, stale: date | None = None) -> list[date]:
    last = max(window.end, due or window.end, stale or window.end)
    return [window.start + timedelta(days=d) for d in range(-3, (last - window.start).days + 4)]


values = st.one_of(st.none(), st.floats(-200, 200, allow_nan=False))
windows = st.builds(
    lambda length, offset: Window(
        START + timedelta(days=offset), START + timedelta(days=offset + length)
    ),
    st.integers(0, 120),
    st.integers(0, 10),
)
rules = st.sampled_from(
    [
        StatusRules(),
        StatusRules(5, 40),
        StatusRules(30, 31, stale_days=28),  # a two-week cadence
        StatusRules(10, 25, stale_days=1),
        StatusRules(stale_days=None),
    ]
)
# Last check-ins from before the cycles to past their ends: stale during, after, or never.
check_ins = st.one_of(
    st.none(),
    st.just(CHECKED_IN),
    st.datetimes(datetime(2025, 12, 1), datetime(2026, 5, 1), timezones=st.just(UTC)),
)


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
        last_checkin_at=draw(check_ins),
    )


@settings(max_examples=300, deadline=None)
@given(kr=key_results(), window=windows, rules=rules)
def test_a_krs_switch_days_give_the_cores_status_on_every_day(
    kr: KR, window: Window, rules: StatusRules
) -> None:
    days = kr_status_days(kr, window=window, rules=rules)
    anchor = stale_anchor(
        last_check_in=kr.last_checkin_at, created=kr.created_at, cycle_start=window.start
    )
    assert days.stale_on == stale_from(anchor, rules=rules)
    for day in days_around(window, kr.due_date, days.stale_on):
        assert (
            status_on(days, day) == evaluate_kr(kr, window=window, today=day, rules=rules).status
        ), day


@st.composite
def never_checked_in(draw, window: Window) -> KR:  # type: ignore[no-untyped-def]
    """A KR with no check-in, written up to 40 days before its cycle starts (planning the
    next quarter) or during it."""
    kr = draw(key_results())
    offset = timedelta(days=draw(st.integers(-40, 60)), hours=draw(st.integers(0, 23)))
    kr.created_at = datetime.combine(window.start, datetime.min.time(), UTC) + offset
    kr.last_checkin_at = None
    return kr


@settings(max_examples=200, deadline=None)
@given(data=st.data(), window=windows, rules=rules)
def test_a_never_checked_in_kr_goes_quiet_two_periods_after_its_anchor(
    data: st.DataObject, window: Window, rules: StatusRules
) -> None:
    """Not started until two check-in periods after the later of its creation and its
    cycle's start, no recent data from then on, and its switch days say so on the days
    around the switch."""
    kr = data.draw(never_checked_in(window))
    assert kr.created_at is not None
    anchor = max(kr.created_at.date(), window.start)
    days = kr_status_days(kr, window=window, rules=rules)
    if rules.stale_days is None:
        assert days.stale_on is None
        switch = window.end
    else:
        switch = anchor + timedelta(days=rules.stale_days)
        assert days.stale_on == switch
    for day in [switch + timedelta(days=k) for k in range(-3, 4)] + days_around(window):
        core = evaluate_kr(kr, window=window, today=day, rules=rules)
        assert status_on(days, day) == core.status, day
        if rules.stale_days is not None and day >= switch:
            assert (core.status, core.pace) == (Status.NO_RECENT_DATA, Status.NOT_STARTED)
        else:
            assert core.status is Status.NOT_STARTED


def test_switch_days_of_a_plain_increase() -> None:
    window = Window(date(2026, 1, 1), date(2026, 1, 11))  # 10 days: 10 points a day
    kr = KR(KRKind.INCREASE, 0, 100, 20)  # 20% done: at risk from 30%, off track from 45%
    days = kr_status_days(kr, window=window)
    assert days == StatusDays(
        rated=True,
        at_risk_on=date(2026, 1, 4),
        off_track_on=date(2026, 1, 6),
        stale_on=date(2026, 1, 15),  # checked in on Jan 1 (CHECKED_IN), weekly cadence
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
    # Some trees have no check-in at all: every objective is not started until its KRs go
    # quiet (two periods after their creation or their cycle's start).
    quiet = draw(st.integers(0, 3)) == 0
    for i in range(1, n + 1):
        for j in range(draw(st.integers(0, 3))):
            kr = draw(key_results())
            kr.id, kr.objective_id = i * 10 + j, i
            if quiet:
                kr.last_checkin_at = None
            krs.append(kr)
    return objectives, krs


@settings(max_examples=150, deadline=None)  # ~170 days of whole-tree roll-ups each
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
    stale_days = {d for r in rolled.values() if (d := r.days.stale_on) is not None}
    around_stale = {d + timedelta(days=k) for d in stale_days for k in (-1, 0, 1)}
    for day in sorted(set(days_around(windows[2], START + timedelta(days=150))) | around_stale):
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


def test_a_krs_stale_day_is_two_periods_after_its_last_check_in() -> None:
    window = Window(date(2026, 1, 1), date(2026, 3, 31))
    kr = KR(KRKind.INCREASE, 0, 100, 90, last_checkin_at=datetime(2026, 1, 5, 23, tzinfo=UTC))
    weekly, biweekly = StatusRules(), StatusRules(stale_days=28)
    assert kr_status_days(kr, window=window, rules=weekly).stale_on == date(2026, 1, 19)
    assert kr_status_days(kr, window=window, rules=biweekly).stale_on == date(2026, 2, 2)
    assert evaluate_kr(kr, window=window, today=date(2026, 1, 18)).status is Status.ON_TRACK
    stale = evaluate_kr(kr, window=window, today=date(2026, 1, 19))
    assert (stale.status, stale.pace) == (Status.NO_RECENT_DATA, Status.ON_TRACK)
    # never checked in: not started until two periods after the later of its creation and
    # its cycle's start, stale from then on
    as_old_as_cycle = KR(KRKind.INCREASE, 0, 100, 0, last_checkin_at=None)
    assert kr_status_days(as_old_as_cycle, window=window) == (
        StatusDays(
            rated=True, at_risk_on=date.max, off_track_on=date.max, stale_on=date(2026, 1, 15)
        )
    )
    planned = KR(  # written in December, while planning: quiet from the cycle's start
        KRKind.INCREASE, 0, 100, 0, created_at=datetime(2025, 12, 3, tzinfo=UTC)
    )
    planned.last_checkin_at = None
    later = KR(KRKind.INCREASE, 0, 100, 0, created_at=datetime(2026, 2, 3, 9, tzinfo=UTC))
    later.last_checkin_at = None
    assert kr_status_days(planned, window=window).stale_on == date(2026, 1, 15)
    assert kr_status_days(later, window=window, rules=biweekly).stale_on == date(2026, 3, 3)
    assert evaluate_kr(planned, window=window, today=date(2026, 1, 14)).status is (
        Status.NOT_STARTED
    )
    quiet = evaluate_kr(planned, window=window, today=date(2026, 1, 15))
    assert (quiet.status, quiet.pace) == (Status.NO_RECENT_DATA, Status.NOT_STARTED)


def test_a_stale_kr_counts_by_pace_and_an_objective_is_stale_only_when_all_are() -> None:
    windows = {1: Window(date(2026, 1, 1), date(2026, 1, 31))}
    old = datetime(2026, 1, 2, tzinfo=UTC)  # stale from Jan 16
    fresh = datetime(2026, 1, 15, tzinfo=UTC)  # stale from Jan 29
    behind = KR(KRKind.INCREASE, 0, 100, 0, id=1, objective_id=1, last_checkin_at=old)
    ahead = KR(KRKind.INCREASE, 0, 100, 100, id=2, objective_id=1, last_checkin_at=fresh)
    objectives = [Obj(1)]

    def status(day: date) -> Status | None:
        tree = evaluate_tree(objectives, [behind, ahead], windows=windows, today=day)
        return tree.objectives[1].status

    # Jan 20: the behind KR is stale but its last value is far behind pace: the objective
    # stays off track (going quiet never turns it green).
    assert status(date(2026, 1, 20)) is Status.OFF_TRACK
    # Jan 29: both stale: no recent data.
    assert status(date(2026, 1, 29)) is Status.NO_RECENT_DATA
    # One fresh KR alone speaks for its objective as before.
    tree = evaluate_tree(objectives, [ahead], windows=windows, today=date(2026, 1, 20))
    assert tree.objectives[1].status is Status.ON_TRACK
    # A not-started KR beside a stale one: stale.
    unstarted = KR(KRKind.INCREASE, 0, 100, 0, id=3, objective_id=1, last_checkin_at=None)
    tree = evaluate_tree(objectives, [behind, unstarted], windows=windows, today=date(2026, 1, 20))
    assert tree.objectives[1].status is Status.NO_RECENT_DATA
