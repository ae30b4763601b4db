"""Check-in timing: periods, local prompt times across DST, working hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.okr.schedule import (
    Cadence,
    current_period,
    digest_period,
    in_working_hours,
    local_datetime,
    may_prompt,
    next_digest,
    next_prompt,
    next_working_moment,
    period_start,
    prompt_time,
    reminder_time,
    zone,
)

NY, TOKYO, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/Berlin")
WEEKLY = Cadence()  # Monday 10:00


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekly_periods_start_on_the_configured_weekday() -> None:
    assert period_start(date(2026, 3, 11), WEEKLY) == date(2026, 3, 9)  # Wed -> Mon
    assert period_start(date(2026, 3, 9), WEEKLY) == date(2026, 3, 9)
    assert period_start(date(2026, 3, 8), WEEKLY) == date(2026, 3, 2)  # Sunday
    thursday = Cadence(weekday=3)
    assert period_start(date(2026, 3, 11), thursday) == date(2026, 3, 5)


def test_biweekly_periods_alternate_with_a_stable_parity() -> None:
    biweekly = Cadence(weeks=2)
    starts = sorted(
        {period_start(date(2026, 3, 9) + timedelta(days=d), biweekly) for d in range(42)}
    )
    assert starts == [date(2026, 3, 9), date(2026, 3, 23), date(2026, 4, 6)]
    # Every other Monday starts a period; the Monday between belongs to the one before.
    assert period_start(date(2026, 3, 16), biweekly) == date(2026, 3, 9)
    assert period_start(date(2026, 3, 22), biweekly) == date(2026, 3, 9)


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 1, 1)),
    st.integers(0, 6),
    st.sampled_from([1, 2]),
)
def test_a_day_lies_in_exactly_one_period(day: date, weekday: int, weeks: int) -> None:
    cadence = Cadence(weekday=weekday, weeks=weeks)
    start = period_start(day, cadence)
    assert start.weekday() == weekday
    assert start <= day < start + timedelta(days=7 * weeks)
    assert period_start(start, cadence) == start


def test_tokyo_and_new_york_are_both_asked_at_ten_their_time() -> None:
    monday = date(2026, 11, 23)
    assert prompt_time(monday, WEEKLY, TOKYO) == utc(2026, 11, 23, 1, 0)
    assert prompt_time(monday, WEEKLY, NY) == utc(2026, 11, 23, 15, 0)
    for tz in (TOKYO, NY, BERLIN):
        assert prompt_time(monday, WEEKLY, tz).astimezone(tz).time() == time(10, 0)


@pytest.mark.parametrize(
    ("monday", "utc_hour"),
    [
        (date(2026, 3, 2), 15),  # EST, before the switch on Sunday March 8
        (date(2026, 3, 9), 14),  # EDT, the day after
        (date(2026, 10, 26), 14),  # EDT
        (date(2026, 11, 2), 15),  # EST, the day after falling back on November 1
    ],
)
def test_new_york_prompt_stays_at_ten_across_dst(monday: date, utc_hour: int) -> None:
    assert prompt_time(monday, WEEKLY, NY) == utc(monday.year, monday.month, monday.day, utc_hour)


def test_next_prompt_across_the_march_switch_is_one_week_minus_an_hour() -> None:
    first = prompt_time(date(2026, 3, 2), WEEKLY, NY)
    following = next_prompt(first, WEEKLY, NY)
    assert following - first == timedelta(days=7, hours=-1)
    assert following.astimezone(NY).time() == time(10, 0)
    assert next_prompt(first - timedelta(seconds=1), WEEKLY, NY) == first


def test_wall_times_in_dst_gaps_and_overlaps() -> None:
    # 02:30 on 2026-03-08 does not exist in New York: it moves forward by the gap.
    assert local_datetime(date(2026, 3, 8), time(2, 30), NY) == utc(2026, 3, 8, 7, 30)
    # 01:30 on 2026-11-01 happens twice: the first (EDT) one is meant.
    assert local_datetime(date(2026, 11, 1), time(1, 30), NY) == utc(2026, 11, 1, 5, 30)


def test_current_period_uses_the_local_date() -> None:
    # Monday 00:30 in Tokyo is still Sunday in UTC: Tokyo is already in the new period.
    moment = utc(2026, 11, 22, 15, 30)
    assert current_period(moment, WEEKLY, TOKYO) == date(2026, 11, 23)
    assert current_period(moment, WEEKLY, NY) == date(2026, 11, 16)


def test_working_hours_are_weekdays_nine_to_six_local() -> None:
    assert in_working_hours(utc(2026, 11, 24, 14, 0), NY)  # Tue 09:00 EST
    assert not in_working_hours(utc(2026, 11, 24, 13, 59), NY)
    assert not in_working_hours(utc(2026, 11, 24, 23, 0), NY)  # 18:00
    assert not in_working_hours(utc(2026, 11, 28, 15, 0), NY)  # Saturday


def test_next_working_moment_skips_nights_and_weekends() -> None:
    friday_evening = utc(2026, 11, 27, 23, 30)  # Fri 18:30 EST
    assert next_working_moment(friday_evening, NY) == utc(2026, 11, 30, 14, 0)  # Mon 09:00
    inside = utc(2026, 11, 24, 16, 0)
    assert next_working_moment(inside, NY) == inside


def test_reminders_wait_for_the_delay_and_for_working_hours() -> None:
    sent = prompt_time(date(2026, 11, 23), WEEKLY, NY)  # Mon 10:00
    assert reminder_time(sent, delay_hours=24, tz=NY) == sent + timedelta(hours=24)
    assert reminder_time(sent, delay_hours=10, tz=NY) == utc(2026, 11, 24, 14, 0)  # not 20:00
    friday = prompt_time(date(2026, 11, 27), Cadence(weekday=4), NY)
    assert reminder_time(friday, delay_hours=24, tz=NY) == utc(2026, 11, 30, 14, 0)


def test_prompts_never_arrive_at_night() -> None:
    due = prompt_time(date(2026, 11, 23), WEEKLY, NY)  # Mon 10:00
    assert may_prompt(due, NY, configured=due)
    assert not may_prompt(utc(2026, 11, 24, 4, 0), NY, configured=due)  # 23:00, bot was down
    assert may_prompt(utc(2026, 11, 24, 14, 0), NY, configured=due)  # the next morning at nine
    # An admin's "send now" at 04:00 New York time waits for working hours too.
    assert not may_prompt(utc(2026, 11, 23, 9, 0), NY, configured=due)
    assert not may_prompt(utc(2026, 11, 28, 15, 0), NY, configured=due)  # Saturday
    early = Cadence(at=time(8, 0))
    early_due = prompt_time(date(2026, 11, 23), early, NY)
    assert may_prompt(early_due, NY, configured=early_due)  # an explicit 08:00 is honoured
    assert not may_prompt(early_due - timedelta(minutes=1), NY, configured=early_due)
    assert not may_prompt(early_due + timedelta(days=1), NY, configured=early_due)  # that day only


def test_unknown_or_missing_timezones_fall_back() -> None:
    assert zone("Asia/Tokyo") == TOKYO
    assert zone(None, fallback="Europe/Berlin") == BERLIN
    assert zone("Mars/Olympus", fallback="Nowhere/Else") == ZoneInfo("UTC")


def test_cadence_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Cadence(weeks=3)
    with pytest.raises(ValueError):
        Cadence(weekday=7)


# ---------------------------------------------------------------------------- digests

FRIDAY = 4


def test_the_next_digest_is_the_coming_digest_day_at_the_local_time() -> None:
    wednesday = utc(2026, 11, 25, 12)
    due = next_digest(wednesday, weekday=FRIDAY, at=time(10), cadence=WEEKLY, tz=NY)
    assert due == utc(2026, 11, 27, 15)  # 10:00 EST


def test_on_the_digest_day_it_is_today_until_the_time_then_next_week() -> None:
    before = utc(2026, 11, 27, 14, 59)
    after = utc(2026, 11, 27, 15, 0)
    kw = {"weekday": FRIDAY, "at": time(10), "cadence": WEEKLY, "tz": NY}
    assert next_digest(before, **kw) == utc(2026, 11, 27, 15)  # type: ignore[arg-type]
    assert next_digest(after, **kw) == utc(2026, 12, 4, 15)  # type: ignore[arg-type]


def test_the_next_digest_keeps_local_time_across_the_dst_change() -> None:
    # New York leaves DST on Sunday 1 November 2026: 10:00 is 14:00 UTC before, 15:00 after.
    kw = {"weekday": FRIDAY, "at": time(10), "cadence": WEEKLY, "tz": NY}
    assert next_digest(utc(2026, 10, 26), **kw) == utc(2026, 10, 30, 14)  # type: ignore[arg-type]
    assert next_digest(utc(2026, 10, 31), **kw) == utc(2026, 11, 6, 15)  # type: ignore[arg-type]


def test_a_period_that_had_its_digest_is_not_reported_twice() -> None:
    wednesday = utc(2026, 11, 25, 12)
    this_period = digest_period(date(2026, 11, 27), WEEKLY)
    assert this_period == date(2026, 11, 23)
    due = next_digest(
        wednesday,
        weekday=FRIDAY,
        at=time(10),
        cadence=WEEKLY,
        tz=NY,
        done=frozenset({this_period}),
    )
    assert due == utc(2026, 12, 4, 15)


def test_with_a_two_week_cadence_digests_come_every_other_week() -> None:
    biweekly = Cadence(weeks=2)
    kw = {"weekday": FRIDAY, "at": time(10), "cadence": biweekly, "tz": NY}
    # Periods start on 16 and 30 November: Friday the 20th had the first one's digest.
    first = next_digest(utc(2026, 11, 23, 12), **kw)  # type: ignore[arg-type]
    assert first == utc(2026, 12, 4, 15)
    second = next_digest(first, **kw)  # type: ignore[arg-type]
    assert second - first == timedelta(weeks=2)
    assert digest_period(first.date(), biweekly) != digest_period(second.date(), biweekly)


def test_a_digest_on_the_checkin_day_reports_the_period_just_ended() -> None:
    assert digest_period(date(2026, 11, 30), WEEKLY) == date(2026, 11, 23)  # Monday
    assert digest_period(date(2026, 11, 27), WEEKLY) == date(2026, 11, 23)  # Friday
