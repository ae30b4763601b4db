"""Short replies: notices, refusals and errors shown only to the person who typed."""

from __future__ import annotations

from bot.blocks.text import escape, section


def build_notice(text: str, *, icon: str = "ℹ️", user_text: bool = False) -> dict:
    """A one-section message. `user_text=True` escapes the whole text."""
    body = escape(text) if user_text else text
    return {"text": body, "blocks": [section(f"{icon} {body}")]}


def build_refusal(text: str) -> dict:
    return build_notice(text, icon="🚫")


def build_error(text: str) -> dict:
    return build_notice(text, icon="⚠️")
