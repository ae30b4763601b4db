"""Draws the example charts of docs/charts.md into docs/charts/ (run from the repository root:
`.venv/bin/python scripts/chart_examples.py`). Plain data, no database or Slack."""

from datetime import date

from bot.charts import draw_kr, draw_objective, draw_team
from bot.okr.kinds import KRKind, Status, UnitKind
from bot.okr.trend import KRHistory, ObjectiveBar, Reading, TeamTrend, kr_trend, objective_trend


def examples():
    s, e, today = date(2026, 1, 1), date(2026, 3, 31), date(2026, 2, 16)
    readings = [
        Reading(date(2026, 1, 12), 180),
        Reading(date(2026, 1, 19), 260),
        Reading(date(2026, 1, 26), 310),
        Reading(date(2026, 2, 2), 390),
        Reading(date(2026, 2, 9), 420),
        Reading(date(2026, 2, 16), 470),
    ]
    kr = kr_trend(
        title="Reach 1,000 paying customers",
        kind=KRKind.INCREASE,
        unit=UnitKind.NUMBER,
        unit_label="customers",
        start_value=100,
        target_value=1000,
        pace_start=s,
        due=e,
        today=today,
        readings=readings,
        status=Status.AT_RISK,
    )
    kr2 = kr_trend(
        title="Cut p95 API latency",
        kind=KRKind.DECREASE,
        unit=UnitKind.DURATION,
        unit_label="ms",
        start_value=250,
        target_value=100,
        pace_start=s,
        due=date(2026, 3, 1),
        today=today,
        readings=[
            Reading(date(2026, 1, 12), 230),
            Reading(date(2026, 1, 26), 180),
            Reading(date(2026, 2, 9), 150),
            Reading(date(2026, 2, 16), 135),
        ],
        status=Status.ON_TRACK,
    )
    kr3 = kr_trend(
        title="Grow revenue to $1.2M ARR 💰",
        kind=KRKind.INCREASE,
        unit=UnitKind.CURRENCY,
        unit_label="USD",
        start_value=500000,
        target_value=1200000,
        pace_start=s,
        due=e,
        today=today,
        readings=[Reading(date(2026, 1, 19), 520000), Reading(date(2026, 2, 16), 560000)],
        status=Status.OFF_TRACK,
    )
    obj = objective_trend(
        title="Become the default OKR tool for small teams",
        start=s,
        end=e,
        today=today,
        status=Status.AT_RISK,
        krs=[
            KRHistory("Reach 1,000 paying customers", KRKind.INCREASE, 100, 1000, 1, readings),
            KRHistory(
                "Cut p95 API latency",
                KRKind.DECREASE,
                250,
                100,
                1,
                [
                    Reading(date(2026, 1, 12), 230),
                    Reading(date(2026, 1, 26), 180),
                    Reading(date(2026, 2, 9), 150),
                    Reading(date(2026, 2, 16), 135),
                ],
            ),
            KRHistory(
                "Launch the Slack app directory listing",
                KRKind.MILESTONE,
                0,
                1,
                1,
                [Reading(date(2026, 2, 2), 1)],
            ),
        ],
    )
    team = TeamTrend(
        "Platform",
        date(2026, 2, 16),
        (
            ObjectiveBar(
                "Become the default OKR tool for small teams", 0.49, 0.42, 0.52, Status.AT_RISK
            ),
            ObjectiveBar("Make the API fast", 0.71, 0.60, 0.52, Status.ON_TRACK),
            ObjectiveBar("Grow revenue", 0.09, 0.06, 0.52, Status.OFF_TRACK),
            ObjectiveBar("Hire two engineers", None, None, 0.52, None),
            ObjectiveBar("Open the Tokyo office", 0.3, None, 0.52, Status.ON_TRACK),
        ),
    )
    launch = kr_trend(
        title="Launch in the Slack app directory",
        kind=KRKind.MILESTONE,
        unit=UnitKind.NUMBER,
        unit_label=None,
        start_value=0,
        target_value=1,
        pace_start=s,
        due=e,
        today=today,
        readings=[Reading(date(2026, 2, 9), 1)],
        status=Status.ON_TRACK,
    )
    nps = kr_trend(
        title="Keep NPS at 9 or higher",
        kind=KRKind.AT_LEAST,
        unit=UnitKind.NUMBER,
        unit_label="NPS",
        start_value=None,
        target_value=9,
        pace_start=s,
        due=e,
        today=today,
        readings=[
            Reading(date(2026, 1, 12), 8.6),
            Reading(date(2026, 1, 26), 9.1),
            Reading(date(2026, 2, 9), 8.8),
        ],
        status=Status.OFF_TRACK,
    )
    return {
        "kr-milestone": draw_kr(launch),
        "kr-threshold": draw_kr(nps),
        "kr-at-risk": draw_kr(kr),
        "kr-decrease-on-track": draw_kr(kr2),
        "kr-off-track": draw_kr(kr3),
        "objective": draw_objective(obj),
        "team": draw_team(team),
    }


if __name__ == "__main__":
    for name, pic in examples().items():
        with open(f"docs/charts/{name}.png", "wb") as out:
            out.write(pic.png)
        print(name, len(pic.png), pic.alt_text)
