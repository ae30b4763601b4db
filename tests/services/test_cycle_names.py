from __future__ import annotations

from datetime import date

from bot.services.cycles import dates_for_name, quarter_of


def test_conventional_names() -> None:
    assert dates_for_name("Q1 2027") == (date(2027, 1, 1), date(2027, 3, 31))
    assert dates_for_name("q4 2026") == (date(2026, 10, 1), date(2026, 12, 31))
    assert dates_for_name("H2 2026") == (date(2026, 7, 1), date(2026, 12, 31))
    assert dates_for_name("2028") == (date(2028, 1, 1), date(2028, 12, 31))
    assert dates_for_name("Sprint 7") is None


def test_quarter_of_today() -> None:
    assert quarter_of(date(2026, 11, 24)) == ("Q4 2026", date(2026, 10, 1), date(2026, 12, 31))
    assert quarter_of(date(2024, 2, 29))[2] == date(2024, 3, 31)
