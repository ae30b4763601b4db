"""Trend charts as PNG: drawn from bot.okr.trend's dataclasses, no Slack and no database.

Each `draw_*` returns a `Picture`: PNG bytes, alt text that says in words what the picture
shows, and a content key (a hash of the data drawn and of this module's look) by which an
uploaded picture is found again instead of being drawn and uploaded twice.
"""

from bot.charts.draw import (
    HEIGHT_PX,
    STYLE_VERSION,
    WIDTH_PX,
    Picture,
    content_key,
    draw_kr,
    draw_objective,
    draw_team,
)

__all__ = [
    "HEIGHT_PX",
    "STYLE_VERSION",
    "WIDTH_PX",
    "Picture",
    "content_key",
    "draw_kr",
    "draw_objective",
    "draw_team",
]
