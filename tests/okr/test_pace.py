from __future__ import annotations

from datetime import date

import pytest

from bot.okr.kinds import KRKind, Status
from bot.okr.pace import StatusRules, expected_progress, kr_status, pace_status
from tests.okr.fakes import KR

Q1 = {"window_start": date(2026, 1, 1), "window_end": date(2026, 3, 31)}  # 89 days


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
    assert kr_status(KR(KRKind.INCREASE, 0, 100, 50), confidence=None, today=mid, **Q1) is (
        Status.ON_TRACK
    )
    assert kr_status(KR(KRKind.INCREASE, 0, 100, 35), confidence=None, today=mid, **Q1) is (
        Status.AT_RISK
    )
    assert kr_status(KR(KRKind.DECREASE, 300, 100, 290), confidence=None, today=mid, **Q1) is (
        Status.OFF_TRACK
    )


def test_no_check_in_is_on_track_only_early_in_the_cycle() -> None:
    kr = KR(KRKind.INCREASE, 0, 100, None)
    assert kr_status(kr, confidence=None, today=date(2026, 1, 3), **Q1) is Status.ON_TRACK
    assert kr_status(kr, confidence=None, today=date(2026, 3, 1), **Q1) is Status.OFF_TRACK


def test_low_confidence_worsens_status_one_step() -> None:
    kr = KR(KRKind.INCREASE, 0, 100, 50)
    mid = date(2026, 2, 14)
    assert kr_status(kr, confidence=3, today=mid, **Q1) is Status.AT_RISK
    assert kr_status(kr, confidence=4, today=mid, **Q1) is Status.ON_TRACK
    behind = KR(KRKind.INCREASE, 0, 100, 35)
    assert kr_status(behind, confidence=1, today=mid, **Q1) is Status.OFF_TRACK
    done = KR(KRKind.INCREASE, 0, 100, 100)
    assert kr_status(done, confidence=0, today=mid, **Q1) is Status.ON_TRACK


def test_threshold_status_is_whether_it_holds_now() -> None:
    mid = date(2026, 2, 14)
    assert kr_status(KR(KRKind.AT_LEAST, None, 9, 9.2), confidence=None, today=mid, **Q1) is (
        Status.ON_TRACK
    )
    assert kr_status(KR(KRKind.AT_MOST, None, 100, 140), confidence=None, today=mid, **Q1) is (
        Status.OFF_TRACK
    )
    assert kr_status(KR(KRKind.AT_MOST, None, 100, None), confidence=None, today=mid, **Q1) is (
        Status.AT_RISK
    )


def test_milestone_is_at_risk_late_and_off_track_when_overdue() -> None:
    todo = KR(KRKind.MILESTONE, 0, 1, 0)
    assert kr_status(todo, confidence=None, today=date(2026, 2, 1), **Q1) is Status.ON_TRACK
    assert kr_status(todo, confidence=None, today=date(2026, 3, 20), **Q1) is Status.AT_RISK
    assert kr_status(todo, confidence=None, today=date(2026, 4, 2), **Q1) is Status.OFF_TRACK
    done = KR(KRKind.MILESTONE, 0, 1, 1)
    assert kr_status(done, confidence=None, today=date(2026, 4, 2), **Q1) is Status.ON_TRACK
