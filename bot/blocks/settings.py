"""`/okr settings`: the admins' modal for the check-in schedule and the digest.

Every input's block_id and action_id is the Workspace field it edits, so the service's
errors (keyed by field name) are the modal's inline errors as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.blocks.loading import LOADING_CALLBACK
from bot.blocks.text import (
    context,
    header,
    input_block,
    modal,
    option,
    plain,
    section,
    select,
    selected_value,
)
from bot.services.settings import (
    MAX_REMINDERS,
    REMINDER_DELAY_MAX,
    REMINDER_DELAY_MIN,
    WEEKDAYS,
    SettingsForm,
)

if TYPE_CHECKING:
    from storage.models import Workspace

SETTINGS_CALLBACK = "settings_modal"
SETTINGS_TITLE = "Check-in settings"
SAVING_TEXT = (
    "⏳ *Saving…* A new check-in cadence changes when each key result counts as having no "
    "recent data, so Ladder works out every objective's status again. In a big workspace "
    "this takes a few seconds. You can close this: a DM will confirm."
)
_DAY_NAMES = (*WEEKDAYS, "Saturday", "Sunday")  # rows may predate the Monday-to-Friday rule
MENTIONS_VALUE = "mention"
CHARTS_VALUE = "charts"
# Common IANA zones, west to east; a workspace's current zone is added if it is not here.
TIMEZONES = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Vancouver",
    "America/Phoenix",
    "America/Denver",
    "America/Edmonton",
    "America/Mexico_City",
    "America/Chicago",
    "America/Bogota",
    "America/Lima",
    "America/New_York",
    "America/Toronto",
    "America/Halifax",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/St_Johns",
    "Atlantic/Azores",
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Africa/Lagos",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Zurich",
    "Europe/Vienna",
    "Europe/Copenhagen",
    "Europe/Oslo",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Prague",
    "Africa/Johannesburg",
    "Africa/Cairo",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Bucharest",
    "Europe/Istanbul",
    "Asia/Jerusalem",
    "Africa/Nairobi",
    "Europe/Moscow",
    "Asia/Riyadh",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Ho_Chi_Minh",
    "Asia/Singapore",
    "Asia/Kuala_Lumpur",
    "Asia/Manila",
    "Asia/Hong_Kong",
    "Asia/Shanghai",
    "Asia/Taipei",
    "Australia/Perth",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Pacific/Auckland",
)


def _select(
    name: str, choices: list[tuple[str, str]], current: str, *, kind: str = "static_select"
) -> dict:
    # A stored value the list lacks (e.g. a Saturday) is not shown.
    return select(name, [option(v, label) for v, label in choices], current, kind=kind)


def _input(name: str, label: str, element: dict, *, hint: str = "", optional: bool = False) -> dict:
    return input_block(name, label, element, optional=optional, hint=hint)


def _reminders_label(n: int) -> str:
    return "No reminders" if n == 0 else f"{n} reminder{'s' if n != 1 else ''}"


def build_settings_modal(*, workspace: Workspace) -> dict:
    """The modal, prefilled from the workspace row."""
    days = [(str(i), day) for i, day in enumerate(WEEKDAYS)]
    delay: dict = {
        "type": "number_input",
        "action_id": "reminder_delay_hours",
        "is_decimal_allowed": False,
        "min_value": str(REMINDER_DELAY_MIN),
        "max_value": str(REMINDER_DELAY_MAX),
    }
    if REMINDER_DELAY_MIN <= workspace.reminder_delay_hours <= REMINDER_DELAY_MAX:
        delay["initial_value"] = str(workspace.reminder_delay_hours)
    zones = list(TIMEZONES)
    if workspace.default_timezone and workspace.default_timezone not in zones:
        zones.insert(0, workspace.default_timezone)
    channel: dict = {
        "type": "conversations_select",
        "action_id": "digest_channel",
        "placeholder": plain("Pick a channel"),
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if workspace.digest_channel:
        channel["initial_conversation"] = workspace.digest_channel
    mention = option(MENTIONS_VALUE, "Mention people who haven't checked in")
    mentions: dict = {"type": "checkboxes", "action_id": "digest_mentions", "options": [mention]}
    if workspace.digest_mentions:
        mentions["initial_options"] = [mention]
    blocks = [
        header("Check-ins"),
        context(
            "Everyone with key results is asked on the same day, at this time in "
            "their own Slack time zone."
        ),
        _input(
            "checkin_weekday",
            "Day",
            _select("checkin_weekday", days, str(workspace.checkin_weekday)),
        ),
        _input(
            "checkin_time",
            "Time (each person's local time)",
            {
                "type": "timepicker",
                "action_id": "checkin_time",
                "initial_time": f"{workspace.checkin_time:%H:%M}",
            },
            hint="Prompts only go out in working hours, before 18:00.",
        ),
        _input(
            "checkin_cadence_weeks",
            "How often",
            _select(
                "checkin_cadence_weeks",
                [("1", "Every week"), ("2", "Every 2 weeks")],
                str(workspace.checkin_cadence_weeks),
                kind="radio_buttons",
            ),
        ),
        _input(
            "max_reminders",
            "Reminders to people who haven't checked in",
            _select(
                "max_reminders",
                [(str(n), _reminders_label(n)) for n in range(MAX_REMINDERS + 1)],
                str(workspace.max_reminders),
            ),
        ),
        _input(
            "reminder_delay_hours",
            "Hours between reminders",
            delay,
            hint=f"{REMINDER_DELAY_MIN} to {REMINDER_DELAY_MAX} hours; reminders wait for "
            "working hours.",
        ),
        _input(
            "default_timezone",
            "Time zone for people without one in Slack",
            _select("default_timezone", [(z, z) for z in zones], workspace.default_timezone),
        ),
        {"type": "divider"},
        header("Weekly digest"),
        _input(
            "digest_channel",
            "Post the digest in",
            channel,
            hint="Leave empty for no digest. Invite Ladder to a private channel first.",
            optional=True,
        ),
        _input(
            "digest_weekday",
            "Digest day",
            _select("digest_weekday", days, str(workspace.digest_weekday)),
        ),
        _input("digest_mentions", "Mentions", mentions, optional=True),
        *_charts_blocks(workspace),  # charts
    ]
    return modal(SETTINGS_TITLE, blocks, callback_id=SETTINGS_CALLBACK, submit="Save")


def _charts_blocks(workspace: Workspace) -> list[dict]:
    """The pictures switch (charts): one checkbox, on by default."""
    charts = option(CHARTS_VALUE, "Show trend charts")
    box: dict = {"type": "checkboxes", "action_id": "charts_enabled", "options": [charts]}
    if workspace.charts_enabled:
        box["initial_options"] = [charts]
    return [
        {"type": "divider"},
        header("Pictures"),
        _input(
            "charts_enabled",
            "Charts",
            box,
            hint="Check-in summaries, digests, Home and `/okr chart` show how each objective "
            "and key result is trending. Off: the same numbers, in words only.",
            optional=True,
        ),
    ]


def settings_from_state(view: dict) -> SettingsForm:
    """The submitted values, as the service reads them."""
    values = (view.get("state") or {}).get("values", {})

    def state(name: str) -> dict:
        return (values.get(name) or {}).get(name) or {}

    def selected(name: str) -> str | None:
        return selected_value(state(name))

    return SettingsForm(
        checkin_weekday=selected("checkin_weekday"),
        checkin_time=state("checkin_time").get("selected_time"),
        checkin_cadence_weeks=selected("checkin_cadence_weeks"),
        reminder_delay_hours=state("reminder_delay_hours").get("value"),
        max_reminders=selected("max_reminders"),
        default_timezone=selected("default_timezone"),
        digest_channel=state("digest_channel").get("selected_conversation"),
        digest_weekday=selected("digest_weekday"),
        digest_mentions=any(
            o.get("value") == MENTIONS_VALUE
            for o in state("digest_mentions").get("selected_options") or []
        ),
        # charts: a form without the field (an older modal still open) keeps pictures on.
        charts_enabled="charts_enabled" not in values
        or any(
            o.get("value") == CHARTS_VALUE
            for o in state("charts_enabled").get("selected_options") or []
        ),
    )


def describe_schedule(workspace: Workspace) -> list[str]:
    """The schedule in words, one line per topic."""
    day = _DAY_NAMES[workspace.checkin_weekday]
    every = "every week" if workspace.checkin_cadence_weeks == 1 else "every 2 weeks"
    n, delay = workspace.max_reminders, workspace.reminder_delay_hours
    if n == 0:
        reminders = "no reminders"
    elif n == 1:
        reminders = f"1 reminder after {delay} h"
    else:
        reminders = f"{n} reminders, {delay} h apart"
    lines = [
        f"Check-ins: {day}s at {workspace.checkin_time:%H:%M} each person's local time, "
        f"{every}; {reminders}.",
        f"People without a Slack time zone: {workspace.default_timezone}.",
    ]
    if workspace.digest_channel:
        digest_day = _DAY_NAMES[workspace.digest_weekday]
        who = (
            "mentioning people who haven't checked in"
            if workspace.digest_mentions
            else "without mentions"
        )
        # A channel id Slack sent us (validated), so the link is safe to render.
        lines.append(f"Digest: {digest_day}s in <#{workspace.digest_channel}>, {who}.")
    else:
        lines.append("Digest: off (no channel chosen).")
    return lines


def build_settings_saved(*, workspace: Workspace) -> dict:
    """The confirmation DM'd to the admin who saved."""
    lines = describe_schedule(workspace)
    return {
        "text": "Check-in settings saved. " + " ".join(lines),
        "blocks": [
            section("✅ *Check-in settings saved.*\n" + "\n".join(f"• {x}" for x in lines)),
            context("Change them any time: `/okr settings`."),
        ],
    }


def build_settings_saving() -> dict:
    """What the form turns into while a save that recomputes every status runs after the
    answer; the outcome replaces it (bot/listeners `fill_loading`)."""
    return modal(
        SETTINGS_TITLE, [section(SAVING_TEXT)], callback_id=LOADING_CALLBACK, close="Close"
    )


def build_settings_saved_view(*, workspace: Workspace) -> dict:
    """The "Saving…" modal once saved: the DM's words."""
    blocks = build_settings_saved(workspace=workspace)["blocks"]
    return modal(SETTINGS_TITLE, blocks, callback_id=LOADING_CALLBACK, close="Done")
