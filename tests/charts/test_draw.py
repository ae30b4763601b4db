"""The pictures: PNGs of the promised size, alt text in words, a stable content key."""

from __future__ import annotations

import io
import itertools
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.charts import (
    HEIGHT_PX,
    WIDTH_PX,
    _spread,
    content_key,
    draw_kr,
    draw_objective,
    draw_team,
    team_height,
)
from bot.okr.kinds import KRKind, Status, UnitKind
from bot.okr.limits import VALUE_MAX_ABS
from bot.okr.trend import (
    KRHistory,
    KRTrend,
    ObjectiveBar,
    Reading,
    TeamTrend,
    kr_trend,
    objective_trend,
)

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


def test_a_check_in_past_the_due_date_projects_nothing() -> None:
    late = kr_trend(
        title="Ship the mobile app",
        kind=KRKind.INCREASE,
        unit=UnitKind.NUMBER,
        unit_label=None,
        start_value=0,
        target_value=10,
        pace_start=START,
        due=DUE,
        today=DUE + timedelta(days=5),
        readings=[Reading(date(2026, 2, 1), 4), Reading(DUE + timedelta(days=3), 9)],
        status=Status.AT_RISK,
    )
    assert late.projected_value is None and late.projected_grade is None
    picture = draw_kr(late)
    assert size(picture.png) == (WIDTH_PX, HEIGHT_PX)
    assert "lands near" not in picture.alt_text and "to 9 on Apr 3" in picture.alt_text


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


# ------------------------------------------------------------- every trend draws a picture
# A note placed at a value far outside the axes used to be rendered thousands of pixels off
# the figure, and FreeType refused the glyph ("raster overflow"): the message went out without
# its chart. Whatever the values and dates, a chart must draw at its size.

DAY = st.integers(-120, 400).map(lambda n: START + timedelta(days=n))
VALUE = st.one_of(
    st.sampled_from([0.0, 1.0, 1e6, -1e6, VALUE_MAX_ABS, -VALUE_MAX_ABS, 0.001]),
    st.floats(-VALUE_MAX_ABS, VALUE_MAX_ABS, allow_nan=False),
)
READINGS = st.lists(st.builds(Reading, DAY, st.one_of(st.none(), VALUE)), max_size=4)


def a_kr(kind: KRKind, **values: Any) -> KRTrend:
    defaults: dict[str, Any] = {
        "title": f"A {kind.value}",
        "unit": UnitKind.NUMBER,
        "unit_label": None,
        "start_value": 0,
        "target_value": 100,
        "pace_start": START,
        "due": DUE,
        "today": TODAY,
        "readings": [],
        "status": Status.AT_RISK,
    }
    return kr_trend(kind=kind, **(defaults | values))


def test_a_value_off_the_chart_still_draws() -> None:
    after_due = date(2026, 4, 20)
    trends = [
        a_kr(KRKind.MILESTONE, target_value=1e6),  # its target: far above "done"
        a_kr(KRKind.MILESTONE, target_value=1e6, readings=[Reading(date(2026, 2, 1), 1)]),
        a_kr(KRKind.MILESTONE, target_value=-1e6, readings=[Reading(date(2026, 2, 1), 0)]),
        a_kr(KRKind.INCREASE, readings=[Reading(after_due, 50)], today=after_due),
        a_kr(KRKind.INCREASE, target_value=1e6, readings=[Reading(after_due, 5e5)]),
        a_kr(KRKind.INCREASE, pace_start=date(2026, 4, 10), readings=[Reading(after_due, 50)]),
        a_kr(KRKind.AT_MOST, start_value=None, target_value=1e6, readings=[Reading(TODAY, -1)]),
    ]
    for trend in trends:
        picture = draw_kr(trend)
        assert size(picture.png) == (WIDTH_PX, HEIGHT_PX), trend


def test_a_milestone_is_done_or_not_whatever_numbers_it_holds() -> None:
    trend = a_kr(
        KRKind.MILESTONE,
        start_value=5,
        target_value=1e6,
        readings=[Reading(date(2026, 1, 20), 0), Reading(date(2026, 2, 1), 1e6)],
    )
    # drawn on the chart's two rows: not done (0) and done (1)
    assert (trend.start_value, trend.target_value) == (1.0, 1.0)
    assert [p.value for p in trend.points] == [0.0, 1.0]
    assert "Target: done by Mar 31." in draw_kr(trend).alt_text


def test_the_kr_names_beside_an_objective_stay_inside_its_chart() -> None:
    lo, hi = -0.03, 1.08
    for values in ([1.0] * 8, [0.0] * 8, [0.5, 0.5, 0.52, 1.0], [0.2], []):
        placed = _spread(sorted(values), gap=0.075, low=lo, high=hi)
        assert len(placed) == len(values)
        assert all(lo <= y <= hi for y in placed), placed
        assert all(b - a >= 0.075 - 1e-9 for a, b in itertools.pairwise(placed)), placed
    assert _spread([0.2, 0.6], gap=0.075, low=lo, high=hi) == [0.2, 0.6]  # apart: as they are
    full = objective_trend(
        title="Eight KRs, all done",
        start=START,
        end=DUE,
        today=TODAY,
        krs=[
            KRHistory(f"KR {i}", KRKind.INCREASE, 0, 10, 1, [Reading(TODAY, 10)]) for i in range(8)
        ],
        status=Status.ON_TRACK,
    )
    assert size(draw_objective(full).png) == (WIDTH_PX, HEIGHT_PX)


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(KRKind),
    start=st.one_of(st.none(), VALUE),
    target=VALUE,
    pace_start=DAY,
    due=DAY,
    today=DAY,
    readings=READINGS,
)
def test_any_kr_draws(
    kind: KRKind,
    start: float | None,
    target: float,
    pace_start: date,
    due: date,
    today: date,
    readings: list[Reading],
) -> None:
    trend = a_kr(
        kind,
        start_value=start,
        target_value=target,
        pace_start=pace_start,
        due=due,
        today=today,
        readings=readings,
    )
    assert size(draw_kr(trend).png) == (WIDTH_PX, HEIGHT_PX)


@settings(max_examples=15, deadline=None)
@given(
    start=DAY,
    end=DAY,
    today=DAY,
    krs=st.lists(
        st.builds(
            KRHistory,
            st.just("KR"),
            st.sampled_from(KRKind),
            st.one_of(st.none(), VALUE),
            VALUE,
            st.floats(0.1, 10),
            READINGS,
        ),
        max_size=9,
    ),
)
def test_any_objective_draws(start: date, end: date, today: date, krs: list[KRHistory]) -> None:
    trend = objective_trend(title="O", start=start, end=end, today=today, krs=krs, status=None)
    assert size(draw_objective(trend).png) == (WIDTH_PX, HEIGHT_PX)
