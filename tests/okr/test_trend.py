"""Chart data from plain values: points, pace, projection, the objective's roll-up."""

from __future__ import annotations

from datetime import date

import pytest

from bot.okr.kinds import KRKind, Status, UnitKind
from bot.okr.trend import (
    KRHistory,
    Point,
    Reading,
    kr_points,
    kr_trend,
    objective_trend,
    pace_value,
    progress_on,
    project,
)

START, DUE = date(2026, 1, 1), date(2026, 4, 1)  # 90 days


def test_points_are_the_check_ins_with_a_value_oldest_first() -> None:
    readings = [
        Reading(date(2026, 1, 20), 30),
        Reading(date(2026, 1, 10), 10),
        Reading(date(2026, 1, 15), None),  # confidence only: nothing to plot
        Reading(date(2026, 1, 20), 35),  # the same day again: the later one counts
    ]
    assert kr_points(readings) == (Point(date(2026, 1, 10), 10), Point(date(2026, 1, 20), 35))


def test_pace_runs_from_start_to_target_over_the_window() -> None:
    on = date(2026, 2, 15)  # 45 of 90 days
    assert pace_value(start_value=100, target_value=300, pace_start=START, due=DUE, on=on) == 200
    assert pace_value(start_value=100, target_value=300, pace_start=START, due=DUE, on=DUE) == 300
    assert pace_value(start_value=250, target_value=100, pace_start=START, due=DUE, on=on) == 175


def test_projection_continues_the_average_rate_to_the_due_date() -> None:
    latest = Point(date(2026, 1, 31), 40)  # +40 in 30 days; 60 days to go
    assert project(start_value=0, pace_start=START, latest=latest, due=DUE) == pytest.approx(120)
    assert project(start_value=0, pace_start=START, latest=None, due=DUE) is None
    # Checked in on or after the due date: nothing is ahead, so no projection (a chart would
    # draw it backwards, from the late check-in to the due date).
    for late in (Point(DUE, 90), Point(date(2026, 4, 3), 90)):
        assert project(start_value=0, pace_start=START, latest=late, due=DUE) is None


def test_kr_trend_projects_value_and_grade() -> None:
    trend = kr_trend(
        title="Cut latency",
        kind=KRKind.DECREASE,
        unit=UnitKind.DURATION,
        unit_label="ms",
        start_value=250,
        target_value=100,
        pace_start=START,
        due=DUE,
        today=date(2026, 1, 31),
        readings=[Reading(date(2026, 1, 31), 220)],
        status=Status.AT_RISK,
    )
    assert trend.projected_value == pytest.approx(160)  # -30 in 30 days, 60 more days
    assert trend.projected_grade == pytest.approx(0.6)  # (250-160)/(250-100)
    assert trend.expected_today == pytest.approx(250 - 150 * 30 / 90)


def test_thresholds_and_milestones_have_no_pace_or_projection() -> None:
    for kind in (KRKind.AT_LEAST, KRKind.MILESTONE):
        trend = kr_trend(
            title="x",
            kind=kind,
            unit=UnitKind.NUMBER,
            unit_label=None,
            start_value=None,
            target_value=1,
            pace_start=START,
            due=DUE,
            today=date(2026, 2, 1),
            readings=[Reading(date(2026, 1, 20), 1)],
            status=Status.ON_TRACK,
        )
        assert not trend.has_pace and trend.projected_value is None
        assert trend.expected_today is None and trend.points == (Point(date(2026, 1, 20), 1),)


def test_objective_rolls_up_weighted_clamped_progress_per_check_in_day() -> None:
    krs = [
        KRHistory(
            "a",
            KRKind.INCREASE,
            0,
            100,
            1,
            [Reading(date(2026, 1, 10), 50), Reading(date(2026, 1, 20), 150)],
        ),
        KRHistory("b", KRKind.MILESTONE, 0, 1, 3, [Reading(date(2026, 1, 15), 1)]),
    ]
    trend = objective_trend(
        title="o", start=START, end=DUE, today=date(2026, 1, 31), krs=krs, status=Status.ON_TRACK
    )
    # Jan 10: a 50%, b 0 -> 0.125; Jan 15: b done -> (0.5 + 3) / 4; Jan 20: a clamped to 1 -> 1.
    assert trend.points == (
        Point(date(2026, 1, 10), 0.125),
        Point(date(2026, 1, 15), 0.875),
        Point(date(2026, 1, 20), 1.0),
    )
    assert [p.value for p in trend.krs[0][1]] == [0.5, 0.5, 1.0]
    assert trend.expected_today == pytest.approx(30 / 90)
    assert progress_on(trend, date(2026, 1, 16)) == 0.875
    assert progress_on(trend, date(2026, 1, 1)) == 0.0
