"""When to ask: check-in periods, prompt times in each person's timezone, working hours.

Pure: `now` is always a parameter and every datetime is timezone-aware. A period is named
by its start date, the same calendar date for everyone in a workspace; each person is
asked on that date at the configured local time in *their* timezone, so Tokyo and New York
both get it at 10:00 their time, across daylight-saving changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Periods are counted from a fixed Monday so a biweekly cadence has a stable parity.
EPOCH = date(2024, 1, 1)
WORK_START = time(9, 0)
WORK_END = time(18, 0)
WORKDAYS = range(0, 5)  # Monday..Friday


@dataclass(frozen=True)
class Cadence:
    """A workspace's check-in rhythm."""

    weekday: int = 0  # 0 = Monday
    at: time = time(10, 0)
    weeks: int = 1  # 1 = weekly, 2 = every two weeks

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if self.weeks not in (1, 2):
            raise ValueError("cadence is weekly (1) or every two weeks (2)")


def zone(name: str | None, *, fallback: str = "UTC") -> ZoneInfo:
    """The IANA zone, or the fallback for a missing or unknown name (Slack's tz may be null)."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def period_start(day: date, cadence: Cadence) -> date:
    """The start date of the period that contains local `day`."""
    first = EPOCH + timedelta(days=cadence.weekday)
    length = 7 * cadence.weeks
    return first + timedelta(days=((day - first).days // length) * length)


def period_end(start: date, cadence: Cadence) -> date:
    """The first day of the next period (exclusive end)."""
    return start + timedelta(days=7 * cadence.weeks)


def local_datetime(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at wall-clock `at` in `tz`, as UTC.

    A wall time skipped by a spring-forward gap moves forward by the gap (02:30 -> 03:30);
    a repeated one (fall back) means its first occurrence.
    """
    # fold=0 (PEP 495) does both: in a gap it applies the offset from before the switch.
    return datetime.combine(day, at, tzinfo=tz).replace(fold=0).astimezone(UTC)


def prompt_time(start: date, cadence: Cadence, tz: ZoneInfo) -> datetime:
    """When the prompt of the period starting `start` is due for someone in `tz`."""
    return local_datetime(start, cadence.at, tz)


def current_period(now: datetime, cadence: Cadence, tz: ZoneInfo) -> date:
    """The period someone in `tz` is in at `now`."""
    return period_start(now.astimezone(tz).date(), cadence)


def next_prompt(now: datetime, cadence: Cadence, tz: ZoneInfo) -> datetime:
    """The first prompt time strictly after `now` for someone in `tz`."""
    start = current_period(now, cadence, tz)
    due = prompt_time(start, cadence, tz)
    while due <= now:
        start = period_end(start, cadence)
        due = prompt_time(start, cadence, tz)
    return due


def digest_period(day: date, cadence: Cadence) -> date:
    """The check-in period a digest posted on local `day` reports on: the one that day
    closes or falls in (a digest on the check-in weekday reports on the period just ended)."""
    return period_start(day - timedelta(days=1), cadence)


def next_digest(
    now: datetime,
    *,
    weekday: int,
    at: time,
    cadence: Cadence,
    tz: ZoneInfo,
    done: frozenset[date] = frozenset(),
) -> datetime:
    """The first digest time strictly after `now`: `weekday` at `at` in `tz`, skipping days
    whose period already had its digest (`done`; every other week with a 2-week cadence)."""
    day = now.astimezone(tz).date()
    # Start a whole period back: an earlier digest day of the current period has taken it.
    for offset in range(-7 * cadence.weeks, 7 * (cadence.weeks + 1) + 7):
        candidate = day + timedelta(days=offset)
        if candidate.weekday() != weekday:
            continue
        due = local_datetime(candidate, at, tz)
        period = digest_period(candidate, cadence)
        if due > now and period not in done:
            return due
        done = done | {period}  # one digest per period: the first digest day takes it
    raise AssertionError("a digest day comes within the cadence")  # pragma: no cover


def in_working_hours(moment: datetime, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz)
    return local.weekday() in WORKDAYS and WORK_START <= local.time() < WORK_END


def next_working_moment(moment: datetime, tz: ZoneInfo) -> datetime:
    """`moment` if it is within working hours in `tz`, else the start of the next window."""
    if in_working_hours(moment, tz):
        return moment
    day = moment.astimezone(tz).date()
    for offset in range(8):
        candidate = local_datetime(day + timedelta(days=offset), WORK_START, tz)
        if candidate >= moment and in_working_hours(candidate, tz):
            return candidate
    raise AssertionError("a working day comes within a week")  # pragma: no cover


def may_prompt(now: datetime, tz: ZoneInfo, *, configured: datetime | None = None) -> bool:
    """May a prompt reach someone in `tz` at `now`? Only within working hours.

    `configured` is the workspace's prompt time for this period: an admin may choose one
    before 09:00, and that choice opens the window early, on that day only. Whether the
    prompt is due at all is the caller's question; prompts that were missed (the bot was
    down) or sent early by an admin wait for working hours rather than arrive at night.
    """
    local = now.astimezone(tz)
    if local.weekday() not in WORKDAYS or local.time() >= WORK_END:
        return False
    if local.time() >= WORK_START:
        return True
    if configured is None:
        return False
    local_configured = configured.astimezone(tz)
    return local_configured.date() == local.date() and local_configured <= local


def reminder_time(sent_at: datetime, *, delay_hours: int, tz: ZoneInfo) -> datetime:
    """The earliest moment a reminder may go out: after the delay, within working hours."""
    return next_working_moment(sent_at + timedelta(hours=delay_hours), tz)
