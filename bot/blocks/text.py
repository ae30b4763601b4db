"""Small text helpers shared by every surface: escaping, bars, labels, truncation."""

from __future__ import annotations

from datetime import date, datetime

from bot.okr.kinds import GradeBand, KRKind, Status, UnitKind
from bot.okr.numbers import format_pair

# Not started (no check-in yet) is neutral: white, never a colour that says failing. No
# recent data (no check-in for two periods) sleeps: no colour, since its colour would be old.
STATUS_ICON = {
    Status.NOT_STARTED: "⚪",
    Status.NO_RECENT_DATA: "💤",
    Status.ON_TRACK: "🟢",
    Status.AT_RISK: "🟡",
    Status.OFF_TRACK: "🔴",
}
GRADE_ICON = {GradeBand.GREEN: "🟢", GradeBand.YELLOW: "🟡", GradeBand.RED: "🔴"}


def escape(text: str) -> str:
    """Escape user text for mrkdwn: no pings (<!channel>, <@U…>), no fake links.

    Slack's rule is to replace exactly &, < and > with entities.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """What the person typed: Slack sends &, < and > in command text as entities."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def plain(text: str, limit: int = 3000) -> dict:
    """A plain_text object; emoji on, text trimmed to its limit."""
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = 3000) -> dict:
    return {"type": "mrkdwn", "text": truncate(text, limit)}


# A bar's filled part takes its status's colour, so colour never contradicts status (inline
# code, which Slack draws red, did: a 90% on-track bar was red). Unknown status: neutral.
BAR_FILL: dict[Status | None, str] = {
    Status.ON_TRACK: "🟩",
    Status.AT_RISK: "🟨",
    Status.OFF_TRACK: "🟥",
}
BAR_EMPTY, BAR_NEUTRAL = "⬜", "⬛"
BAR_WIDTH = 8


def progress_bar(progress: float | None, status: Status | None = None) -> str:
    if progress is None:
        return BAR_EMPTY * BAR_WIDTH
    filled = round(max(0.0, min(progress, 1.0)) * BAR_WIDTH)
    return BAR_FILL.get(status, BAR_NEUTRAL) * filled + BAR_EMPTY * (BAR_WIDTH - filled)


def percent(progress: float | None) -> str:
    return "—" if progress is None else f"{round(progress * 100)}%"


def status_label(status: Status | None) -> str:
    if status is None:
        return "⚪ no key results yet"
    return f"{STATUS_ICON[status]} {status.label}"


def short_date(day: date | datetime) -> str:
    """'Jan 5' (a datetime by its own date: stored ones are UTC)."""
    return f"{day:%b} {day.day}"


def no_check_in_since(moment: date | datetime) -> str:
    """Why a KR or objective has no recent data."""
    return f"no check-in since {short_date(moment)}"


def never_checked_in_since(quiet_since: date, *, set_on: bool) -> str:
    """Why a KR never checked in has no recent data: quiet since it was set on `quiet_since`
    (`set_on`), or since its cycle began then (it was set while planning)."""
    since = "it was set" if set_on else "its cycle began"
    return f"no check-in since {since} on {short_date(quiet_since)}"


def user(user_id: str) -> str:
    """A mention of a Slack user id we stored (never of typed text)."""
    return f"<@{user_id}>"


def ago(moment: datetime | None, *, now: datetime) -> str:
    if moment is None:
        return "no check-in yet"
    seconds = (now - moment).total_seconds()
    if seconds < 3600:
        return "checked in just now"
    if seconds < 86400:
        return f"checked in {int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return "checked in yesterday" if days == 1 else f"checked in {days} days ago"


def kr_values(
    *,
    kind: KRKind,
    unit: UnitKind,
    unit_label: str | None,
    current: float | None,
    target: float,
    start: float | None = None,
) -> str:
    """'600k / 1M active users', '$0.37 → $0.25', '✅ done', '9.1 (at least 9)'.

    Before its first check-in a moving KR stands at its start ("0 / 1M", never "— / 1M").
    """
    if kind is KRKind.MILESTONE:
        return "✅ done" if current is not None and current >= 1 else "⬜ not done"
    if current is None and kind in (KRKind.INCREASE, KRKind.DECREASE):
        current = start
    if kind.is_threshold:
        bound = "at least" if kind is KRKind.AT_LEAST else "at most"
        pair = format_pair(
            current, target, unit=unit, unit_label=unit_label, separator=f" ({bound} "
        )
        return escape(pair) + ")"
    # "130 / 100 ms" would read as a fraction: a decrease gets an arrow.
    separator = " → " if kind is KRKind.DECREASE else " / "
    return escape(
        format_pair(current, target, unit=unit, unit_label=unit_label, separator=separator)
    )


def confidence_label(confidence: int | None) -> str:
    if confidence is None:
        return ""
    icon = "💪" if confidence >= 7 else "🤞" if confidence >= 4 else "😟"
    return f"{icon} {confidence}/10"
