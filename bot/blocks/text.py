"""Small helpers shared by every surface: escaping, bars, labels, truncation, and the Block
Kit objects built the same way everywhere (sections, context lines, buttons, inputs, modals)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from bot.okr.grading import grade_band
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


def grade_icon(grade: float | None) -> str:
    return "⚪" if grade is None else GRADE_ICON[grade_band(grade)]


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


def block_id(name: str, rev: int) -> str:
    """A form's block ids carry its revision: Slack keeps what was typed in an input whose
    block_id is unchanged, so a new revision is how new initial values replace it."""
    return f"{name}@{rev}"


def _set(**fields: Any) -> dict:
    """A Block Kit object of the fields that are set: Slack wants a key absent, not null."""
    return {key: value for key, value in fields.items() if value is not None}


def section(text: str, *, block_id: str | None = None, accessory: dict | None = None) -> dict:
    return _set(type="section", block_id=block_id, text=mrkdwn(text), accessory=accessory)


def packed_sections(lines: Iterable[str], *, each: int = 3000) -> list[dict]:
    """The lines in as few sections as Slack's 3000 characters a section allow; each line cut
    to `each` characters."""
    sections = []
    text = ""
    for line in lines:
        line = truncate(line, each)
        if text and len(text) + 1 + len(line) > 3000:
            sections.append(section(text))
            text = line
        else:
            text = f"{text}\n{line}" if text else line
    if text:
        sections.append(section(text))
    return sections


def context(*texts: str, block_id: str | None = None) -> dict:
    return _set(type="context", block_id=block_id, elements=[mrkdwn(t) for t in texts])


def header(text: str) -> dict:
    return {"type": "header", "text": plain(text, 150)}


def actions(*elements: dict, block_id: str | None = None) -> dict:
    return _set(type="actions", block_id=block_id, elements=list(elements))


def button(label: str, action_id: str, value: str | None = None, *, style: str = "") -> dict:
    text = plain(label, 75)
    return _set(type="button", action_id=action_id, text=text, value=value, style=style or None)


def option(value: str, label: str) -> dict:
    return {"text": plain(label, 75), "value": value}


def select(
    action_id: str,
    options: list[dict],
    selected: str | None = None,
    *,
    placeholder: str = "",
    kind: str = "static_select",
) -> dict:
    """A select (or radio buttons) showing the option whose value is `selected`, if any."""
    return _set(
        type=kind,
        action_id=action_id,
        placeholder=plain(placeholder, 150) if placeholder else None,
        options=options,
        initial_option=next((o for o in options if o["value"] == selected), None),
    )


def objective_picker(action_id: str, chosen: dict | None) -> dict:
    """A search over objectives (the options come from the app's options handler)."""
    return _set(
        type="external_select",
        action_id=action_id,
        min_query_length=0,
        placeholder=plain("Search objectives…"),
        initial_option=chosen,
    )


def text_field(
    action_id: str,
    *,
    max_length: int,
    value: str = "",
    placeholder: str = "",
    multiline: bool = False,
) -> dict:
    return _set(
        type="plain_text_input",
        action_id=action_id,
        max_length=max_length,
        multiline=multiline or None,
        initial_value=truncate(value, max_length) if value else None,
        placeholder=plain(placeholder, 150) if placeholder else None,
    )


def input_block(
    block_id: str,
    label: str,
    element: dict,
    *,
    optional: bool | None = None,
    hint: str = "",
    dispatch: bool = False,
) -> dict:
    """`optional` None leaves the key out (Slack's default: required)."""
    return _set(
        type="input",
        block_id=block_id,
        label=plain(label, 2000),
        optional=optional,
        element=element,
        hint=plain(hint, 2000) if hint else None,
        dispatch_action=dispatch or None,
    )


def modal(
    title: str,
    blocks: list[dict],
    *,
    callback_id: str | None = None,
    submit: str | None = None,
    close: str = "Cancel",
    metadata: str | None = None,
) -> dict:
    return _set(
        type="modal",
        callback_id=callback_id,
        title=plain(title, 24),
        submit=plain(submit, 24) if submit else None,
        close=plain(close, 24),
        private_metadata=metadata,
        blocks=blocks,
    )


def view_values(view: dict) -> dict[str, dict]:
    """A submitted view's state: each input's element state, by block id without its revision
    (`name@rev`: see block_id)."""
    values = {}
    for bid, elements in (view.get("state") or {}).get("values", {}).items():
        (state,) = elements.values()
        values[bid.split("@", 1)[0]] = state
    return values


def selected_value(state: dict | None) -> str | None:
    chosen = (state or {}).get("selected_option")
    return chosen["value"] if chosen else None


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
