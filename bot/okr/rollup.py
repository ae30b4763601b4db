"""Roll-up values that can be stored and stay true as the clock moves.

A stored status would go stale: an objective on track today falls behind pace tomorrow with
no check-in. What does not go stale is *when* it falls behind. For a key result whose values
do not change, its status is a step function of the day: pace only grows with time, so it
moves on track -> at risk -> off track and never back. This module turns the core's answer
(`bot.okr.tree.evaluate_kr`, asked for several days) into those switch days, and an
objective's into the earliest switch among what it rolls up. Storage keeps the days; a reader
asks `status_on(days, today)`.

Not started (bot/okr/pace.py, rule 3) does not move with the clock either: a KR is NOT_STARTED
by pace until its first check-in, and a check-in recomputes what it touches. It is stored as
both switch days set to `NOT_STARTED_DAY`, a day no clock reaches.

No recent data (rule 5) is one more switch day, `stale_on`: the day two check-in periods
after `stale_anchor` (the last check-in; never checked in, the later of creation and the
cycle's start), from which the KR shows NO_RECENT_DATA. The pace days keep counting under it
(a stale KR counts in its objective by pace), so they are searched with staleness switched
off. An objective with started items is stale from the latest `stale_on` of those (all of
them are stale from then on; one never stale: never), whatever its never-started items do
(by pace they rank below every started one, and stale they count as started and stale). An
objective with none is not started by pace, and stale from the earliest `stale_on` of its
never-started items (the first to go quiet is then the only started one).

MIRROR POINT: `kr_status_days` asks the core for a KR's status on chosen days (the core
counts pace from the KR's creation), and `objective_rollup` repeats `objective_health` in
`bot.okr.tree.evaluate_tree` (weighted mean of clamped progress, worst status with
NOT_STARTED lowest; children as one item each when `include_children`). A change to the
pace rule lands in the core; adapt these two functions with it, and tests/okr/test_rollup.py
and tests/storage/test_rollup.py check that stored values equal `evaluate_tree` on generated
trees for every day of a cycle.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from bot.okr.kinds import Status
from bot.okr.pace import DEFAULT_RULES, StatusRules, stale_anchor, stale_from
from bot.okr.progress import weighted_mean
from bot.okr.tree import KRNode, Window, evaluate_kr

ALWAYS = date.min  # a switch day meaning "since before the window opened"
NOT_STARTED_DAY = date.max  # both switch days on it: no check-in yet (NOT_STARTED)


@dataclass(frozen=True)
class StatusDays:
    """From which day the status by pace is at least at risk / off track, and from which
    day it is NO_RECENT_DATA whatever the pace (None: never). `rated` is False when there is
    no status at all (no KRs, no rated children)."""

    rated: bool
    at_risk_on: date | None = None
    off_track_on: date | None = None
    stale_on: date | None = None


UNRATED = StatusDays(rated=False)
NOT_STARTED_DAYS = StatusDays(rated=True, at_risk_on=NOT_STARTED_DAY, off_track_on=NOT_STARTED_DAY)


def not_started(days: StatusDays) -> bool:
    return days.rated and days.at_risk_on == NOT_STARTED_DAY


@dataclass(frozen=True)
class ObjectiveRollup:
    progress: float | None  # as ObjectiveHealth.progress
    days: StatusDays


def status_on(days: StatusDays, today: date) -> Status | None:
    """The status on `today` of something whose switch days are `days`."""
    if days.rated and days.stale_on is not None and days.stale_on <= today:
        return Status.NO_RECENT_DATA
    return pace_on(days, today)


def pace_on(days: StatusDays, today: date) -> Status | None:
    """The status by pace alone (staleness aside) on `today`."""
    if not days.rated:
        return None
    if not_started(days):
        return Status.NOT_STARTED
    if days.off_track_on is not None and days.off_track_on <= today:
        return Status.OFF_TRACK
    if days.at_risk_on is not None and days.at_risk_on <= today:
        return Status.AT_RISK
    return Status.ON_TRACK


def kr_status_days(
    kr: KRNode[Hashable], *, window: Window, rules: StatusRules = DEFAULT_RULES
) -> StatusDays:
    """The days on which this KR's status (as the core computes it) becomes at risk and off
    track. Before the day ahead of the window opens and after its end (the KR's due date or
    the cycle's) expected pace is constant, so only the days between need a search. Before
    its first check-in a KR is not started by pace whatever the day (and stale from two
    periods after its anchor)."""
    stale_on = stale_from(
        stale_anchor(
            last_check_in=kr.last_checkin_at, created=kr.created_at, cycle_start=window.start
        ),
        rules=rules,
    )
    if kr.last_checkin_at is None:
        return replace(NOT_STARTED_DAYS, stale_on=stale_on)
    by_pace = replace(rules, stale_days=None)

    def rank_on(day: date) -> int:
        return evaluate_kr(kr, window=window, today=day, rules=by_pace).status.rank

    lo = window.start - timedelta(days=1)
    hi = max(window.start, window.end, kr.due_date or window.start)
    rank_lo, rank_hi = rank_on(lo), rank_on(hi)

    def first_day(rank: int) -> date | None:
        if rank_lo >= rank:
            return ALWAYS
        if rank_hi < rank:
            return None
        below, at = lo, hi  # rank_on(below) < rank <= rank_on(at)
        while (at - below).days > 1:
            mid = below + timedelta(days=(at - below).days // 2)
            if rank_on(mid) >= rank:
                at = mid
            else:
                below = mid
        return at

    return StatusDays(
        rated=True,
        at_risk_on=first_day(Status.AT_RISK.rank),
        off_track_on=first_day(Status.OFF_TRACK.rank),
        stale_on=stale_on,
    )


def _latest_or_never(days: Sequence[date | None]) -> date | None:
    """The day all of these have switched: the latest; None (never) if one never does."""
    switched = [d for d in days if d is not None]
    return max(switched) if len(switched) == len(days) else None


def _earliest(days: Sequence[date | None]) -> date | None:
    present = [d for d in days if d is not None]
    return min(present) if present else None


def objective_rollup(
    krs: Sequence[tuple[float, float, StatusDays]],
    children: Sequence[tuple[float | None, float, StatusDays]] = (),
) -> ObjectiveRollup:
    """An objective from its KRs' (clamped progress, weight, days) and, when the workspace
    counts aligned children, its children's (progress, objective weight, days)."""
    items = [(progress, weight) for progress, weight, _ in krs]
    rated = [days for _, _, days in krs]
    for progress, weight, days in children:
        if progress is not None:
            items.append((progress, weight))
        if days.rated:
            rated.append(days)
    if not rated:
        return ObjectiveRollup(progress=weighted_mean(items), days=UNRATED)
    # NOT_STARTED ranks lowest: what has started speaks for the objective.
    started = [days for days in rated if not not_started(days)]
    if not started:
        # Stale once the first of its never-started items is (see the module's docstring).
        stale_on = _earliest([d.stale_on for d in rated])
        return ObjectiveRollup(
            progress=weighted_mean(items), days=replace(NOT_STARTED_DAYS, stale_on=stale_on)
        )
    # The worst of several step functions switches on the earliest of their switch days.
    return ObjectiveRollup(
        progress=weighted_mean(items),
        days=StatusDays(
            rated=True,
            at_risk_on=_earliest([d.at_risk_on for d in started]),
            off_track_on=_earliest([d.off_track_on for d in started]),
            stale_on=_latest_or_never([d.stale_on for d in started]),
        ),
    )
