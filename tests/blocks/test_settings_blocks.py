"""The `/okr settings` modal as a pure builder: Slack's limits, prefill, and reading it back."""

from __future__ import annotations

from collections import Counter
from datetime import time

import pytest

from bot.blocks.settings import (
    SETTINGS_CALLBACK,
    TIMEZONES,
    build_settings_modal,
    build_settings_saved,
    describe_schedule,
    settings_from_state,
)
from bot.services.settings import FIELDS, SettingsForm, known_timezones, validate_settings
from storage.models import Workspace
from tests.support.blockkit import validate_message, validate_view
from tests.support.slack_sender import iter_elements, state_values

CUSTOM = Workspace(
    team_id="T1",
    checkin_weekday=2,
    checkin_time=time(9, 30),
    checkin_cadence_weeks=2,
    reminder_delay_hours=8,
    max_reminders=2,
    default_timezone="Asia/Kabul",  # not in the list: offered anyway
    digest_channel="C0DIGEST",
    digest_weekday=3,
    digest_mentions=True,
)


def submitted(view: dict, values: dict | None = None) -> dict:
    """The view as Slack sends it back: untouched inputs report their initial values."""
    return {**view, "state": {"values": state_values(view["blocks"], values)}}


def valid_form(**changes: object) -> SettingsForm:
    base = settings_from_state(submitted(build_settings_modal(workspace=Workspace(team_id="T1"))))
    return SettingsForm(**{**base.__dict__, **changes})


@pytest.mark.parametrize("workspace", [Workspace(team_id="T1"), CUSTOM], ids=["default", "custom"])
def test_modal_meets_slacks_rules(workspace: Workspace) -> None:
    view = build_settings_modal(workspace=workspace)
    assert validate_view(view) == []
    assert view["callback_id"] == SETTINGS_CALLBACK
    assert len(view["title"]["text"]) <= 24
    pairs = list(iter_elements(view["blocks"]))
    assert all(element.get("action_id") for _, element in pairs)
    block_ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert not [b for b, n in Counter(block_ids).items() if n > 1]
    # Every setting has its input, named after the Workspace field it edits.
    assert {b["block_id"] for b, _ in pairs} == {*FIELDS, "charts_enabled"}  # charts: not exported
    for block, element in pairs:
        assert block["block_id"] == element["action_id"]
        assert len(element.get("options") or []) <= 100


def test_modal_is_prefilled_from_the_workspace() -> None:
    view = build_settings_modal(workspace=CUSTOM)
    elements = {b["block_id"]: e for b, e in iter_elements(view["blocks"])}
    assert elements["checkin_weekday"]["initial_option"]["text"]["text"] == "Wednesday"
    assert elements["checkin_time"]["initial_time"] == "09:30"
    assert elements["checkin_cadence_weeks"]["initial_option"]["value"] == "2"
    assert elements["reminder_delay_hours"]["initial_value"] == "8"
    assert elements["max_reminders"]["initial_option"]["value"] == "2"
    assert elements["default_timezone"]["initial_option"]["value"] == "Asia/Kabul"
    assert elements["digest_channel"]["initial_conversation"] == "C0DIGEST"
    assert elements["digest_weekday"]["initial_option"]["text"]["text"] == "Thursday"
    assert len(elements["digest_mentions"]["initial_options"]) == 1

    # An untouched submission stores exactly what was there.
    changes, errors = validate_settings(settings_from_state(submitted(view)))
    assert errors == {}
    assert changes == {name: getattr(CUSTOM, name) for name in (*FIELDS, "charts_enabled")}


def test_values_the_lists_cannot_show_are_left_for_the_admin_to_pick() -> None:
    odd = Workspace(team_id="T1", checkin_weekday=6, reminder_delay_hours=200, max_reminders=9)
    view = build_settings_modal(workspace=odd)
    assert validate_view(view) == []
    elements = {b["block_id"]: e for b, e in iter_elements(view["blocks"])}
    assert "initial_option" not in elements["checkin_weekday"]
    assert "initial_value" not in elements["reminder_delay_hours"]
    assert "initial_option" not in elements["max_reminders"]
    assert "initial_conversation" not in elements["digest_channel"]
    assert "initial_options" not in elements["digest_mentions"]


def test_offered_timezones_are_real_and_few() -> None:
    assert set(TIMEZONES) <= known_timezones()
    assert len(set(TIMEZONES)) == len(TIMEZONES) < 100
    assert "UTC" in TIMEZONES


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"checkin_weekday": "5"}, "checkin_weekday"),  # Saturday
        ({"checkin_weekday": None}, "checkin_weekday"),
        ({"checkin_time": None}, "checkin_time"),
        ({"checkin_time": "19:00"}, "checkin_time"),  # after working hours
        ({"checkin_time": "25:00"}, "checkin_time"),
        ({"checkin_cadence_weeks": "3"}, "checkin_cadence_weeks"),
        ({"reminder_delay_hours": "3"}, "reminder_delay_hours"),
        ({"reminder_delay_hours": "73"}, "reminder_delay_hours"),
        ({"reminder_delay_hours": "12.5"}, "reminder_delay_hours"),
        ({"reminder_delay_hours": None}, "reminder_delay_hours"),
        ({"max_reminders": "4"}, "max_reminders"),
        ({"max_reminders": "3", "reminder_delay_hours": "72"}, "reminder_delay_hours"),
        ({"default_timezone": "Mars/Olympus_Mons"}, "default_timezone"),
        ({"default_timezone": None}, "default_timezone"),
        ({"digest_channel": "U0CEO"}, "digest_channel"),
        ({"digest_weekday": "6"}, "digest_weekday"),
    ],
)
def test_each_bad_value_is_an_error_on_its_own_field(changes: dict, field: str) -> None:
    stored, errors = validate_settings(valid_form(**changes))
    assert set(errors) == {field}, errors
    assert stored == {}  # nothing to store


def test_three_long_reminders_fit_a_fortnight() -> None:
    form = valid_form(max_reminders="3", reminder_delay_hours="72", checkin_cadence_weeks="2")
    changes, errors = validate_settings(form)
    assert errors == {}
    assert changes["max_reminders"] == 3 and changes["reminder_delay_hours"] == 72


def test_the_schedule_in_words() -> None:
    assert describe_schedule(Workspace(team_id="T1")) == [
        "Check-ins: Mondays at 10:00 each person's local time, every week; 1 reminder after 24 h.",
        "People without a Slack time zone: UTC.",
        "Digest: off (no channel chosen).",
    ]
    assert describe_schedule(CUSTOM) == [
        "Check-ins: Wednesdays at 09:30 each person's local time, every 2 weeks; "
        "2 reminders, 8 h apart.",
        "People without a Slack time zone: Asia/Kabul.",
        "Digest: Thursdays in <#C0DIGEST>, mentioning people who haven't checked in.",
    ]
    quiet = Workspace(team_id="T1", max_reminders=0, digest_channel="C1")
    assert "no reminders" in describe_schedule(quiet)[0]
    assert "without mentions" in describe_schedule(quiet)[2]


def test_confirmation_is_a_valid_message() -> None:
    message = build_settings_saved(workspace=CUSTOM)
    assert validate_message(message) == []
    assert "Wednesdays at 09:30" in message["text"]
