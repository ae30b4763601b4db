"""The unit a person types next to a KR ("%", "$", "ms", "active users") and back."""

from __future__ import annotations

from bot.okr.kinds import UnitKind
from bot.okr.numbers import CURRENCY_SYMBOLS

# Symbols and words; a code ("usd", "CHF") is looked up in _ISO_CURRENCIES.
_CURRENCIES = {**CURRENCY_SYMBOLS, "dollars": "USD", "euros": "EUR"}
_DURATIONS = {
    word: label
    for label, words in {
        "ms": "ms millisecond milliseconds",
        "s": "s sec second seconds",
        "min": "min minute minutes",
        "h": "h hr hour hours",
        "d": "d day days",
    }.items()
    for word in words.split()
}
# Known codes only: a three-letter label like "NPS" or "ARR" is not money.
_ISO_CURRENCIES = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CHF",
        "CAD",
        "AUD",
        "NZD",
        "CNY",
        "HKD",
        "SGD",
        "INR",
        "KRW",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "BRL",
        "MXN",
        "ZAR",
    ]
)
_SYMBOLS = {code: symbol for symbol, code in CURRENCY_SYMBOLS.items()}


def parse_unit(text: str) -> tuple[UnitKind, str | None]:
    """'%' -> percent; '$'/'EUR' -> currency; 'ms'/'hours' -> duration; else a free label."""
    cleaned = " ".join(text.split())
    key = cleaned.casefold()
    if not key:
        return UnitKind.NUMBER, None
    if key in ("%", "percent", "pct"):
        return UnitKind.PERCENT, None
    if key in _CURRENCIES:
        return UnitKind.CURRENCY, _CURRENCIES[key]
    if cleaned.upper() in _ISO_CURRENCIES:
        return UnitKind.CURRENCY, cleaned.upper()
    if key in _DURATIONS:
        return UnitKind.DURATION, _DURATIONS[key]
    return UnitKind.NUMBER, cleaned


def unit_text(unit: UnitKind, label: str | None) -> str:
    """What to prefill in a unit field: the inverse of parse_unit."""
    if unit is UnitKind.PERCENT:
        return "%"
    if unit is UnitKind.CURRENCY:
        return _SYMBOLS.get(label or "", label or "$")
    return label or ""
