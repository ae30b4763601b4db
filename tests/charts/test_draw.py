"""The pictures: PNGs of the promised size, alt text in words, a stable content key."""

from __future__ import annotations

import io
from datetime import date

from PIL import Image

from bot.charts import (
    HEIGHT_PX,
    WIDTH_PX,
    content_key,
    draw_kr,
    draw_objective,
    draw_team,
    team_height,
)
from bot.okr.kinds import KRKind, Status, UnitKind
from bot.okr.trend import KRHistory, ObjectiveBar, Reading, TeamTrend, kr_trend, objective_trend

START, DUE, TODAY = date(2026, 1, 1), date(2026, 3, 31), date(2026, 2, 16)


def revenue(title: str = "Grow revenue to $1.2M ARR 💰") -> object:
    return kr_trend(
        title=title,
        kind=KRKind.INCREASE,
        unit=UnitKind.CURRENCY,
        unit_label="USD",
        start_value=500_000,
        target_value=1_200_000,
        pace_start=START,
        due=DUE,
        today=TODAY,
        readings=[Reading(date(2026, 1, 19), 520_000), Reading(date(2026, 2, 16), 560_000)],
        status=Status.OFF_TRACK,
    )


def size(png: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.size


def test_kr_picture_and_its_words() -> None:
    picture = draw_kr(revenue())  # type: ignore[arg-type]
    assert size(picture.png) == (WIDTH_PX, HEIGHT_PX) == (picture.width, picture.height)
    # "$" is a dollar (no mathtext), the emoji is dropped from the drawing, kept in words.
    assert picture.alt_text.startswith(
        "Chart of key result “Grow revenue to $1.2M ARR 💰”, off track."
    )
    assert "from $520k on Jan 19 to $560k on Feb 16" in picture.alt_text
    assert "lands near $616k on Mar 31 (grade 0.2)" in picture.alt_text


def test_objective_and_team_pictures() -> None:
    objective = objective_trend(
        title="Be the default OKR tool",
        start=START,
        end=DUE,
        today=TODAY,
        krs=[KRHistory("Customers", KRKind.INCREASE, 0, 100, 1, [Reading(date(2026, 2, 1), 40)])],
        status=Status.AT_RISK,
    )
    picture = draw_objective(objective)
    assert size(picture.png) == (WIDTH_PX, HEIGHT_PX)
    assert "“Customers” 40%" in picture.alt_text and "at risk" in picture.alt_text
    bars = tuple(
        ObjectiveBar(f"Objective {i}", 0.1 * i, 0.05 * i, 0.5, Status.ON_TRACK) for i in range(12)
    )
    team = TeamTrend("Platform", TODAY, bars)
    picture = draw_team(team)
    assert size(picture.png) == (WIDTH_PX, team_height(team)) and team_height(team) > HEIGHT_PX
    assert "And 2 more objectives." in picture.alt_text


def test_content_key_follows_the_data() -> None:
    assert content_key("kr", revenue()) == content_key("kr", revenue())
    assert content_key("kr", revenue()) != content_key("kr", revenue("Other"))
    assert content_key("kr", revenue()) != content_key("objective", revenue())


def test_every_status_has_a_colour_a_shape_a_symbol_and_a_hatch() -> None:
    from bot.charts import STATUS_COLOUR, STATUS_HATCH, STATUS_MARKER, STATUS_SYMBOL
    from bot.okr.kinds import Status

    for table in (STATUS_COLOUR, STATUS_MARKER, STATUS_SYMBOL, STATUS_HATCH):
        assert set(table) == set(Status), table
    # shapes and symbols tell statuses apart without colour
    assert len(set(STATUS_MARKER.values())) == len(Status)
    assert len(set(STATUS_SYMBOL.values())) == len(Status)
