"""Trend charts as PNG: drawn from bot.okr.trend's dataclasses, no Slack and no database.

Each `draw_*` returns a `Picture`: PNG bytes, alt text that says in words what the picture
shows, and a content key (a hash of the data drawn and of this module's look) by which an
uploaded picture is found again instead of being drawn and uploaded twice.

Drawing: matplotlib's Agg canvas straight to PNG bytes (no pyplot, no global figure list).
matplotlib's rcParams are process-wide and `rc_context` swaps them, so one picture is drawn at
a time (`_DRAWING`); drawing is CPU-bound under the interpreter lock anyway, so two threads
would not draw faster together.

Readable on a phone: 960 px wide (Slack shows images at most ~360 px wide on phones and scales
this down by ~2.7x, hence fonts of 15-20 px and lines of 3 px). Colour-blind readable: a
status is never only its hue; it has a marker shape (● on track, ▲ at risk, ■ off track), a
word beside it, and the team bars a hatch. Hues follow Ladder's bars (🟩 🟨 🟥).
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from bot.okr.kinds import KRKind, Status
from bot.okr.numbers import format_value
from bot.okr.trend import KRTrend, ObjectiveBar, ObjectiveTrend, Point, TeamTrend

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.typing import RcKeyType

STYLE_VERSION = "3"  # change it when the look changes: cached uploads are then drawn again
DPI = 100
WIDTH_PX, HEIGHT_PX = 960, 540
TEAM_BARS_MAX = 10
ALT_TEXT_MAX = 2000  # Slack's image block alt_text limit

# The hues of 🟩 🟨 🟥 in Slack's emoji set, darkened where a thin line on white needs it; a
# marker shape, a symbol and a hatch for each, so that no status is only its hue.
NEUTRAL = "#5b6770"
_LOOKS = {  # colour, marker, symbol, hatch
    Status.ON_TRACK: ("#2e8540", "o", "●", ""),
    Status.AT_RISK: ("#d69e00", "^", "▲", "//"),
    Status.OFF_TRACK: ("#d62839", "s", "■", "xx"),
    Status.NOT_STARTED: (NEUTRAL, "D", "○", ".."),  # ⚪: no check-in yet, no verdict
    Status.NO_RECENT_DATA: (NEUTRAL, "v", "◌", "\\\\"),  # 💤: its last colour is old news
}
# Keyed by Status | None: no status yet is looked up with a default.
STATUS_COLOUR: dict[Status | None, str] = {s: look[0] for s, look in _LOOKS.items()}
STATUS_MARKER: dict[Status | None, str] = {s: look[1] for s, look in _LOOKS.items()}
STATUS_SYMBOL = {s: look[2] for s, look in _LOOKS.items()}
STATUS_HATCH: dict[Status | None, str] = {s: look[3] for s, look in _LOOKS.items()}
KR_LINESTYLES = ("-", "--", "-.", ":")
TARGET_WORD = {
    KRKind.INCREASE: "target",
    KRKind.DECREASE: "target",
    KRKind.AT_LEAST: "at least",
    KRKind.AT_MOST: "at most",
    KRKind.MILESTONE: "target:",
}

_STYLE: dict[RcKeyType, Any] = {
    "font.size": 15,
    "axes.titlesize": 19,
    "axes.labelsize": 15,
    "axes.edgecolor": "#c7ccd1",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": "#3d4750",
    "ytick.color": "#3d4750",
    "legend.fontsize": 13,
    "legend.frameon": False,
    "text.parse_math": False,  # a "$" in a title is a dollar, not mathtext
    "svg.hashsalt": "ladder",
}


_DRAWING = threading.Lock()


@dataclass(frozen=True)
class Picture:
    png: bytes
    alt_text: str
    width: int
    height: int


def content_key(kind: str, data: object) -> str:
    """A hash of what a chart shows: the same data draws the same picture."""
    return hashlib.sha256(f"{kind}|{STYLE_VERSION}|{data!r}".encode()).hexdigest()


# ------------------------------------------------------------------------------- words


def status_words(status: Status | None) -> str:
    return "no status yet" if status is None else status.label


def _shown(trend: KRTrend, value: float | None, *, approx: bool = False) -> str:
    """A KR's value in its unit; `approx`: to 3 significant digits (a pace, a projection)."""
    if trend.kind is KRKind.MILESTONE:
        return "done" if value is not None and value >= 1 else "not done"
    if approx and value is not None and value != 0:
        value = float(f"{value:.3g}")
    return format_value(value, unit=trend.unit, unit_label=trend.unit_label)


def _day(day: date) -> str:
    return f"{day:%b} {day.day}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


def _drawable(text: str, limit: int) -> str:
    """User text as the font can draw it: no emoji (no glyph), trimmed to fit a line."""
    kept = "".join(ch for ch in text if ord(ch) <= 0xFFFF and not 0xFE00 <= ord(ch) <= 0xFE0F)
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def kr_alt_text(trend: KRTrend) -> str:
    words = [f"Chart of key result “{trend.title}”, {status_words(trend.status)}."]
    if len(trend.points) > 1:
        first, last = trend.points[0], trend.points[-1]
        words.append(
            f"{len(trend.points)} check-ins: from {_shown(trend, first.value)} on "
            f"{_day(first.day)} to {_shown(trend, last.value)} on {_day(last.day)}."
        )
    elif trend.points:
        last = trend.points[-1]
        words.append(f"One check-in: {_shown(trend, last.value)} on {_day(last.day)}.")
    else:
        words.append("No check-ins yet.")
    if trend.has_pace:
        words.append(
            f"It started at {_shown(trend, trend.start_value)} and aims for "
            f"{_shown(trend, trend.target_value)} by {_day(trend.due)}; the expected pace "
            f"today is {_shown(trend, trend.expected_today, approx=True)}."
        )
    else:
        words.append(f"Target: {_shown(trend, trend.target_value)} by {_day(trend.due)}.")
    if trend.projected_value is not None:
        words.append(
            f"At the current rate it lands near {_shown(trend, trend.projected_value, approx=True)} on "
            f"{_day(trend.due)} (grade {trend.projected_grade:.1f})."
        )
    return " ".join(words)[:ALT_TEXT_MAX]


def objective_alt_text(trend: ObjectiveTrend) -> str:
    words = [f"Chart of objective “{trend.title}”, {status_words(trend.status)}."]
    if trend.points:
        last = trend.points[-1]
        words.append(
            f"Progress {_pct(last.value)} on {_day(last.day)}, against an expected "
            f"{_pct(trend.expected_today)} today on the way to 100% by {_day(trend.end)}."
        )
    else:
        words.append(f"No check-ins yet; the expected pace today is {_pct(trend.expected_today)}.")
    if trend.projected is not None:
        words.append(f"At the current rate it ends near {_pct(trend.projected)}.")
    if trend.krs:
        parts = [f"“{title}” {_pct(line[-1].value) if line else '0%'}" for title, line in trend.krs]
        words.append("Key results: " + "; ".join(parts) + ".")
    return " ".join(words)[:ALT_TEXT_MAX]


def _change(bar: ObjectiveBar) -> str:
    if bar.progress is None:
        return "nothing to measure yet"
    if bar.before is None:
        return f"{_pct(bar.progress)} (new)"
    points = round(bar.progress * 100) - round(bar.before * 100)
    return f"{_pct(bar.progress)} ({points:+d})"


def team_alt_text(trend: TeamTrend) -> str:
    words = [f"Chart of {trend.scope}'s objectives, week of {_day(trend.period)}."]
    for bar in trend.bars[:TEAM_BARS_MAX]:
        words.append(
            f"“{bar.title}”: {_change(bar)}, expected {_pct(bar.expected)}, "
            f"{status_words(bar.status)}."
        )
    if len(trend.bars) > TEAM_BARS_MAX:
        words.append(f"And {len(trend.bars) - TEAM_BARS_MAX} more objectives.")
    return " ".join(words)[:ALT_TEXT_MAX]


# ------------------------------------------------------------------------------ pictures


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _heading(figure: Figure, title: str, subtitle: str, status: Status | None) -> None:
    figure.text(0.02, 0.955, _drawable(title, 70), fontsize=19, fontweight="bold", va="top")
    colour = STATUS_COLOUR.get(status, NEUTRAL)
    badge = f"{STATUS_SYMBOL[status]} {status.label}" if status else "no status yet"
    figure.text(0.02, 0.875, badge, fontsize=15, fontweight="bold", color=colour, va="top")
    offset = 0.02 + 0.0128 * (len(badge) + 1)
    figure.text(offset, 0.875, subtitle, fontsize=15, color="#3d4750", va="top")


def _date_axis(axes: Axes, start: date, end: date, today: date, points: Sequence[Point]) -> None:
    """Dates left to right over `start`..`end` (in either order: a KR written after its due
    date), widened to show every check-in (a late one, after the due date, too)."""
    days = [start, end, *(p.day for p in points)]
    start, end = min(days), max(days)
    margin = timedelta(days=max(1, (end - start).days // 40))
    axes.set_xlim(date2num(start - margin), date2num(end + margin))
    locator = AutoDateLocator(minticks=3, maxticks=6)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(DateFormatter("%b %-d"))
    if start <= today <= end:
        axes.axvline(date2num(today), color="#aab2b9", linewidth=1.5, zorder=1)
        axes.annotate(
            "today",
            (date2num(today), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 3),
            textcoords="offset points",
            fontsize=12,
            color="#7a858f",
            ha="center",
            va="bottom",
        )
    axes.grid(axis="y", color="#eceff1", linewidth=1)


def _xs(points: Sequence[Point]) -> list[float]:
    return [float(date2num(p.day)) for p in points]


def _note(
    axes: Axes, text: str, xy: tuple[float, float], offset: tuple[int, int], **style: Any
) -> None:
    """`text` at `xy` (x as a fraction of the axes, y in data), moved by `offset` points.

    Placed once the y range is final (this reads it) and held inside it: a note beyond the
    range would be drawn off the figure, and one far beyond it could not be drawn at all
    (FreeType refuses a glyph thousands of pixels away: "raster overflow")."""
    low, high = sorted(axes.get_ylim())
    x, y = xy
    coords = ("axes fraction", "data")
    axes.annotate(
        text,
        (x, min(max(y, low), high)),
        xycoords=coords,
        xytext=offset,
        textcoords="offset points",
        **style,
    )


def _spread(values: Sequence[float], *, gap: float, low: float, high: float) -> list[float]:
    """Heights for labels at these ascending values: each at its value where it can be, at
    least `gap` apart, and all within `low`..`high` (as long as they fit there)."""
    placed: list[float] = []
    for value in values:
        floor = placed[-1] + gap if placed else low
        placed.append(max(value, low, floor))
    ceiling = high
    for i in reversed(range(len(placed))):
        placed[i] = min(placed[i], ceiling)
        ceiling = placed[i] - gap
    return placed


def _pace_line(axes: Axes, xs: list[Any], ys: list[float]) -> None:
    axes.plot(
        xs, ys, linestyle=(0, (6, 4)), color=NEUTRAL, linewidth=2, label="expected pace", zorder=2
    )


def _at_this_rate(
    axes: Axes, last: Point, end_x: Any, value: float, colour: str, zorder: int
) -> None:
    """The projection: a dotted line from the latest point to where the current rate leads."""
    axes.plot(
        [date2num(last.day), end_x],
        [last.value, value],
        color=colour,
        linestyle=":",
        linewidth=2.5,
        label="at this rate",
        zorder=zorder,
    )


def draw_kr(trend: KRTrend) -> Picture:
    with _DRAWING, rc_context(_STYLE):
        figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        axes = figure.add_axes((0.12, 0.19, 0.84, 0.57))
        colour = STATUS_COLOUR[trend.status]
        marker = STATUS_MARKER[trend.status]
        start_x, due_x = date2num(trend.pace_start), date2num(trend.due)
        if trend.has_pace:
            _pace_line(axes, [start_x, due_x], [trend.start_value, trend.target_value])
            axes.axhline(trend.start_value, color="#aab2b9", linestyle=":", linewidth=1.5)
        axes.axhline(trend.target_value, color="#1d2329", linewidth=1.5, zorder=2)
        xs, ys = _xs(trend.points), [p.value for p in trend.points]
        if trend.has_pace or trend.kind is KRKind.MILESTONE:  # from where the KR started
            xs, ys = [float(start_x), *xs], [trend.start_value, *ys]
        drawstyle = "steps-post" if trend.kind is KRKind.MILESTONE else "default"
        if xs:
            axes.plot(xs, ys, color=colour, linewidth=3, drawstyle=drawstyle, zorder=4)
        if trend.points:
            axes.plot(
                _xs(trend.points),
                [p.value for p in trend.points],
                linestyle="none",
                marker=marker,
                markersize=10,
                markerfacecolor=colour,
                markeredgecolor="white",
                markeredgewidth=1.5,
                label="check-ins",
                zorder=5,
            )
        if trend.projected_value is not None and trend.points:
            _at_this_rate(axes, trend.points[-1], due_x, trend.projected_value, colour, zorder=3)
            axes.plot(
                [due_x],
                [trend.projected_value],
                marker=marker,
                markersize=11,
                markerfacecolor="white",
                markeredgecolor=colour,
                markeredgewidth=2.5,
                zorder=5,
            )
        if trend.kind is KRKind.MILESTONE:
            axes.set_ylim(-0.15, 1.3)
            axes.set_yticks([0, 1], ["not done", "done"])
        else:
            axes.yaxis.set_major_locator(MaxNLocator(5))
            axes.yaxis.set_major_formatter(
                FuncFormatter(lambda v, _pos: format_value(v, unit=trend.unit, unit_label=None))
            )
            axes.margins(y=0.12)
        _date_axis(axes, trend.pace_start, trend.due, trend.today, trend.points)
        if trend.has_pace:
            label = f"start {_shown(trend, trend.start_value)}"
            style = {"fontsize": 13, "color": "#7a858f", "ha": "right"}
            _note(axes, label, (1.0, trend.start_value), (-4, 4), **style)
        target = f"{TARGET_WORD[trend.kind]} {_shown(trend, trend.target_value)}"
        _note(axes, target, (0.0, trend.target_value), (4, 4), fontsize=13)
        current = trend.points[-1].value if trend.points else None
        subtitle = f"· {_shown(trend, current)} now"
        if trend.projected_value is not None:
            subtitle += (
                f" · lands near {_shown(trend, trend.projected_value, approx=True)} by {_day(trend.due)}"
                f" (grade {trend.projected_grade:.1f})"
            )
        elif trend.expected_today is not None:
            subtitle += f" · pace today {_shown(trend, trend.expected_today, approx=True)}"
        _heading(figure, trend.title, subtitle, trend.status)
        handles, labels = axes.get_legend_handles_labels()
        if handles:
            figure.legend(handles, labels, loc="lower left", ncols=3, bbox_to_anchor=(0.08, 0.0))
        png = _png(figure)
    return Picture(png, kr_alt_text(trend), WIDTH_PX, HEIGHT_PX)


def draw_objective(trend: ObjectiveTrend) -> Picture:
    with _DRAWING, rc_context(_STYLE):
        figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        axes = figure.add_axes((0.09, 0.19, 0.72, 0.57))
        colour = STATUS_COLOUR.get(trend.status, NEUTRAL)
        marker = STATUS_MARKER.get(trend.status, "o")
        start_x, end_x = date2num(trend.start), date2num(trend.end)
        _pace_line(axes, [start_x, end_x], [0, 1])
        ends: list[tuple[float, str]] = []
        for i, (title, line) in enumerate(trend.krs[:8]):
            if not line:
                continue
            axes.plot(
                [float(start_x), *_xs(line)],
                [0.0, *[p.value for p in line]],
                color="#8a96a0",
                linewidth=1.3,
                linestyle=KR_LINESTYLES[i % len(KR_LINESTYLES)],
                zorder=3,
            )
            ends.append((line[-1].value, f"KR{i + 1} {_drawable(title, 16)}"))
        if trend.points:
            axes.plot(
                [float(start_x), *_xs(trend.points)],
                [0.0, *[p.value for p in trend.points]],
                color=colour,
                linewidth=3.5,
                marker=marker,
                markevery=list(range(1, len(trend.points) + 1)),
                markersize=10,
                markerfacecolor=colour,
                markeredgecolor="white",
                label="objective",
                zorder=5,
            )
            if trend.projected is not None:
                _at_this_rate(axes, trend.points[-1], end_x, trend.projected, colour, zorder=4)
        low, high = -0.03, 1.08
        axes.set_ylim(low, high)
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.yaxis.set_major_locator(MaxNLocator(5))
        _date_axis(axes, trend.start, trend.end, trend.today, trend.points)
        # Each KR's name in the right margin at its latest value, nudged apart to stay legible.
        ends.sort()
        heights = _spread([value for value, _ in ends], gap=0.075, low=low, high=high)
        for (_, label), y in zip(ends, heights, strict=True):
            style = {"fontsize": 11, "color": "#5b6770", "va": "center", "annotation_clip": False}
            _note(axes, label, (1.0, y), (6, 0), **style)
        now = trend.points[-1].value if trend.points else None
        subtitle = f"· {_pct(now)} now, {_pct(trend.expected_today)} expected"
        if trend.projected is not None:
            subtitle += f" · ends near {_pct(trend.projected)}"
        _heading(figure, trend.title, subtitle, trend.status)
        handles, labels = axes.get_legend_handles_labels()
        if trend.krs:
            labels.append("key results")
            handles.append(axes.plot([], [], color="#8a96a0", linewidth=1.3)[0])
        figure.legend(handles, labels, loc="lower left", ncols=4, bbox_to_anchor=(0.07, 0.0))
        png = _png(figure)
    return Picture(png, objective_alt_text(trend), WIDTH_PX, HEIGHT_PX)


def team_height(trend: TeamTrend) -> int:
    bars = min(len(trend.bars), TEAM_BARS_MAX)
    return max(HEIGHT_PX, 150 + 62 * bars)


def draw_team(trend: TeamTrend) -> Picture:
    bars = list(trend.bars[:TEAM_BARS_MAX])
    height = team_height(trend)
    with _DRAWING, rc_context(_STYLE):
        figure = Figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI)
        top = 1 - 120 / height
        axes = figure.add_axes((0.03, 50 / height, 0.94, top - 50 / height))
        n = len(bars)
        for row, bar in enumerate(bars):
            y = n - 1 - row
            colour = STATUS_COLOUR.get(bar.status, NEUTRAL)
            hatch = STATUS_HATCH.get(bar.status, "")
            now = bar.progress or 0.0
            before = min(bar.before if bar.before is not None else 0.0, now)
            axes.barh(y, 1.0, height=0.42, color="#f0f2f4", zorder=1)
            style: dict[str, Any] = {"color": colour, "hatch": hatch, "edgecolor": "white"}
            if before > 0:  # where it stood a week ago, lighter
                axes.barh(y, before, height=0.42, alpha=0.45, zorder=2, **style)
            axes.barh(y, now - before, left=before, height=0.42, zorder=3, **style)
            axes.plot(
                [bar.expected, bar.expected],
                [y - 0.3, y + 0.3],
                color="#1d2329",
                linewidth=2.5,
                zorder=4,
            )
            symbol = STATUS_SYMBOL[bar.status] + " " if bar.status else ""
            axes.text(0.0, y + 0.28, _drawable(bar.title, 64), fontsize=14, va="bottom", ha="left")
            axes.text(
                1.0,
                y + 0.28,
                f"{symbol}{_change(bar)} · {status_words(bar.status)}",
                fontsize=14,
                va="bottom",
                ha="right",
                color=colour,
                fontweight="bold",
            )
        axes.set_xlim(0, 1)
        axes.set_ylim(-0.6, n - 0.1 + 0.4)
        axes.set_yticks([])
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        axes.spines["left"].set_visible(False)
        title = _drawable(f"{trend.scope} · objectives", 60)
        figure.text(0.03, 1 - 20 / height, title, fontsize=19, fontweight="bold", va="top")
        subtitle = f"Week of {_day(trend.period)} · lighter: a week ago · black tick: expected pace"
        figure.text(0.03, 1 - 62 / height, subtitle, fontsize=14, color="#3d4750", va="top")
        if len(trend.bars) > TEAM_BARS_MAX:
            figure.text(
                0.97, 0.01, f"+{len(trend.bars) - TEAM_BARS_MAX} more", ha="right", fontsize=12
            )
        png = _png(figure)
    return Picture(png, team_alt_text(trend), WIDTH_PX, height)
