"""Numbers as people type them in key results, and their compact display.

Values are kept as typed: 90 with unit PERCENT means 90%, never 0.9.
"""

from __future__ import annotations

import math
import re

from bot.okr.kinds import UnitKind
from bot.okr.limits import VALUE_MAX_ABS

# Symbols a person puts before an amount, and the ISO code stored as the unit label.
CURRENCY_SYMBOLS: dict[str, str] = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
# Codes and words accepted after an amount ("5,000 GBP", "20k dollars").
CURRENCY_WORDS: dict[str, str] = {
    **{code.lower(): code for code in ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "INR")},
    "dollar": "USD",
    "dollars": "USD",
    "euro": "EUR",
    "euros": "EUR",
}
# Only these get a symbol on display; other codes follow the amount ("5,000 GBP").
_DISPLAY_SYMBOLS = {"USD": "$", "EUR": "€"}

_SCALE_WORDS = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
SCALE_SUFFIXES: dict[str, float] = {
    **_SCALE_WORDS,
    "k": 1e3,
    **dict.fromkeys(("m", "mm", "mn"), 1e6),  # mm: finance shorthand
    **dict.fromkeys(("b", "bn"), 1e9),
    **dict.fromkeys(("t", "tn"), 1e12),
}
_UNIT_WORDS = {
    word: value
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_TENS_WORDS = {
    word: 10 * (i + 2)
    for i, word in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    )
}
NUMBER_WORDS = frozenset({*_UNIT_WORDS, *_TENS_WORDS, *_SCALE_WORDS, "hundred"})

_MAX_TEXT = 100  # nobody types a single number longer than this; bounds the regex work
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2212": "-"})

# Sign, currency symbol, core, percent, currency code: "-$1.2M", "30 %", "5,000 GBP".
_AFFIX_RE = re.compile(
    r"(?P<sign>[+-])?\s*(?P<symbol>[$€£¥])?\s*(?P<core>.+?)"
    r"\s*(?P<percent>%|percent|per cent)?"
    rf"\s*(?P<code>{'|'.join(sorted(CURRENCY_WORDS, key=len, reverse=True))})?"
)
# The digits of an amount, with an optional scale suffix ("1,000", "1 000 000", "1.5k", "1e6").
_DIGITS_RE = re.compile(
    r"""
    (?P<num>
        \d{1,3}(?:,\d{3})+(?:\.\d+)?      # 1,000,000.5
      | \d{1,3}(?:\ \d{3})+(?:\.\d+)?     # 1 000 000 (space as thousands separator)
      | \d+(?:\.\d*)?(?:e[+-]?\d+)?       # 42, 0.25, 5., 1e6
      | \.\d+(?:e[+-]?\d+)?               # .5
    )
    \s*(?P<suffix>[a-z]+)?
    """,
    re.VERBOSE,
)
_NAN_INF_RE = re.compile(r"[+-]?\s*(?P<word>nan|inf|infinity|∞)")


class NumberInputError(ValueError):
    """A typed value that is not a usable number; `message` is written for the person."""

    @property
    def message(self) -> str:
        return str(self)


def parse_number(text: str) -> float | None:
    """One number as typed ("1,000", "1.5k", "$1.2M", "30%", "twenty-five thousand").

    Returns None when the text is not a number, and never NaN or ±inf.
    """
    value = _parse(text)
    # + 0.0 turns -0.0 into 0.0: "-0" is just zero.
    return value + 0.0 if value is not None and math.isfinite(value) else None


def parse_number_input(text: str, *, max_abs: float = VALUE_MAX_ABS) -> float:
    """A value typed into a form field, or NumberInputError saying what to fix."""
    stripped = (text or "").translate(_SPACES).strip()
    if not stripped:
        raise NumberInputError("Enter a value, like 42, 1.5k or 30%.")
    special = _NAN_INF_RE.fullmatch(stripped.lower())
    if special and special["word"] == "nan":
        raise NumberInputError("NaN is not a value you can track. Type a number like 42 or 1.5k.")
    if special:
        raise NumberInputError("Infinity can't be tracked. Type a finite number like 42 or 1.5k.")
    value = _parse(stripped)
    if value is None:
        raise NumberInputError(
            f"“{_shorten(stripped)}” is not a number. Type a value like 42, 1.5k or 30%."
        )
    # Overflow ("1e400") lands here too: to the person it is just too large.
    if math.isnan(value) or abs(value) > max_abs:
        limit = _format_plain(max_abs)
        raise NumberInputError(
            f"“{_shorten(stripped)}” is too large. Use a value between -{limit} and {limit}."
        )
    return value + 0.0  # -0.0 + 0.0 == 0.0: a typed "-0" is stored as plain 0


# The one display rule (every surface goes through format_value / format_pair / format_grade):
# - below 1,000 a number is exact (thousands separators, at most 3 decimals, 3 significant
#   digits below 1); from 1,000 it is scaled to k/M/B/T with at most 2 decimals, so 4,844 and
#   464,600 read alike ("4.84k", "464.6k"). Percentages stay exact ("12,345%").
# - a symbol written against the number ($, €, %) belongs to every number; a unit written after
#   a space ("ms", "GBP", "active users") is said once, after the last number of a pair:
#   "$0.37 → $0.25", "0% / 90%", "250 → 100 ms", "600k / 1M active users".
# - a value not known yet is "—"; grades always have two decimals ("0.50", "1.00").
COMPACT_FROM = 1_000


def format_value(value: float | None, *, unit: UnitKind, unit_label: str | None = None) -> str:
    """Compact display of one value with its unit: "1M active users", "1.23k", "90%", "$1.2M",
    "5k GBP", "100 ms" (see the rule above)."""
    return _shown(value, unit=unit, unit_label=unit_label, spaced=True)


def format_pair(
    first: float | None,
    second: float | None,
    *,
    unit: UnitKind,
    unit_label: str | None = None,
    separator: str = " / ",
) -> str:
    """Two values of one KR ("600k / 1M active users", "$0.37 → $0.25", "250 → 100 ms"):
    symbols on both numbers, a spaced unit once, at the end."""
    left = _shown(first, unit=unit, unit_label=unit_label, spaced=False)
    return f"{left}{separator}{format_value(second, unit=unit, unit_label=unit_label)}"


def format_grade(grade: float | None) -> str:
    """A 0.0–1.0 grade, always two decimals: "0.50", "0.51", "1.00"; "—" when there is none."""
    if grade is None or not math.isfinite(grade):
        return "—"
    return f"{grade:.2f}"


def unit_name(unit: UnitKind, unit_label: str | None) -> str:
    """The unit alone, for a label such as "Now at (ms)": "%", "$", "ms", "active users"."""
    prefix, attached, spaced = _unit_parts(unit, unit_label)
    return (prefix + attached + spaced).strip()


def _unit_parts(unit: UnitKind, unit_label: str | None) -> tuple[str, str, str]:
    """(symbol before the number, symbol after it, unit after a space)."""
    label = (unit_label or "").strip()
    spaced = f" {label}" if label else ""
    if unit is UnitKind.PERCENT:
        return "", "%", spaced
    if unit is UnitKind.CURRENCY and label:
        symbol = _DISPLAY_SYMBOLS.get(label.upper()) or (
            label if label in CURRENCY_SYMBOLS else None
        )
        if symbol:
            return symbol, "", ""
    return "", "", spaced


def _shown(value: float | None, *, unit: UnitKind, unit_label: str | None, spaced: bool) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    prefix, attached, after = _unit_parts(unit, unit_label)
    # Percentages are small: the exact form reads better than "12.35k%".
    number = _format_plain(value) if unit is UnitKind.PERCENT else _format_compact(value)
    sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
    return f"{sign}{prefix}{digits}{attached}{after if spaced else ''}"


def _parse(text: str) -> float | None:
    """Like parse_number, but lets overflow through as ±inf so callers can explain it."""
    if not isinstance(text, str):
        return None
    s = text.translate(_SPACES).strip().lower()
    if not s or len(s) > _MAX_TEXT:
        return None
    affix = _AFFIX_RE.fullmatch(s)
    if affix is None:
        return None
    core = affix["core"]
    if affix["percent"] and (affix["symbol"] or affix["code"]):
        return None  # "$30%" is neither money nor a percentage
    value = _parse_digits(core)
    if value is None:
        value = _parse_words(core)
    if value is None:
        return None
    return -value if affix["sign"] == "-" else value


def _parse_digits(core: str) -> float | None:
    match = _DIGITS_RE.fullmatch(core)
    if match is None:
        return None
    suffix = match["suffix"]
    if suffix is not None and suffix not in SCALE_SUFFIXES:
        return None
    value = float(match["num"].replace(",", "").replace(" ", ""))
    return value * SCALE_SUFFIXES[suffix] if suffix else value


def _parse_words(core: str) -> float | None:
    """English number words: "six", "a hundred", "one million two hundred and five"."""
    words = core.replace("-", " ").split()
    if not words or words[0] == "and" or words[-1] == "and":
        return None
    if words[0] in ("a", "an"):
        # "a hundred", "a million": only before hundred or a scale word
        if len(words) < 2 or (words[1] != "hundred" and words[1] not in _SCALE_WORDS):
            return None
        words[0] = "one"
    words = [w for w in words if w != "and"]
    if words == ["zero"]:
        return 0.0
    if any(w not in NUMBER_WORDS for w in words):
        return None
    total, group, last_scale = 0.0, [], math.inf
    for word in words:
        if word not in _SCALE_WORDS:
            group.append(word)
            continue
        scale = _SCALE_WORDS[word]
        amount = _below_thousand(group)
        # Scales go down ("a million two thousand"); "thousand million" is not accepted.
        if not amount or scale >= last_scale:
            return None
        total, group, last_scale = total + amount * scale, [], scale
    if group:
        amount = _below_thousand(group)
        if not amount:
            return None
        total += amount
    return total


def _below_thousand(words: list[str]) -> int | None:
    """1..999 from words such as ["three", "hundred", "twenty", "five"]; None if malformed."""
    if words.count("hundred") > 1:
        return None
    hundreds = 0
    if "hundred" in words:
        at = words.index("hundred")
        head = words[:at]
        if len(head) != 1 or not 1 <= _UNIT_WORDS.get(head[0], 0) <= 9:
            return None
        hundreds, words = 100 * _UNIT_WORDS[head[0]], words[at + 1 :]
    rest = _below_hundred(words)
    if rest is None:
        return None
    return hundreds + rest or None


def _below_hundred(words: list[str]) -> int | None:
    if not words:
        return 0
    if len(words) == 1:
        value = _UNIT_WORDS.get(words[0], _TENS_WORDS.get(words[0]))
        return value if value else None  # "zero" only stands alone
    if len(words) == 2 and words[0] in _TENS_WORDS and 1 <= _UNIT_WORDS.get(words[1], 0) <= 9:
        return _TENS_WORDS[words[0]] + _UNIT_WORDS[words[1]]
    return None


def _format_compact(value: float) -> str:
    magnitude = abs(value)
    if magnitude < COMPACT_FROM:
        return _format_plain(value)
    scales = [(1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T")]
    index = max(i for i, (scale, _) in enumerate(scales) if magnitude >= scale)
    scaled = round(magnitude / scales[index][0], 2)
    # 999,999 rounds to 1000.00k: show it as 1M instead.
    if scaled >= 1000 and index + 1 < len(scales):
        index += 1
        scaled = round(magnitude / scales[index][0], 2)
    text = _strip_zeros(f"{scaled:,.2f}") + scales[index][1]
    return f"-{text}" if value < 0 else text


def format_input(value: float) -> str:
    """The exact value for an input field: it must read back as the same number.

    Display forms round ("1.23M"); prefilled inputs must not, or saving an untouched
    form would change the stored target.
    """
    text = f"{value:,.15g}"
    return repr(value) if "e" in text else text


def _format_plain(value: float) -> str:
    """Exact with thousands separators: 3 decimals, or 3 significant digits below 1."""
    magnitude = abs(value)
    decimals = 3
    if 0 < magnitude < 1:
        decimals = min(12, 2 - math.floor(math.log10(magnitude)))
    text = _strip_zeros(f"{magnitude:,.{decimals}f}")
    return f"-{text}" if value < 0 and text != "0" else text


def _strip_zeros(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _shorten(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
