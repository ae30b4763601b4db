"""`/okr settings`, end to end over signed HTTP: admins edit the check-in schedule in a modal."""

from __future__ import annotations

import json
from datetime import time
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from bot.blocks.settings import SETTINGS_CALLBACK
from bot.listeners import STORAGE_FAILED
from storage.models import Workspace
from tests.slack.conftest import ACME, CEO, DEV, Ladder
from tests.support.slack_sender import iter_elements
from tests.support.slack_standin import dm_channel_id

NEW_VALUES = {
    "checkin_weekday": {"checkin_weekday": "2"},  # Wednesday
    "checkin_time": {"checkin_time": "09:30"},
    "checkin_cadence_weeks": {"checkin_cadence_weeks": "2"},
    "reminder_delay_hours": {"reminder_delay_hours": "8"},
    "max_reminders": {"max_reminders": "2"},
    "default_timezone": {"default_timezone": "Europe/Berlin"},
    "digest_channel": {"digest_channel": "C0TEAM"},
    "digest_weekday": {"digest_weekday": "4"},
    "digest_mentions": {"digest_mentions": ["mention"]},
}
SCHEDULE = (
    "checkin_weekday",
    "checkin_time",
    "checkin_cadence_weeks",
    "reminder_delay_hours",
    "max_reminders",
    "default_timezone",
    "digest_channel",
    "digest_weekday",
    "digest_mentions",
)


def open_settings(ladder: Ladder, *, user: str = CEO) -> dict[str, Any]:
    before = len(ladder.standin.calls("views.open"))
    assert ladder.acme.slash_command("settings", user_id=user).status_code == 200
    opened = ladder.standin.wait_for("views.open", count=before + 1)[-1]
    assert opened.ok, opened.response
    view = opened.response["view"]
    assert view["callback_id"] == SETTINGS_CALLBACK
    return view


def initial(view: dict[str, Any]) -> dict[str, Any]:
    """What each input shows when the modal opens, by block_id."""
    out: dict[str, Any] = {}
    for block, element in iter_elements(view["blocks"]):
        name = block["block_id"]
        if "initial_option" in element:
            out[name] = element["initial_option"]["value"]
        elif "initial_options" in element:
            out[name] = [o["value"] for o in element["initial_options"]]
        for key in ("initial_value", "initial_time", "initial_conversation"):
            if key in element:
                out[name] = element[key]
    return out


def schedule(ladder: Ladder) -> dict[str, Any]:
    with Session(ladder.engine) as session:
        workspace = session.get_one(Workspace, ACME)
        return {name: getattr(workspace, name) for name in SCHEDULE}


def test_admin_changes_the_schedule(ladder: Ladder) -> None:
    view = open_settings(ladder)
    assert initial(view) == {
        "checkin_weekday": "0",
        "checkin_time": "10:00",
        "checkin_cadence_weeks": "1",
        "reminder_delay_hours": "24",
        "max_reminders": "1",
        "default_timezone": "UTC",
        "digest_weekday": "4",
        "charts_enabled": ["charts"],  # charts: pictures on by default
    }

    # A new cadence recomputes every objective's status (seconds in a big workspace): the
    # answer turns the modal into "Saving…", and the save after it fills in the outcome.
    answer = ladder.acme.view_submission(view, user_id=CEO, values=NEW_VALUES)
    assert answer.status_code == 200, answer.text
    assert answer.json()["response_action"] == "update"
    assert "Saving…" in json.dumps(answer.json()["view"], ensure_ascii=False)
    [done] = ladder.standin.wait_for("views.update")
    assert done.ok and done.args["view_id"] == view["id"], done.response
    assert "✅ *Check-in settings saved.*" in done.args["view"]["blocks"][0]["text"]["text"]

    assert schedule(ladder) == {
        "checkin_weekday": 2,
        "checkin_time": time(9, 30),
        "checkin_cadence_weeks": 2,
        "reminder_delay_hours": 8,
        "max_reminders": 2,
        "default_timezone": "Europe/Berlin",
        "digest_channel": "C0TEAM",
        "digest_weekday": 4,
        "digest_mentions": True,
    }

    # The admin is told, in words, in a DM.
    [dm] = ladder.standin.wait_for("chat.postMessage")
    assert dm.response["channel"] == dm_channel_id(CEO)
    text = dm.args["text"]
    assert "Wednesdays at 09:30 each person's local time, every 2 weeks" in text, text
    assert "2 reminders, 8 h apart" in text
    assert "Europe/Berlin" in text
    assert "Fridays in <#C0TEAM>, mentioning people who haven't checked in" in text

    # Opened again, the modal shows what was saved.
    again = initial(open_settings(ladder))
    assert again["checkin_weekday"] == "2" and again["checkin_time"] == "09:30"
    assert again["digest_channel"] == "C0TEAM" and again["digest_mentions"] == ["mention"]

    # Clearing the digest channel and the mentions turns them off.
    view = open_settings(ladder)
    answer = ladder.acme.view_submission(
        view,
        user_id=CEO,
        values={
            "digest_channel": {"digest_channel": None},
            "digest_mentions": {"digest_mentions": []},
        },
    )
    assert answer.text == "", answer.text  # same cadence: saved in the answer, the modal closes
    assert ladder.standin.view_stack(ACME, CEO) == []
    stored = schedule(ladder)
    assert stored["digest_channel"] is None and stored["digest_mentions"] is False
    assert stored["checkin_weekday"] == 2  # the rest kept
    dms = ladder.standin.wait_for("chat.postMessage", count=2)
    assert "Digest: off" in dms[-1].args["text"]
    assert ladder.standin.violations == []


def test_invalid_values_are_shown_inline_and_nothing_is_stored(ladder: Ladder) -> None:
    view = open_settings(ladder)
    before = schedule(ladder)

    # A time after working hours, and three reminders that would outlast the week.
    answer = ladder.acme.view_submission(
        view,
        user_id=CEO,
        values={
            **NEW_VALUES,
            "checkin_time": {"checkin_time": "19:00"},
            "checkin_cadence_weeks": {"checkin_cadence_weeks": "1"},
            "max_reminders": {"max_reminders": "3"},
            "reminder_delay_hours": {"reminder_delay_hours": "72"},
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"checkin_time", "reminder_delay_hours"}, body
    assert "18:00" in body["errors"]["checkin_time"]
    assert "next check-in" in body["errors"]["reminder_delay_hours"]
    assert schedule(ladder) == before  # nothing half-saved

    # Values Slack's own client would not let through (an out-of-range number, a zone that
    # is not in the list) are refused by the server all the same.
    answer = ladder.acme.view_submission(
        view,
        user_id=CEO,
        values={
            **NEW_VALUES,
            "reminder_delay_hours": {"reminder_delay_hours": "500"},
            "default_timezone": {
                "default_timezone": {
                    "type": "static_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": "Mars"},
                        "value": "Mars/Olympus_Mons",
                    },
                }
            },
        },
    )
    errors = answer.json()["errors"]
    assert set(errors) == {"reminder_delay_hours", "default_timezone"}, errors
    assert "4 to 72" in errors["reminder_delay_hours"]
    assert "time zone" in errors["default_timezone"].lower()
    assert schedule(ladder) == before
    assert ladder.standin.calls("chat.postMessage") == []  # no confirmation for a failure

    # Corrected, it saves (the cadence kept: in the answer).
    corrected = {**NEW_VALUES, "checkin_cadence_weeks": {"checkin_cadence_weeks": "1"}}
    answer = ladder.acme.view_submission(view, user_id=CEO, values=corrected)
    assert answer.text == "", answer.text
    assert schedule(ladder)["reminder_delay_hours"] == 8
    assert ladder.standin.violations == []


def test_a_new_cadence_that_cannot_be_saved_says_so_in_its_modal(ladder: Ladder) -> None:
    view = open_settings(ladder)
    before = schedule(ladder)
    # The database takes reads but no writes (as with a full disk) once the form is open:
    # the answer's check reads, the save after it fails.
    event.listen(ladder.engine, "connect", _read_only)
    ladder.engine.dispose()
    try:
        answer = ladder.acme.view_submission(view, user_id=CEO, values=NEW_VALUES)
        assert answer.json()["response_action"] == "update", answer.text
        [told] = ladder.standin.wait_for("views.update")
    finally:
        event.remove(ladder.engine, "connect", _read_only)
        ladder.engine.dispose()
    text = told.args["view"]["blocks"][0]["text"]["text"]
    assert told.ok and text == f"⚠️ {STORAGE_FAILED}", text
    assert schedule(ladder) == before
    assert ladder.standin.calls("chat.postMessage") == []  # no "saved" anywhere


def _read_only(connection: Any, _record: Any) -> None:
    """Every new connection takes reads only (SQLite's full disk, PostgreSQL's standby)."""
    cursor = connection.cursor()
    if "sqlite" in type(connection).__module__:
        cursor.execute("PRAGMA query_only=ON")
    else:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        connection.commit()
    cursor.close()


def test_non_admins_are_refused(ladder: Ladder) -> None:
    assert ladder.acme.slash_command("settings", user_id=DEV).status_code == 200
    ladder.standin.wait_for("response_url")
    [post] = ladder.standin.responses
    assert post.response_type in (None, "ephemeral") and not post.replace_original
    assert "Only workspace admins can change the check-in settings" in post.text
    assert ladder.standin.calls("views.open") == []

    # A submission from a non-admin (a forged or stale modal) is refused on the form too.
    view = open_settings(ladder, user=CEO)
    before = schedule(ladder)
    answer = ladder.acme.view_submission(view, user_id=DEV, values=NEW_VALUES)
    body = answer.json()
    assert body["response_action"] == "errors"
    assert "Only workspace admins" in body["errors"]["checkin_weekday"]
    assert schedule(ladder) == before
    assert ladder.standin.calls("chat.postMessage") == []
    assert ladder.standin.violations == []


def test_help_mentions_settings(ladder: Ladder) -> None:
    ladder.acme.slash_command("help", user_id=DEV)
    ladder.standin.wait_for("response_url")
    assert "/okr settings" in str(ladder.standin.responses[-1].blocks)
