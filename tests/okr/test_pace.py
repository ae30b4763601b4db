from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.okr.kinds import KRKind, Status
from bot.okr.pace import (
    DEFAULT_RULES,
    StatusRules,
    expected_progress,
    pace_start,
    pace_status,
    status_of,
)
from bot.okr.progress import Measurable, raw_progress
from tests.okr.fakes import KR

Q1 = {"window_start": date(2026, 1, 1), "window_end": date(2026, 3, 31)}  # 89 days


def kr_status(
    kr: Measurable,
    *,
    started: bool,
    confidence: int | None,
    window_start: date,
    window_end: date,
    today: date,
    rules: StatusRules = DEFAULT_RULES,
) -> Status:
    """One KR's status, as a roll-up computes it: its progress against its window's pace."""
    return status_of(
        KRKind(kr.kind),
        raw=raw_progress(kr),
        expected=expected_progress(start=window_start, end=window_end, today=today),
        confidence=confidence,
        started=started,
        rules=rules,
    )


def test_expected_progress_is_linear_and_bounded() -> None:
    start, end = date(2026, 1, 1), date(2026, 1, 11)
    assert expected_progress(start=start, end=end, today=date(2025, 12, 1)) == 0.0
    assert expected_progress(start=start, end=end, today=start) == 0.0
    assert expected_progress(start=start, end=end, today=date(2026, 1, 6)) == 0.5
    assert expected_progress(start=start, end=end, today=end) == 1.0
    assert expected_progress(start=start, end=end, today=date(2027, 1, 1)) == 1.0


def test_degenerate_window_does_not_divide_by_zero() -> None:
    day = date(2026, 1, 1)
    assert expected_progress(start=day, end=day, today=day) == 1.0
    assert expected_progress(start=day, end=day, today=date(2025, 12, 31)) == 0.0


@pytest.mark.parametrize(
    ("actual", "expected", "status"),
    [
        (0.50, 0.50, Status.ON_TRACK),
        (0.41, 0.50, Status.ON_TRACK),  # 9 points behind
        (0.40, 0.50, Status.AT_RISK),  # 10 points behind
        (0.26, 0.50, Status.AT_RISK),
        (0.25, 0.50, Status.OFF_TRACK),  # 25 points behind
        (0.90, 0.50, Status.ON_TRACK),  # ahead is fine
    ],
)
def test_pace_status_thresholds(actual, expected, status) -> None:
    assert pace_status(actual=actual, expected=expected) is status


def test_custom_thresholds_and_their_validation() -> None:
    rules = StatusRules(at_risk_points=5, off_track_points=15)
    assert pace_status(actual=0.44, expected=0.5, rules=rules) is Status.AT_RISK
    with pytest.raises(ValueError):
        StatusRules(at_risk_points=30, off_track_points=20)


def test_increase_kr_status_follows_pace() -> None:
    mid = date(2026, 2, 14)  # ~50% through Q1
    assert kr_status(
        KR(KRKind.INCREASE, 0, 100, 50), started=True, confidence=None, today=mid, **Q1
    ) is (Status.ON_TRACK)
    assert kr_status(
        KR(KRKind.INCREASE, 0, 100, 35), started=True, confidence=None, today=mid, **Q1
    ) is (Status.AT_RISK)
    assert kr_status(
        KR(KRKind.DECREASE, 300, 100, 290), started=True, confidence=None, today=mid, **Q1
    ) is (Status.OFF_TRACK)


def test_no_check_in_is_on_track_only_early_in_the_cycle() -> None:
    kr = KR(KRKind.INCREASE, 0, 100, None)
    assert (
        kr_status(kr, started=True, confidence=None, today=date(2026, 1, 3), **Q1)
        is Status.ON_TRACK
    )
    assert (
        kr_status(kr, started=True, confidence=None, today=date(2026, 3, 1), **Q1)
        is Status.OFF_TRACK
    )


def test_low_confidence_worsens_status_one_step() -> None:
    kr = KR(KRKind.INCREASE, 0, 100, 50)
    mid = date(2026, 2, 14)
    assert kr_status(kr, started=True, confidence=3, today=mid, **Q1) is Status.AT_RISK
    assert kr_status(kr, started=True, confidence=4, today=mid, **Q1) is Status.ON_TRACK
    behind = KR(KRKind.INCREASE, 0, 100, 35)
    assert kr_status(behind, started=True, confidence=1, today=mid, **Q1) is Status.OFF_TRACK
    done = KR(KRKind.INCREASE, 0, 100, 100)
    assert kr_status(done, started=True, confidence=0, today=mid, **Q1) is Status.ON_TRACK


def test_threshold_status_is_whether_it_holds_now() -> None:
    mid = date(2026, 2, 14)
    assert kr_status(
        KR(KRKind.AT_LEAST, None, 9, 9.2), started=True, confidence=None, today=mid, **Q1
    ) is (Status.ON_TRACK)
    assert kr_status(
        KR(KRKind.AT_MOST, None, 100, 140), started=True, confidence=None, today=mid, **Q1
    ) is (Status.OFF_TRACK)
    assert kr_status(
        KR(KRKind.AT_MOST, None, 100, None), started=True, confidence=None, today=mid, **Q1
    ) is (Status.AT_RISK)


def test_milestone_is_at_risk_late_and_off_track_when_overdue() -> None:
    todo = KR(KRKind.MILESTONE, 0, 1, 0)
    assert (
        kr_status(todo, started=True, confidence=None, today=date(2026, 2, 1), **Q1)
        is Status.ON_TRACK
    )
    assert (
        kr_status(todo, started=True, confidence=None, today=date(2026, 3, 20), **Q1)
        is Status.AT_RISK
    )
    assert (
        kr_status(todo, started=True, confidence=None, today=date(2026, 4, 2), **Q1)
        is Status.OFF_TRACK
    )
    done = KR(KRKind.MILESTONE, 0, 1, 1)
    assert (
        kr_status(done, started=True, confidence=None, today=date(2026, 4, 2), **Q1)
        is Status.ON_TRACK
    )


def test_pace_starts_when_the_work_was_created_not_when_the_cycle_began() -> None:
    # The case: created Dec 3 in a cycle that began Oct 1.
    cycle_start, cycle_end = date(2026, 10, 1), date(2026, 12, 31)
    start = pace_start(cycle_start=cycle_start, created=datetime(2026, 12, 3, 9, tzinfo=UTC))
    assert start == date(2026, 12, 3)
    assert expected_progress(start=start, end=cycle_end, today=date(2026, 12, 3)) == 0.0
    # From the cycle's start it would already be expected at 70%.
    assert expected_progress(start=cycle_start, end=cycle_end, today=date(2026, 12, 3)) > 0.6


def test_pace_start_is_never_before_the_cycle() -> None:
    cycle_start = date(2026, 10, 1)
    assert pace_start(cycle_start=cycle_start, created=date(2026, 9, 20)) == cycle_start
    assert pace_start(cycle_start=cycle_start, created=None) == cycle_start


@given(
    cycle_start=st.dates(date(2020, 1, 1), date(2030, 1, 1)),
    created_offset=st.integers(-200, 200),
    length=st.integers(1, 400),
    today_offset=st.integers(-50, 500),
)
def test_pace_from_creation_never_expects_more_than_from_the_cycle(
    cycle_start: date, created_offset: int, length: int, today_offset: int
) -> None:
    end = cycle_start + timedelta(days=length)
    start = pace_start(cycle_start=cycle_start, created=cycle_start + timedelta(created_offset))
    today = cycle_start + timedelta(today_offset)
    from_creation = expected_progress(start=start, end=end, today=today)
    assert 0.0 <= from_creation <= 1.0
    assert from_creation <= expected_progress(start=cycle_start, end=end, today=today)
    if today <= start < end:
        assert from_creation == 0.0  # nothing is expected on (or before) the day it began


@given(
    kind=st.sampled_from(list(KRKind)),
    current=st.one_of(st.none(), st.floats(-1e6, 1e6)),
    confidence=st.one_of(st.none(), st.integers(0, 10)),
    today=st.dates(date(2025, 1, 1), date(2027, 1, 1)),
)
def test_a_kr_never_checked_in_is_not_started_whatever_its_values(
    kind: KRKind, current: float | None, confidence: int | None, today: date
) -> None:
    kr = KR(kind, 0, 100, current)
    status = kr_status(kr, started=False, confidence=confidence, today=today, **Q1)
    assert status is Status.NOT_STARTED


def test_not_started_is_the_least_news_in_a_roll_up() -> None:
    assert Status.worst([Status.NOT_STARTED, Status.NOT_STARTED]) is Status.NOT_STARTED
    assert Status.worst([Status.NOT_STARTED, Status.ON_TRACK]) is Status.ON_TRACK
    assert Status.worst([Status.OFF_TRACK, Status.NOT_STARTED]) is Status.OFF_TRACK
    assert Status.NOT_STARTED.label == "not started"
