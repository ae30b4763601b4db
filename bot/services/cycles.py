"""Cycle naming and dates: "Q1 2027", "H2 2026", "2027", or explicit dates."""

from __future__ import annotations

import re
from datetime import date, timedelta

_QUARTER = re.compile(r"^q([1-4])\s*(?:fy)?\s*(\d{4})$", re.IGNORECASE)
_HALF = re.compile(r"^h([12])\s*(\d{4})$", re.IGNORECASE)
_YEAR = re.compile(r"^(?:fy\s*)?(\d{4})$", re.IGNORECASE)


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def dates_for_name(name: str) -> tuple[date, date] | None:
    """Calendar dates for a conventional cycle name, or None if the name is not one."""
    key = " ".join(name.split())
    if m := _QUARTER.match(key):
        q, year = int(m[1]), int(m[2])
        return date(year, 3 * q - 2, 1), _month_end(year, 3 * q)
    if m := _HALF.match(key):
        h, year = int(m[1]), int(m[2])
        return date(year, 6 * h - 5, 1), _month_end(year, 6 * h)
    if m := _YEAR.match(key):
        year = int(m[1])
        return date(year, 1, 1), date(year, 12, 31)
    return None


def quarter_of(today: date) -> tuple[str, date, date]:
    q = (today.month - 1) // 3 + 1
    return f"Q{q} {today.year}", date(today.year, 3 * q - 2, 1), _month_end(today.year, 3 * q)
