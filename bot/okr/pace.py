"""Expected progress over time and the not-started / on-track / at-risk / off-track status.

The rule, in one place (storage's SQL roll-up of status mirrors it; change both together):

1. Pace starts when the work does. An objective's or KR's pace window starts on the later of
   its cycle's start and the day it was created (`pace_start`): an objective created on
   Dec 3 in a cycle that began Oct 1 is expected at 0% on Dec 3, not at 70%. A KR's window
   ends on its due date when that falls after the cycle's start, else on the cycle's end.
2. Expected progress is linear over that window (`expected_progress`), 0..1.
3. Before its first check-in a KR is NOT_STARTED, whatever its values (`status_of` with
   `started=False`): neutral, not a colour that says failing. From the first check-in on,
   its status compares progress with pace (`pace_status`), thresholds and milestones by
   their own rules, and a low confidence worsens it one step.
4. An objective takes the worst status of its KRs (and of its children when the workspace
   counts them), NOT_STARTED ranking below ON_TRACK: it is NOT_STARTED only while nothing
   under it has started, and one started KR speaks for it (`Status.worst`).
5. No news is not good news. A KR with no check-in for two check-in periods (the
   workspace's cadence: 14 days weekly, 28 every two weeks; `StatusRules.stale_days`) is
   NO_RECENT_DATA from the day `stale_from` gives, whatever its pace says: its colour would
   be an old value read against today's pace. The periods count from `stale_anchor`: the
   last check-in, or for a KR never checked in the later of its creation and its cycle's
   start (a KR written while planning next quarter does not go quiet before the quarter
   starts); such a KR is NOT_STARTED (rule 3) until then. In an objective's roll-up a stale
   KR (or child) still counts by its pace status, its last value against today's pace (a
   never-started one as NOT_STARTED), so going quiet never turns an objective green; the
   objective itself is NO_RECENT_DATA only when every started KR (or child) under it is
   stale (`objective_status`). Its progress number is unchanged: the last values still
   count. Status, the stored roll-up and alignment health all use this one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.okr.kinds import KRKind, Status
from bot.okr.progress import clamp01

STALE_PERIODS = 2  # check-in periods without a check-in before a KR has no recent data


@dataclass(frozen=True)
class StatusRules:
    """Workspace-tunable thresholds. Defaults follow the common convention."""

    at_risk_points: float = 10.0  # at risk when this many points behind pace
    off_track_points: float = 25.0  # off track when this many points behind pace
    low_confidence: int = 3  # a confidence at or below this worsens the status one step
    # no check-in for this many days: no recent data (rule 5); None: never stale
    stale_days: int | None = STALE_PERIODS * 7

    def __post_init__(self) -> None:
        if not 0 < self.at_risk_points < self.off_track_points <= 100:
            raise ValueError("need 0 < at_risk_points < off_track_points <= 100")
        if self.stale_days is not None and self.stale_days < 1:
            raise ValueError("stale_days is at least 1")

    @classmethod
    def for_workspace(
        cls, *, at_risk_points: float, off_track_points: float, cadence_weeks: int
    ) -> StatusRules:
        """A workspace's rules: its thresholds, and stale after two of its check-in periods."""
        return cls(
            at_risk_points=at_risk_points,
            off_track_points=off_track_points,
            stale_days=STALE_PERIODS * 7 * cadence_weeks,
        )


DEFAULT_RULES = StatusRules()


def pace_start(*, cycle_start: date, created: date | datetime | None) -> date:
    """The first day of expected pace: the cycle's start, or the day the objective or KR was
    created when that is later (an aware datetime counts by its UTC date). None: as old as
    the cycle."""
    if created is None:
        return cycle_start
    return max(_day(created), cycle_start)


def _day(moment: date | datetime) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def stale_anchor(
    *,
    last_check_in: date | datetime | None,
    created: date | datetime | None,
    cycle_start: date,
) -> date:
    """The day a KR's silence counts from (rule 5; an aware datetime counts by its UTC date):
    its last check-in; never checked in, the later of its creation and its cycle's start
    (`pace_start`). The one anchor of status, the stored roll-up and alignment health."""
    if last_check_in is not None:
        return _day(last_check_in)
    return pace_start(cycle_start=cycle_start, created=created)


def stale_from(anchor: date, *, rules: StatusRules = DEFAULT_RULES) -> date | None:
    """The first day a KR whose silence counts from `anchor` (`stale_anchor`) has no recent
    data. None: never (the rules set no limit)."""
    if rules.stale_days is None:
        return None
    return anchor + timedelta(days=rules.stale_days)


def is_stale(anchor: date, *, today: date, rules: StatusRules = DEFAULT_RULES) -> bool:
    """Whether a KR whose silence counts from `anchor` has no recent data on `today`."""
    day = stale_from(anchor, rules=rules)
    return day is not None and day <= today


def expected_progress(*, start: date, end: date, today: date) -> float:
    """Linear pace: 0 on the start day, 1 on the end day (inclusive window)."""
    if end <= start:
        return 1.0 if today >= end else 0.0
    elapsed = (today - start).days
    total = (end - start).days
    return min(max(elapsed / total, 0.0), 1.0)


def pace_status(*, actual: float, expected: float, rules: StatusRules = DEFAULT_RULES) -> Status:
    # Rounded so that exactly 10 points behind (0.5 vs 0.4) is not 9.999... in binary floats.
    behind_points = round((expected - actual) * 100, 6)
    if behind_points >= rules.off_track_points:
        return Status.OFF_TRACK
    if behind_points >= rules.at_risk_points:
        return Status.AT_RISK
    return Status.ON_TRACK


def _worsen(status: Status) -> Status:
    return Status.OFF_TRACK if status is not Status.ON_TRACK else Status.AT_RISK


def status_of(
    kind: KRKind,
    *,
    raw: float | None,
    expected: float,
    confidence: int | None,
    started: bool,
    stale: bool = False,
    rules: StatusRules = DEFAULT_RULES,
) -> Status:
    """One KR's status from its unclamped progress (`raw_progress`) and the expected progress
    of its window, from its pace start (`pace_start`) to the cycle's end or its due date.
    `started`: the KR has had a check-in; before that it is NOT_STARTED (rule 3 above).
    `stale`: its last check-in is two periods old, or never checked in two periods after its
    anchor (`is_stale`): NO_RECENT_DATA (rule 5)."""
    if stale:
        return Status.NO_RECENT_DATA
    if not started:
        return Status.NOT_STARTED
    done = raw is not None and raw >= 1
    if kind.is_threshold:
        # A threshold either holds now or it does not; with no reading yet it is unknown.
        status = Status.AT_RISK if raw is None else Status.ON_TRACK if done else Status.OFF_TRACK
    elif kind is KRKind.MILESTONE:
        # Binary: fine until the last quarter of the window, then at risk, off track when late.
        status = (
            Status.ON_TRACK
            if done or expected < 0.75
            else Status.AT_RISK
            if expected < 1
            else Status.OFF_TRACK
        )
    else:
        actual = 0.0 if raw is None else clamp01(raw)
        status = pace_status(actual=actual, expected=expected, rules=rules)
    if confidence is not None and confidence <= rules.low_confidence and not done:
        status = _worsen(status)
    return status


def objective_status(items: list[tuple[Status, Status]]) -> tuple[Status | None, Status | None]:
    """An objective's (status, pace status) from its items' (KRs', and children's when
    counted): each item's (status, status by pace alone). Rule 4 with rule 5; the pace status
    is what the objective shows once one of its items has news again. None: nothing to rate."""
    if not items:
        return None, None
    started = [(status, pace) for status, pace in items if status is not Status.NOT_STARTED]
    if not started:
        return Status.NOT_STARTED, Status.NOT_STARTED
    pace = Status.worst([pace for _, pace in started])
    if all(status is Status.NO_RECENT_DATA for status, _ in started):
        return Status.NO_RECENT_DATA, pace
    return pace, pace
