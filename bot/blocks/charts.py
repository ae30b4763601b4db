"""Messages that carry a trend chart: `/okr chart` and the objective menu's "Trend".

Pure: the picture itself is appended by bot/pictures.py as an image block; the text here says
what it shows in words (the alt text), so the message reads the same without the picture.
"""

from __future__ import annotations

from bot.blocks.text import STATUS_ICON, context, escape, section
from bot.okr.kinds import Status
from bot.okr.trend import KRTrend, ObjectiveTrend

CHART_HELP = (
    "Name an objective or key result of the running cycles: `/okr chart Grow revenue`. "
    "You can also pick *📈 Trend* in an objective's ⋯ menu."
)
CHARTS_OFF = (
    "Pictures are turned off in this workspace. An admin can turn them on in `/okr settings`."
)


def _status(status: Status | None) -> str:
    return "⚪ no status yet" if status is None else f"{STATUS_ICON[status]} {status.label}"


def build_chart_message(trend: KRTrend | ObjectiveTrend, *, alt_text: str) -> dict:
    """The heading and the words of a chart; the image block goes under it."""
    what = "Key result" if isinstance(trend, KRTrend) else "Objective"
    heading = f"📈 {what} *{escape(trend.title)}* · {_status(trend.status)}"
    return {
        "text": escape(alt_text),
        "blocks": [section(heading), context(escape(alt_text))],
    }


def build_no_match(words: str) -> dict:
    text = (
        f"No objective or key result of the running cycles is called “{escape(words)}”. "
        "`/okr status all` lists them."
    )
    return {"text": text, "blocks": [section(f"🔎 {text}")]}
