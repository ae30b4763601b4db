"""What a trend chart shows, computed from plain values: the points, the pace, the projection.

Pure: no Slack, no database, `today` is a parameter. The drawing (bot/charts) takes these
dataclasses as they are, so a test of the data here is a test of what is plotted.

- A KR's series is its check-ins (date, value), oldest first. Its pace line runs from its
  start value on the pace start to its target on its due date (the cycle's end without one),
  like the expected progress of `bot.okr.pace`. A milestone's values are done (1) or not
  done (0) and its target is done, whatever numbers were stored (its chart has those two rows).
- The projection continues the average rate since the pace start (from the start value to
  the latest reading) to the due date: "where it lands at this rate".
- An objective's series is its KRs' weighted, clamped progress (the roll-up of
  `bot.okr.progress`) after each day with a check-in; its pace runs 0 → 1 over the cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.okr.kinds import KRKind, Status, UnitKind
from bot.okr.pace import expected_progress
from bot.okr.progress import clamp01, raw_progress, weighted_mean


@dataclass(frozen=True)
class Point:
    day: date
    value: float


@dataclass(frozen=True)
class Reading:
    """One stored check-in as the chart needs it (value None: confidence only)."""

    day: date
    value: float | None


@dataclass(frozen=True)
class _Values:
    """A KR at one moment, shaped for `raw_progress` (the Measurable protocol)."""

    kind: KRKind
    start_value: float | None
    target_value: float | None
    current_value: float | None


@dataclass(frozen=True)
class KRTrend:
    title: str
    kind: KRKind
    unit: UnitKind
    unit_label: str | None
    start_value: float
    target_value: float
    pace_start: date
    due: date
    today: date
    points: tuple[Point, ...]  # the check-ins with a value, oldest first
    status: Status
    expected_today: float | None  # the pace line's value today (None: threshold/milestone)
    projected_value: float | None  # at the current rate on the due date (None: can't say)
    projected_grade: float | None  # the projected value's progress, clamped 0..1

    @property
    def has_pace(self) -> bool:
        return self.kind in (KRKind.INCREASE, KRKind.DECREASE)


@dataclass(frozen=True)
class ObjectiveTrend:
    title: str
    start: date
    end: date
    today: date
    points: tuple[Point, ...]  # progress 0..1 after each day with a check-in
    krs: tuple[tuple[str, tuple[Point, ...]], ...]  # each KR's progress 0..1, same days
    status: Status | None
    expected_today: float
    projected: float | None  # progress at the current rate on the cycle's end


@dataclass(frozen=True)
class ObjectiveBar:
    title: str
    progress: float | None  # now
    before: float | None  # at the start of the reported period (None: new since)
    expected: float
    status: Status | None


@dataclass(frozen=True)
class TeamTrend:
    scope: str  # the team's name (user text)
    period: date
    bars: tuple[ObjectiveBar, ...] = field(default_factory=tuple)


def kr_points(readings: Sequence[Reading]) -> tuple[Point, ...]:
    """The check-ins with a value, oldest first; of several on one day the last counts."""
    by_day: dict[date, float] = {}
    for reading in sorted(readings, key=lambda r: r.day):
        if reading.value is not None:
            by_day[reading.day] = reading.value
    return tuple(Point(day, value) for day, value in by_day.items())


def pace_value(
    *, start_value: float, target_value: float, pace_start: date, due: date, on: date
) -> float:
    return start_value + (target_value - start_value) * expected_progress(
        start=pace_start, end=due, today=on
    )


def project(
    *, start_value: float, pace_start: date, latest: Point | None, due: date
) -> float | None:
    """The value on `due` at the average rate from (pace_start, start_value) to `latest`;
    None when there is nothing ahead to project (no reading, or none before `due`)."""
    if latest is None or latest.day <= pace_start or due <= latest.day:
        return None
    rate = (latest.value - start_value) / (latest.day - pace_start).days
    return latest.value + rate * (due - latest.day).days


def _done(value: float) -> float:
    return 1.0 if value >= 1 else 0.0


def kr_trend(
    *,
    title: str,
    kind: KRKind,
    unit: UnitKind,
    unit_label: str | None,
    start_value: float | None,
    target_value: float,
    pace_start: date,
    due: date,
    today: date,
    readings: Sequence[Reading],
    status: Status,
) -> KRTrend:
    points = kr_points(readings)
    start = start_value if start_value is not None else 0.0
    if kind is KRKind.MILESTONE:  # done (1) or not done (0), read as raw_progress reads it
        points = tuple(Point(p.day, _done(p.value)) for p in points)
        start, target_value = _done(start), 1.0
    projected = expected = grade = None
    if kind in (KRKind.INCREASE, KRKind.DECREASE):
        latest = points[-1] if points else None
        projected = project(start_value=start, pace_start=pace_start, latest=latest, due=due)
        expected = pace_value(
            start_value=start, target_value=target_value, pace_start=pace_start, due=due, on=today
        )
    if projected is not None:
        raw = raw_progress(_Values(kind, start, target_value, projected))
        grade = None if raw is None else round(clamp01(raw), 2)
    return KRTrend(
        title=title,
        kind=kind,
        unit=unit,
        unit_label=unit_label,
        start_value=start,
        target_value=target_value,
        pace_start=pace_start,
        due=due,
        today=today,
        points=points,
        status=status,
        expected_today=expected,
        projected_value=projected,
        projected_grade=grade,
    )


@dataclass(frozen=True)
class KRHistory:
    """What an objective's roll-up needs of one KR: its values and readings."""

    title: str
    kind: KRKind
    start_value: float | None
    target_value: float
    weight: float
    readings: Sequence[Reading]


def _as_of(points: tuple[Point, ...], day: date) -> float | None:
    """The value of the latest point on or before `day` (points oldest first)."""
    return next((point.value for point in reversed(points) if point.day <= day), None)


def _progress_on(kr: KRHistory, points: tuple[Point, ...], day: date) -> float:
    """The KR's clamped progress with its latest reading on or before `day` (none: 0)."""
    raw = raw_progress(_Values(kr.kind, kr.start_value, kr.target_value, _as_of(points, day)))
    return 0.0 if raw is None else clamp01(raw)


def objective_trend(
    *,
    title: str,
    start: date,
    end: date,
    today: date,
    krs: Sequence[KRHistory],
    status: Status | None,
) -> ObjectiveTrend:
    series = [kr_points(kr.readings) for kr in krs]
    days = sorted({p.day for points in series for p in points})
    kr_lines = tuple(
        (kr.title, tuple(Point(d, _progress_on(kr, points, d)) for d in days))
        for kr, points in zip(krs, series, strict=True)
    )
    points = []
    for i, day in enumerate(days):
        mean = weighted_mean(
            [(line[i].value, kr.weight) for kr, (_, line) in zip(krs, kr_lines, strict=True)]
        )
        if mean is not None:
            points.append(Point(day, mean))
    latest = points[-1] if points else None
    projected = project(start_value=0.0, pace_start=start, latest=latest, due=end)
    return ObjectiveTrend(
        title=title,
        start=start,
        end=end,
        today=today,
        points=tuple(points),
        krs=kr_lines,
        status=status,
        expected_today=expected_progress(start=start, end=end, today=today),
        projected=None if projected is None else clamp01(projected),
    )


def progress_on(trend: ObjectiveTrend, day: date) -> float | None:
    """The objective's progress as of `day` (its latest point on or before it; none: 0)."""
    value = _as_of(trend.points, day)
    return 0.0 if value is None and trend.krs else value
