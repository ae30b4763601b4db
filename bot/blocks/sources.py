"""Slack surfaces of data sources: the owner's failure notice, the Connect data modal, what
a test would record, and the push token shown once."""

from __future__ import annotations

from datetime import datetime

from bot.blocks.text import escape, mrkdwn, plain, truncate

FIX_SOURCE_ACTION = "source_fix"
CONNECT_DATA_VERB = "data"  # the objective menu's option value: "data:<objective id>"
SOURCE_MODAL_CALLBACK = "source_modal"
SOURCE_TEST_ACTION = "source_test"
SOURCE_KR_ACTION = "source_kr"
SOURCE_TOKEN_ACTION = "source_token"
SOURCE_REVOKE_ACTION = "source_revoke"
SOURCE_DISCONNECT_ACTION = "source_disconnect"
RESULT_BLOCK = "source_result"


def failure_notice(*, kr_title: str, key_result_id: int, host: str, reason: str) -> dict:
    """To the KR's owner, once per failure episode."""
    title = escape(truncate(kr_title, 150))
    text = f"⚠️ Ladder could not update “{title}” from {escape(host)}: {escape(reason)}"
    return {
        "text": truncate(text, 3000),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn(
                    f"⚠️ *Ladder could not update “{title}”* from its data source "
                    f"`{escape(host)}`.\n>{escape(truncate(reason, 300))}\n"
                    "The key result keeps its last value. Ladder keeps trying and tells you "
                    "again only if it breaks again after working."
                ),
                "accessory": {
                    "type": "button",
                    "action_id": FIX_SOURCE_ACTION,
                    "text": plain("🔧 Fix", 75),
                    "value": str(key_result_id),
                },
            }
        ],
    }


def source_status_line(
    *, failing: bool, reason: str | None, host: str, last_ok_at: datetime | None
) -> str:
    """One line for menus and Home: where the value comes from and whether that works."""
    if failing:
        return f"🔌 ⚠️ {escape(host)} failing: {escape(truncate(reason or 'unknown', 200))}"
    when = f", last read {last_ok_at:%b %-d %H:%M} UTC" if last_ok_at else ", not read yet"
    return f"🔌 from {escape(host)}{when}"
