"""`/okr settings`, `/okr vision`, `/okr mission`: read and change a workspace's settings.

The modal's values arrive as a SettingsForm (strings, as Slack sends them). `save`
checks the caller is an admin, validates every field, and stores all of them in one
transaction, or nothing: errors come back keyed by field name for the modal to show inline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from bot.okr.limits import STATEMENT_MAX
from bot.okr.schedule import WORK_END
from bot.okr.validate import clean_text
from bot.services import Service
from bot.services.permissions import ensure_admin
from storage.db import session_scope
from storage.errors import Refused
from storage.models import SLACK_ID_MAX, Workspace
from storage.rollup import ROLLUP_SETTINGS
from storage.workspaces import ensure_workspace, get_workspace, update_workspace

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")  # index = stored weekday
CADENCES = (1, 2)  # weeks between check-ins
REMINDER_DELAY_MIN, REMINDER_DELAY_MAX = 4, 72  # hours
MAX_REMINDERS = 3
TIMEZONE_MAX = 64  # Workspace.default_timezone
_CHANNEL = re.compile(r"^[CG][A-Z0-9]+$")
_TIME = re.compile(r"^\d{2}:\d{2}$")

FIELDS = (
    "checkin_weekday",
    "checkin_time",
    "checkin_cadence_weeks",
    "reminder_delay_hours",
    "max_reminders",
    "default_timezone",
    "digest_channel",
    "digest_weekday",
    "digest_mentions",
)  # charts_enabled is in the form too, but not (yet) in exports: bot/services/transfer/


@dataclass(frozen=True)
class SettingsForm:
    """What the modal sent, unvalidated. None means nothing was picked."""

    checkin_weekday: str | None = None
    checkin_time: str | None = None  # "HH:MM", a timepicker's value
    checkin_cadence_weeks: str | None = None
    reminder_delay_hours: str | None = None
    max_reminders: str | None = None
    default_timezone: str | None = None
    digest_channel: str | None = None
    digest_weekday: str | None = None
    digest_mentions: bool = False
    charts_enabled: bool = True  # pictures (bot/pictures.py)


_WEEKDAY = (range(len(WEEKDAYS)), "Pick a weekday, Monday to Friday.")
_CHOICES: dict[str, tuple[range | tuple[int, ...], str]] = {  # field -> (allowed, else say)
    "checkin_weekday": _WEEKDAY,
    "digest_weekday": _WEEKDAY,
    "checkin_cadence_weeks": (CADENCES, "Pick every week or every 2 weeks."),
    "reminder_delay_hours": (
        range(REMINDER_DELAY_MIN, REMINDER_DELAY_MAX + 1),
        f"Enter a whole number of hours from {REMINDER_DELAY_MIN} to {REMINDER_DELAY_MAX}.",
    ),
    "max_reminders": (range(MAX_REMINDERS + 1), f"Pick 0 to {MAX_REMINDERS} reminders."),
}


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _choice(raw: str | None, allowed: range | tuple[int, ...]) -> int | None:
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if value in allowed else None


def validate_settings(form: SettingsForm) -> tuple[dict[str, Any], dict[str, str]]:
    """(changes for update_workspace, errors by field name); changes only if no errors."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}

    for name, (allowed, problem) in _CHOICES.items():
        value = _choice(getattr(form, name), allowed)
        if value is None:
            errors[name] = problem
        else:
            changes[name] = value

    at: time | None = None
    if form.checkin_time and _TIME.match(form.checkin_time):
        try:
            at = time.fromisoformat(form.checkin_time)
        except ValueError:
            at = None
    if at is None:
        errors["checkin_time"] = "Pick a time, e.g. 10:00."
    elif at >= WORK_END:
        errors["checkin_time"] = (
            f"Pick a time before {WORK_END:%H:%M}: prompts only go out in working hours, "
            f"so a later time would reach people the next morning."
        )
    else:
        changes["checkin_time"] = at

    # Reminders are only sent within the check-in period; later ones would never go out.
    delay, count, weeks = (
        changes.get(n) for n in ("reminder_delay_hours", "max_reminders", "checkin_cadence_weeks")
    )
    if delay and count and weeks and count * delay >= weeks * 7 * 24:
        errors["reminder_delay_hours"] = (
            f"{count} reminders {delay} h apart would run into the next check-in. "
            "Shorten the delay or send fewer reminders."
        )

    tz = (form.default_timezone or "").strip()
    if not tz or len(tz) > TIMEZONE_MAX or tz not in known_timezones():
        errors["default_timezone"] = "Unknown time zone: pick one from the list."
    else:
        changes["default_timezone"] = tz

    channel = form.digest_channel or None
    if channel is not None and (len(channel) > SLACK_ID_MAX or not _CHANNEL.match(channel)):
        errors["digest_channel"] = "Pick a channel (not a direct message)."
    else:
        changes["digest_channel"] = channel

    changes["digest_mentions"] = bool(form.digest_mentions)
    changes["charts_enabled"] = bool(form.charts_enabled)
    if errors:
        return {}, errors
    return changes, {}


class SettingsService(Service):
    """A workspace's settings: the check-in schedule (`/okr settings`), vision and mission."""

    def load(self, *, workspace_id: str, is_admin: Callable[[], bool]) -> Workspace:
        """The workspace row the modal is prefilled from (created on first contact)."""
        ensure_admin(is_admin, "change the check-in settings")
        return self.run(ensure_workspace, workspace_id=workspace_id)

    def check(
        self, *, workspace_id: str, form: SettingsForm, is_admin: Callable[[], bool]
    ) -> tuple[dict[str, str], bool]:
        """Errors by field name (nothing may be saved), and whether saving recomputes every
        objective's status: a new cadence moves when each KR counts as having no recent data,
        which takes seconds in a big workspace (5.7 s at 50,000 objectives)."""
        ensure_admin(is_admin, "change the check-in settings")
        changes, errors = validate_settings(form)
        if errors:
            return errors, False
        current = self.read(get_workspace, workspace_id=workspace_id)
        return {}, any(
            name in changes and changes[name] != getattr(current, name) for name in ROLLUP_SETTINGS
        )

    def save(
        self, *, workspace_id: str, form: SettingsForm, is_admin: Callable[[], bool]
    ) -> tuple[Workspace | None, dict[str, str]]:
        """(the saved workspace, {}) or (None, errors by field name); nothing stored on errors."""
        ensure_admin(is_admin, "change the check-in settings")
        changes, errors = validate_settings(form)
        if errors:
            return None, errors
        with session_scope(self.engine) as session:
            ensure_workspace(session=session, workspace_id=workspace_id)
            saved = update_workspace(session=session, workspace_id=workspace_id, **changes)
        return saved, {}

    def set_statement(
        self, *, workspace_id: str, which: str, text: str, is_admin: Callable[[], bool]
    ) -> None:
        ensure_admin(is_admin, f"set the {which}")
        text = clean_text(text, single_line=True)
        if len(text) > STATEMENT_MAX:
            raise Refused(
                f"Keep the {which} under {STATEMENT_MAX} characters (it has {len(text)})."
            )
        with session_scope(self.engine) as session:
            ensure_workspace(session=session, workspace_id=workspace_id)
            update_workspace(session=session, workspace_id=workspace_id, **{which: text})

    def statements(self, *, workspace_id: str) -> tuple[str, str]:
        ws = self.run(ensure_workspace, workspace_id=workspace_id)
        return ws.vision, ws.mission
