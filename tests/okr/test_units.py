from __future__ import annotations

import pytest

from bot.okr.kinds import UnitKind
from bot.okr.units import parse_unit, unit_text


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("", (UnitKind.NUMBER, None)),
        ("%", (UnitKind.PERCENT, None)),
        ("$", (UnitKind.CURRENCY, "USD")),
        ("€", (UnitKind.CURRENCY, "EUR")),
        ("CHF", (UnitKind.CURRENCY, "CHF")),
        ("ms", (UnitKind.DURATION, "ms")),
        ("Hours", (UnitKind.DURATION, "h")),
        (" active   users ", (UnitKind.NUMBER, "active users")),
        ("NPS", (UnitKind.NUMBER, "NPS")),
        ("chf", (UnitKind.CURRENCY, "CHF")),
    ],
)
def test_parse_unit(typed: str, parsed: tuple) -> None:
    assert parse_unit(typed) == parsed


@pytest.mark.parametrize(
    ("unit", "label"),
    [
        (UnitKind.PERCENT, None),
        (UnitKind.CURRENCY, "USD"),
        (UnitKind.CURRENCY, "CHF"),
        (UnitKind.DURATION, "ms"),
        (UnitKind.NUMBER, "active users"),
        (UnitKind.NUMBER, None),
    ],
)
def test_unit_text_round_trips(unit: UnitKind, label: str | None) -> None:
    assert parse_unit(unit_text(unit, label)) == (unit, label)
