"""The first view of a modal whose full form takes a while to build.

Slack's trigger_id lives 3 s and views.open must answer within that time, so a modal whose
content needs the database opens this small view at the ack, and the full form replaces it
by views.update once built (bot/listeners `open_loading`, `fill_loading`). When the build
fails, the same modal says so (`build_failed_view`): the person never stares at "Loading…".
"""

from __future__ import annotations

from bot.blocks.text import modal, section

LOADING_CALLBACK = "loading"
LOADING_TEXT = "⏳ Loading…"


def build_loading_view(title: str) -> dict:
    """A modal with the form's own title and one line, nothing to submit."""
    return modal(title, [section(LOADING_TEXT)], callback_id=LOADING_CALLBACK)


def build_failed_view(title: str, text: str, *, icon: str = "⚠️") -> dict:
    """What replaces the loading view when the form could not be built (or may not be shown
    to this person: icon 🚫); `text` is mrkdwn, user text in it escaped by the caller."""
    return modal(title, [section(f"{icon} {text}")], callback_id=LOADING_CALLBACK, close="Close")
